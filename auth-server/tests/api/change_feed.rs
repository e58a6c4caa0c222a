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
