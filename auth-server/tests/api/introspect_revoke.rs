//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

#[actix_web::test]
async fn introspection_reports_claims_of_active_tokens_and_inactive_for_junk() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read", "sar:read"], "live").await;
    let token = app.token_for(&client, Some("sar:read")).await;
    let answer = app.introspect(&token, &client).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "sar:read");
    assert_eq!(answer["client_id"], client.client_id.as_str());
    assert_eq!(answer["env"], "live");
    assert_eq!(answer["token_type"], "Bearer");

    for junk in ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        assert_eq!(
            app.introspect(junk, &client).await,
            json!({"active": false})
        );
    }
}

#[actix_web::test]
async fn introspection_requires_client_authentication() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/oauth/introspect"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=abc")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "invalid_client").await;
    let client = app.create_app(&["cases:read"], "live").await;
    let resp = app.oauth_form("/oauth/introspect", &[], &client).await;
    assert_error(resp, 400, "invalid_request").await;
}

#[actix_web::test]
async fn a_revoked_token_introspects_inactive() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&client, None).await;
    let resp = app
        .oauth_form(
            "/oauth/revoke",
            &[("token", &token), ("token_type_hint", "access_token")],
            &client,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.introspect(&token, &client).await["active"], false);
    // Revoking again, or revoking junk, is still 200 (RFC 7009 §2.2).
    assert_eq!(
        app.oauth_form("/oauth/revoke", &[("token", &token)], &client)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.oauth_form("/oauth/revoke", &[("token", "junk")], &client)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let app = spawn_app().await;
    let owner = app.create_app(&["cases:read"], "sandbox").await;
    let other = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&owner, None).await;
    let resp = app
        .oauth_form("/oauth/revoke", &[("token", &token)], &other)
        .await;
    assert_error(resp, 400, "unauthorized_client").await;
    assert_eq!(app.introspect(&token, &owner).await["active"], true);
}

#[actix_web::test]
async fn tokens_of_a_disabled_application_introspect_inactive() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let observer = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&client, None).await;
    let path = format!("/admin/applications/{}", client.client_id);
    app.admin_patch(&path, &json!({"disabled": true})).await;
    let answer: Value = app.introspect(&token, &observer).await;
    assert_eq!(answer["active"], false);
}
