//! JWKS, RFC 8414 metadata, health, OpenAPI, signing-key persistence and rotation.

use serde_json::Value;

use crate::helpers::{assert_error, claims_of, spawn_app, spawn_on, ISSUER};

#[actix_web::test]
async fn jwks_publishes_public_okp_keys_only() {
    let app = spawn_app().await;
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "OKP");
    assert_eq!(k["crv"], "Ed25519");
    assert_eq!(k["alg"], "EdDSA");
    assert_eq!(k["use"], "sig");
    assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        k.get("d").is_none(),
        "private key material must never be published"
    );
}

#[actix_web::test]
async fn metadata_follows_rfc8414() {
    let app = spawn_app().await;
    let m: Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(m["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    let scopes = m["scopes_supported"].as_array().unwrap();
    assert_eq!(scopes.len(), 12);
    assert!(
        scopes.contains(&Value::from("webhooks:read"))
            && scopes.contains(&Value::from("webhooks:write"))
    );
    assert!(m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("client_secret_basic")));
}

#[actix_web::test]
async fn health_readiness_and_openapi_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let doc: Value = app.get_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/oauth/token",
        "/oauth/introspect",
        "/oauth/revoke",
        "/admin/applications",
        "/admin/api-keys/{id}",
        "/.well-known/jwks.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let app = spawn_app().await;
    assert_error(
        app.http.get(app.url("/nope")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let resp = app
        .http
        .delete(app.url("/oauth/token"))
        .send()
        .await
        .unwrap();
    assert!(resp.status() == 404 || resp.status() == 405);
    let status = resp.status().as_u16();
    let code = if status == 405 {
        "method_not_allowed"
    } else {
        "not_found"
    };
    assert_error(resp, status, code).await;
}

#[actix_web::test]
async fn signing_keys_survive_a_restart_and_old_tokens_stay_valid() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&client, None).await;
    let jwks_before: Value = app.get_json("/.well-known/jwks.json").await;

    // A second server process on the same database (a restart, or another replica).
    let db = app.db;
    let second = spawn_on(db, |_| {}).await;
    let jwks_after: Value = second.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks_before, jwks_after);
    let answer = second.introspect(&token, &client).await;
    assert_eq!(answer["active"], true);
}

#[actix_web::test]
async fn rotated_signing_key_signs_new_tokens_while_the_old_stays_published() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let old_token = app.token_for(&client, None).await;
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", app.db.url())
        .env(
            "SIGNING_KEY_ENCRYPTION_KEY",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Replicas re-read keys every `key_refresh_secs` (1 s in tests).
    let mut new_kid = old_kid.clone();
    for _ in 0..50 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        let t = app.token_for(&client, None).await;
        new_kid = jsonwebtoken::decode_header(&t).unwrap().kid.unwrap();
        if new_kid != old_kid {
            break;
        }
    }
    assert_ne!(new_kid, old_kid, "the rotated key signs new tokens");
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert_eq!(app.introspect(&old_token, &client).await["active"], true);
    assert_eq!(
        claims_of(&old_token)["client_id"],
        client.client_id.as_str()
    );
}

#[actix_web::test]
async fn metrics_count_requests_tokens_and_failures() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    app.token_for(&client, None).await;
    let _ = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, "cfsec_wrong")),
        )
        .await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("caseforge_auth_tokens_issued_total 1"),
        "{text}"
    );
    assert!(
        text.contains(r#"caseforge_auth_auth_failures_total{reason="invalid_client"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"caseforge_auth_http_requests_total{method="POST",route="/oauth/token",status="200"} 1"#), "{text}");
    assert!(text.contains("caseforge_auth_http_request_duration_seconds_bucket"));
    assert!(text.contains("caseforge_auth_db_pool_connections"));
    assert!(!text.contains(&client.client_secret));
}
