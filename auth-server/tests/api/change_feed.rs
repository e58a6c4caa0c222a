//! The credential change feed on the auth server: every credential write records a change
//! (numbered by the database), and a signing key rotated elsewhere (another replica, the CLI)
//! is loaded at once on PostgreSQL — pushed by NOTIFY, with the periodic refresh set to an hour.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::db::Db;

use crate::helpers::{spawn_app_with, test_kek};

#[actix_web::test]
async fn a_signing_key_rotated_elsewhere_is_used_at_once() {
    let app = spawn_app_with(|c| {
        if c.database_url.starts_with("postgres") {
            c.key_refresh_secs = 3600;
        }
    })
    .await;
    let pg = app.db.url().starts_with("postgres");
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let before = app.token_for(&client, None).await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    // Rotated by "another replica": straight through the service layer on its own pool.
    let db = Db::connect(app.db.url(), 1).unwrap();
    let new_kid = auth_server::service::signing::rotate(
        &db,
        &auth_server::service::audit::AuditContext::system(&crate::helpers::audit_key()),
        &test_kek(),
        shared::time::now_micros(),
    )
    .unwrap();
    assert_ne!(new_kid, old_kid);
    let limit = if pg {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(4)
    };
    let start = Instant::now();
    loop {
        let token = app.token_for(&client, None).await;
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        let jwks: Value = app.get_json("/.well-known/jwks.json").await;
        let published = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == json!(new_kid));
        if kid == new_kid && published {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "the rotated key is not used after {limit:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn every_credential_write_records_a_numbered_change() {
    let app = spawn_app_with(|_| {}).await;
    let db = Db::connect(app.db.url(), 1).unwrap();
    let latest = || db.run_blocking(shared::changes::latest).unwrap();
    let mut last = latest();
    let expect_change = |what: &str, last: &mut i64| {
        let now = latest();
        assert!(now > *last, "{what} recorded no change");
        *last = now;
    };
    let client = app.create_app(&["cases:read"], "sandbox").await;
    expect_change("application created", &mut last);
    let path = format!("/admin/applications/{}", client.client_id);
    app.admin_patch(&path, &json!({"tier": "basic"})).await;
    expect_change("tier changed", &mut last);
    app.admin_post(&format!("{path}/revoke-tokens"), &json!({}))
        .await;
    expect_change("tokens_not_before", &mut last);
    let token = app.token_for(&client, None).await;
    let resp = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expect_change("token revoked", &mut last);
    let key: Value = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "k", "environment": "sandbox", "scopes": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    expect_change("API key created", &mut last);
    app.admin_delete(&format!("/admin/api-keys/{}", key["id"].as_str().unwrap()))
        .await;
    expect_change("API key revoked", &mut last);
    app.admin_delete(&path).await;
    expect_change("application deleted", &mut last);
    // Ids are dense: every change is one more than the one before.
    let changes = db
        .run_blocking(|c| shared::changes::since(c, 0, 1000))
        .unwrap();
    assert!(changes.windows(2).all(|w| w[1].id == w[0].id + 1));
}

/// The purge of expired revocations and old change-feed entries is its own job: a signing-key
/// refresh that keeps failing (here a key the KEK cannot open) does not stop it.
#[actix_web::test]
async fn expired_revocations_and_old_changes_are_purged_while_the_key_refresh_fails() {
    use auth_server::db::revoked_tokens::RevokedTokenRow;
    use auth_server::db::signing_keys::SigningKeyRow;
    use diesel::prelude::*;
    use shared::db::schema::{credential_changes, revoked_tokens};

    let app = spawn_app_with(|_| {}).await;
    let db = Db::connect(app.db.url(), 1).unwrap();
    let now = shared::time::now_micros();
    // The newest active key, sealed with nothing this server can open: every refresh fails.
    let broken = SigningKeyRow {
        kid: "broken-key".to_owned(),
        algorithm: "EdDSA".to_owned(),
        private_key: "not-sealed".to_owned(),
        public_key: "not-a-key".to_owned(),
        created_at: now + 1,
        retired_at: None,
        revoked_at: None,
    };
    db.run_blocking(move |c| SigningKeyRow::insert(c, &broken))
        .unwrap();
    let expired = RevokedTokenRow {
        jti: "expired-jti".to_owned(),
        client_id: "cf_test".to_owned(),
        expires_at: now - 1_000_000,
        revoked_at: now - 2_000_000,
    };
    db.run_blocking(move |c| RevokedTokenRow::insert_if_absent(c, &expired))
        .unwrap();
    // A change recorded two hours ago, with a newer one after it (the newest is always kept).
    db.run_blocking(move |c| {
        let latest = shared::changes::latest(c)?;
        diesel::insert_into(credential_changes::table)
            .values((
                credential_changes::id.eq(latest + 1),
                credential_changes::kind.eq("application"),
                credential_changes::subject.eq("cf_old"),
                credential_changes::at.eq(now - 7_200_000_000),
            ))
            .execute(c)?;
        diesel::insert_into(credential_changes::table)
            .values((
                credential_changes::id.eq(latest + 2),
                credential_changes::kind.eq("application"),
                credential_changes::subject.eq("cf_new"),
                credential_changes::at.eq(now),
            ))
            .execute(c)
    })
    .unwrap();

    let start = Instant::now();
    loop {
        let (revocations, old_changes) = db
            .run_blocking(|c| {
                let revocations = revoked_tokens::table
                    .filter(revoked_tokens::jti.eq("expired-jti"))
                    .count()
                    .get_result::<i64>(c)?;
                let old = credential_changes::table
                    .filter(credential_changes::subject.eq("cf_old"))
                    .count()
                    .get_result::<i64>(c)?;
                Ok((revocations, old))
            })
            .unwrap();
        if revocations == 0 && old_changes == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "not purged after 6 s (revocation left: {revocations}, old change left: {old_changes})"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // The refresh did fail all along: the broken key was never loaded.
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kid"] != json!("broken-key")));
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&client, None).await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert_ne!(kid, "broken-key");
}
