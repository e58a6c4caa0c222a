//! What an attacker found and what now holds: the failure throttle never refuses a correct
//! secret and holds its burst under concurrency, bcrypt rows from before digests are replaced, "revoke all
//! tokens", introspection limited to one's own tokens, tier-bounded issuance, admin-token
//! guessing throttled per source, bounded key expiry, and an empty scope.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_on};

async fn status_with(app: &crate::helpers::TestApp, id: &str, secret: &str) -> u16 {
    app.token_request("grant_type=client_credentials", Some((id, secret)))
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn a_correct_secret_is_never_refused_by_the_failure_throttle() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    // The attacker knows the client id (it shows in case history) and exhausts its budget.
    let mut codes = Vec::new();
    for _ in 0..14 {
        codes.push(status_with(&app, &client.client_id, "cfsec_guess").await);
    }
    assert_eq!(&codes[..10], &[401; 10], "{codes:?}");
    assert!(codes[10..].iter().all(|c| *c == 429), "{codes:?}");
    // The real client has never authenticated here (nothing cached), yet is served.
    assert_eq!(
        status_with(&app, &client.client_id, &client.client_secret).await,
        200
    );
    // The attacker still is not.
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, "cfsec_guess")),
        )
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "rate_limited").await;
}

#[actix_web::test]
async fn forty_concurrent_wrong_secrets_get_exactly_the_burst_of_401s() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let attempts = (0..40).map(|i| {
        let app = &app;
        let id = client.client_id.clone();
        async move { status_with(app, &id, &format!("cfsec_wrong_{i}")).await }
    });
    let codes = futures_util::future::join_all(attempts).await;
    let unauthorized = codes.iter().filter(|c| **c == 401).count();
    let throttled = codes.iter().filter(|c| **c == 429).count();
    assert_eq!((unauthorized, throttled), (10, 30), "{codes:?}");
}

/// A row written before client secrets were stored as digests holds a bcrypt hash: it still
/// authenticates, a wrong secret is still refused, and its first success replaces the hash by
/// the digest, after which the secret keeps working (on every replica: the row is the truth).
#[actix_web::test]
async fn a_bcrypt_secret_from_before_digests_is_replaced_by_the_digest_at_its_first_use() {
    use auth_server::service::secrets;
    use diesel::prelude::*;
    use shared::db::schema::applications;

    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let db = shared::db::Db::connect(app.db.url(), 1).unwrap();
    let stored = || {
        let id = client.client_id.clone();
        db.run_blocking(move |c| {
            applications::table
                .filter(applications::client_id.eq(&id))
                .select(applications::secret_hash)
                .get_result::<String>(c)
        })
        .unwrap()
    };
    assert!(secrets::is_digest(&stored()), "new secrets are digests");
    let bcrypt =
        secrets::hash_secret(&shared::Secret::new(client.client_secret.clone()), 4).unwrap();
    let (id, legacy) = (client.client_id.clone(), bcrypt.clone());
    db.run_blocking(move |c| {
        diesel::update(applications::table.filter(applications::client_id.eq(&id)))
            .set(applications::secret_hash.eq(&legacy))
            .execute(c)
    })
    .unwrap();

    assert_eq!(
        status_with(&app, &client.client_id, "cfsec_wrong").await,
        401
    );
    assert_eq!(stored(), bcrypt, "a failure changes nothing");
    assert_eq!(
        status_with(&app, &client.client_id, &client.client_secret).await,
        200
    );
    let mut now = String::new();
    for _ in 0..50 {
        now = stored();
        if secrets::is_digest(&now) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        now,
        shared::SecretDigest::of_client_secret(&client.client_secret).into_string()
    );
    // The secret works against the digest on another server of the same database, and a wrong
    // one does not.
    let second = spawn_on(app.db, |_| {}).await;
    assert_eq!(
        status_with(&second, &client.client_id, &client.client_secret).await,
        200
    );
    assert_eq!(
        status_with(&second, &client.client_id, "cfsec_wrong").await,
        401
    );
}

/// Guesses at a legacy (bcrypt) client past its failure budget are refused before bcrypt runs,
/// even the right secret (which, while throttled, is not checked at all), so that they cannot
/// queue bcrypt work in front of other clients; `app migrate-secrets` lists such rows.
#[actix_web::test]
async fn a_throttled_legacy_client_is_refused_before_bcrypt_and_reported_by_migrate_secrets() {
    use auth_server::service::secrets;
    use diesel::prelude::*;
    use shared::db::schema::applications;

    let app = spawn_app().await;
    let legacy = app.create_app(&["cases:read"], "sandbox").await;
    let modern = app.create_app(&["cases:read"], "sandbox").await;
    let db = shared::db::Db::connect(app.db.url(), 1).unwrap();
    let bcrypt =
        secrets::hash_secret(&shared::Secret::new(legacy.client_secret.clone()), 4).unwrap();
    let id = legacy.client_id.clone();
    db.run_blocking(move |c| {
        diesel::update(applications::table.filter(applications::client_id.eq(&id)))
            .set(applications::secret_hash.eq(&bcrypt))
            .execute(c)
    })
    .unwrap();
    let report = crate::cli::cli(&app.db, &["app", "migrate-secrets"]);
    assert!(report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["bcrypt_rows"], 1);
    assert_eq!(report["client_ids"], json!([legacy.client_id]));

    for _ in 0..10 {
        assert_eq!(
            status_with(&app, &legacy.client_id, "cfsec_guess").await,
            401
        );
    }
    // Throttled: the right secret is not verified (it was never cached), so it is refused too.
    assert_eq!(
        status_with(&app, &legacy.client_id, &legacy.client_secret).await,
        429
    );
    // Another client is unaffected.
    assert_eq!(
        status_with(&app, &modern.client_id, &modern.client_secret).await,
        200
    );
}

#[actix_web::test]
async fn disabling_then_enabling_does_not_revive_earlier_tokens() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let before = app.token_for(&client, None).await;
    let path = format!("/admin/applications/{}", client.client_id);
    for disabled in [true, false] {
        let resp = app
            .admin_patch(&path, &json!({ "disabled": disabled }))
            .await;
        assert_eq!(resp.status(), 200);
    }
    let after = app.token_for(&client, None).await;
    assert_eq!(app.introspect(&before, &client).await["active"], false);
    assert_eq!(app.introspect(&after, &client).await["active"], true);
}

#[actix_web::test]
async fn revoke_tokens_makes_every_earlier_token_inactive_but_not_later_ones() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let before = app.token_for(&client, None).await;
    let resp = app
        .admin_post(
            &format!("/admin/applications/{}/revoke-tokens", client.client_id),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let after = app.token_for(&client, None).await;
    assert_eq!(app.introspect(&before, &client).await["active"], false);
    assert_eq!(app.introspect(&after, &client).await["active"], true);
    let shown: Value = app
        .admin_get(&format!("/admin/applications/{}", client.client_id))
        .await
        .json()
        .await
        .unwrap();
    assert!(shown["tokens_not_before"].is_string(), "{shown}");
    // Unknown application: 404.
    let resp = app
        .admin_post("/admin/applications/app_unknown/revoke-tokens", &json!({}))
        .await;
    assert_error(resp, 404, "not_found").await;
}

#[actix_web::test]
async fn rotation_with_revoke_tokens_kills_tokens_minted_with_the_leaked_secret() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let leaked = app.token_for(&client, None).await;
    // disable → rotate (revoking tokens) → enable: the leaked token stays dead.
    app.admin_patch(
        &format!("/admin/applications/{}", client.client_id),
        &json!({"disabled": true}),
    )
    .await;
    let rotated: Value = app
        .admin_post(
            &format!("/admin/applications/{}/rotate-secret", client.client_id),
            &json!({"grace_period_seconds": 0, "revoke_tokens": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    app.admin_patch(
        &format!("/admin/applications/{}", client.client_id),
        &json!({"disabled": false}),
    )
    .await;
    let fresh = crate::helpers::Client {
        client_id: client.client_id.clone(),
        client_secret: rotated["client_secret"].as_str().unwrap().to_owned(),
    };
    assert_eq!(app.introspect(&leaked, &fresh).await["active"], false);
    let new_token = app.token_for(&fresh, None).await;
    assert_eq!(app.introspect(&new_token, &fresh).await["active"], true);
}

#[actix_web::test]
async fn a_client_introspects_only_its_own_tokens_unless_granted() {
    let app = spawn_app().await;
    let owner = app.create_app(&["cases:read"], "sandbox").await;
    let nosy = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&owner, None).await;
    assert_eq!(app.introspect(&token, &owner).await["active"], true);
    assert_eq!(
        app.introspect(&token, &nosy).await,
        json!({"active": false})
    );
    // An application granted introspection (a resource server) sees every token.
    let created: Value = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "gateway", "scopes": [], "environment": "sandbox", "introspection": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["introspection"], true);
    let gateway = crate::helpers::Client {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let seen = app.introspect(&token, &gateway).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], owner.client_id.as_str());
}

#[actix_web::test]
async fn introspection_shows_only_the_scopes_the_application_still_has() {
    let app = spawn_app().await;
    let client = app
        .create_app(&["cases:read", "cases:write"], "sandbox")
        .await;
    let token = app.token_for(&client, None).await;
    app.admin_patch(
        &format!("/admin/applications/{}", client.client_id),
        &json!({"scopes": ["cases:read"]}),
    )
    .await;
    assert_eq!(app.introspect(&token, &client).await["scope"], "cases:read");
}

#[actix_web::test]
async fn token_issuance_follows_the_applications_tier() {
    let app = spawn_app().await;
    let created: Value = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "chatty", "scopes": ["cases:read"], "environment": "sandbox", "tier": "basic"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(status_with(&app, id, secret).await);
    }
    // basic: a burst of 10, then one a second.
    assert_eq!(&codes[..10], &[200; 10], "{codes:?}");
    assert_eq!(codes[11], 429, "{codes:?}");
    let resp = app
        .token_request("grant_type=client_credentials", Some((id, secret)))
        .await;
    assert!(resp.headers().contains_key("retry-after"));
}

#[actix_web::test]
async fn an_empty_scope_is_invalid_scope() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let resp = app
        .token_request(
            "grant_type=client_credentials&scope=+",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_error(resp, 400, "invalid_scope").await;
}

#[actix_web::test]
async fn wrong_admin_tokens_are_throttled_per_source_but_the_right_one_still_works() {
    let app = spawn_app().await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let resp = app
            .http
            .get(app.url("/admin/applications"))
            .bearer_auth("not-the-admin-token-but-long-enough-000")
            .send()
            .await
            .unwrap();
        codes.push(resp.status().as_u16());
    }
    assert_eq!(&codes[..10], &[401; 10], "{codes:?}");
    assert!(codes[10..].iter().all(|c| *c == 429), "{codes:?}");
    assert_eq!(app.admin_get("/admin/applications").await.status(), 200);
}

#[actix_web::test]
async fn api_key_expiry_is_bounded_to_ten_years() {
    let app = spawn_app().await;
    let resp = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "forever", "environment": "sandbox", "scopes": ["cases:read"], "expires_at": "9999-12-31T23:59:59Z"}),
        )
        .await;
    let body = assert_error(resp, 422, "validation_failed").await;
    assert!(body.to_string().contains("expires_at"), "{body}");
    let listed: Value = app.admin_get("/admin/api-keys").await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was written");
}

#[actix_web::test]
async fn the_openapi_document_shows_revoke_tokens_and_admin_throttling() {
    let app = spawn_app().await;
    let doc = shared::openapi::inline_components(&app.get_json("/openapi.json").await);
    let revoke = &doc["paths"]["/admin/applications/{client_id}/revoke-tokens"]["post"];
    assert!(revoke["responses"]["204"].is_object(), "{revoke}");
    for (path, method) in [
        ("/admin/applications", "post"),
        ("/admin/api-keys/{id}", "delete"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"]["429"]["headers"]["Retry-After"].is_object(),
            "{path}: {op}"
        );
    }
    let rotate = &doc["components"]["schemas"]["RotateSecret"]["properties"];
    assert!(rotate["revoke_tokens"].is_object(), "{rotate}");
}
