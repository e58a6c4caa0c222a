//! The admin API: authentication, applications, API keys, and bad input.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[actix_web::test]
async fn without_admin_token_configured_every_admin_call_is_401() {
    let app = spawn_app_with(|c| c.admin_token = None).await;
    for path in ["/admin/applications", "/admin/api-keys"] {
        let resp = app
            .http
            .get(app.url(path))
            .bearer_auth("anything")
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "unauthorized").await;
    }
    let resp = app
        .http
        .post(app.url("/admin/applications"))
        .json(&json!({"name": "x", "scopes": []}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
}

#[actix_web::test]
async fn every_admin_answer_says_no_store_reads_and_errors_alike() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let key: Value = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "k", "environment": "sandbox", "scopes": ["cases:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let paths = [
        "/admin/applications".to_owned(),
        format!("/admin/applications/{}", client.client_id),
        "/admin/api-keys".to_owned(),
        format!("/admin/api-keys/{}", key["id"].as_str().unwrap()),
        "/admin/audit-events".to_owned(),
        "/admin/audit-events/export".to_owned(),
        "/admin/applications/app_missing".to_owned(),
    ];
    for path in &paths {
        let resp = app.admin_get(path).await;
        assert_eq!(
            resp.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}: {}",
            resp.status()
        );
    }
    // Without the admin token too (the 401).
    let resp = app
        .http
        .get(app.url("/admin/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    // Public documents stay cacheable.
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        resp.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
}

#[actix_web::test]
async fn a_wrong_admin_token_is_401_and_changes_nothing() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(app.url("/admin/applications"))
        .bearer_auth("wrong")
        .json(&json!({"name": "x", "scopes": ["cases:read"]}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "unauthorized").await;
    let list: Value = app
        .admin_get("/admin/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn applications_are_created_shown_and_never_leak_secrets() {
    let app = spawn_app().await;
    let resp = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "Alert sync", "description": "pulls alerts", "scopes": ["alerts:read"], "environment": "sandbox", "tier": "professional"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(id.starts_with("app_"));
    assert!(secret.starts_with("cfsec_"));
    assert_eq!(created["grant_types"], json!(["client_credentials"]));
    assert_eq!(created["tier"], "professional");
    assert_eq!(created["environment"], "sandbox");
    assert_eq!(created["disabled"], false);

    let one = app
        .admin_get(&format!("/admin/applications/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let all = app
        .admin_get("/admin/applications")
        .await
        .text()
        .await
        .unwrap();
    for text in [&one, &all] {
        assert!(!text.contains(secret), "secret leaked");
        // `client_secret_basic` is the RFC 7591 name of the method, not a secret.
        let without_method = text.replace("\"client_secret_basic\"", "");
        assert!(
            !without_method.contains("secret"),
            "a secret field leaked: {text}"
        );
        assert!(!text.contains("$2"), "a bcrypt hash leaked");
        assert!(!text.contains("sha256:"), "a secret digest leaked");
    }
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["name"], "Alert sync");
    assert_eq!(one["scopes"], json!(["alerts:read"]));
}

#[actix_web::test]
async fn application_defaults_patch_and_delete() {
    let app = spawn_app().await;
    let created: Value = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "a", "scopes": ["cases:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    // One default for every way of creating a credential: sandbox.
    assert_eq!(created["environment"], "sandbox");
    assert_eq!(created["tier"], "standard");
    let path = format!(
        "/admin/applications/{}",
        created["client_id"].as_str().unwrap()
    );
    let patched: Value = app
        .admin_patch(
            &path,
            &json!({"name": "b", "scopes": ["cases:read", "sar:write"], "tier": "basic"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "b");
    assert_eq!(patched["tier"], "basic");
    assert_eq!(patched["scopes"], json!(["cases:read", "sar:write"]));

    assert_error(
        app.admin_patch(&path, &json!({"tier": "gold"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.admin_patch(&path, &json!({"client_id": "x"})).await,
        422,
        "validation_failed",
    )
    .await;

    assert_eq!(app.admin_delete(&path).await.status(), 204);
    assert_error(app.admin_get(&path).await, 404, "not_found").await;
    assert_error(app.admin_delete(&path).await, 404, "not_found").await;
}

#[actix_web::test]
async fn bad_application_input_gets_precise_4xx_and_writes_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"name": "", "scopes": ["cases:read"]}), "name"),
        (
            json!({"name": "evil\u{202e}name", "scopes": ["cases:read"]}),
            "name",
        ),
        (json!({"name": "x", "scopes": ["cases:destroy"]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["cases:read"], "environment": "production"}),
            "environment",
        ),
        (
            json!({"name": "x", "scopes": ["cases:read"], "tier": "platinum"}),
            "tier",
        ),
    ];
    for (body, field) in cases {
        let err = assert_error(
            app.admin_post("/admin/applications", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    // Wrong types and unknown fields.
    for body in [
        json!({"name": 5, "scopes": []}),
        json!({"name": "x", "scopes": "cases:read"}),
        json!({"name": "x", "scopes": [], "secret": "mine"}),
    ] {
        assert_error(
            app.admin_post("/admin/applications", &body).await,
            422,
            "validation_failed",
        )
        .await;
    }
    // Malformed JSON, wrong content type, oversized body.
    let raw = |body: String, ct: &'static str| {
        app.http
            .post(app.url("/admin/applications"))
            .bearer_auth(&app.admin_token)
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    assert_error(
        raw("{\"name\": ".into(), "application/json").await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    assert_error(
        raw("name=x".into(), "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        "{{\"name\": \"{}\", \"scopes\": []}}",
        "a".repeat(70 * 1024)
    );
    assert_error(
        raw(huge, "application/json").await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;

    let list: Value = app
        .admin_get("/admin/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]), "nothing was written");
}

#[actix_web::test]
async fn api_keys_are_created_listed_newest_first_and_revoked() {
    let app = spawn_app().await;
    let resp = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "CI", "environment": "sandbox", "scopes": ["cases:read"], "tier": "basic", "expires_at": "2033-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let key = first["key"].as_str().unwrap();
    assert!(key.starts_with("cf_sand_"));
    assert!(shared::ApiKey::parse(key).is_ok());
    let masked = first["masked_token"].as_str().unwrap();
    assert!(masked.starts_with("cf_sand_********"));
    assert!(masked.ends_with(&key[key.len() - 4..]));
    assert_eq!(first["expires_at"], "2033-01-01T00:00:00Z");
    assert_eq!(first["tier"], "basic");
    assert!(first["last_used_at"].is_null());
    assert!(first["revoked_at"].is_null());

    let second: Value = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "script", "environment": "live", "scopes": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(second["key"].as_str().unwrap().starts_with("cf_live_"));
    assert_eq!(second["tier"], "standard");

    let list_text = app.admin_get("/admin/api-keys").await.text().await.unwrap();
    assert!(!list_text.contains(key), "plaintext key leaked");
    assert!(
        !list_text.contains(shared::SecretDigest::of(key).as_str()),
        "digest leaked"
    );
    let list: Value = serde_json::from_str(&list_text).unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );

    let path = format!("/admin/api-keys/{}", first["id"].as_str().unwrap());
    assert_eq!(app.admin_delete(&path).await.status(), 204);
    let shown: Value = app.admin_get(&path).await.json().await.unwrap();
    assert!(shown["revoked_at"].as_str().is_some());
    assert!(shown.get("key").is_none());
    assert_error(
        app.admin_delete("/admin/api-keys/key_doesnotexist").await,
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn bad_api_key_input_and_hostile_paths() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "", "environment": "sandbox", "scopes": []}),
            "name",
        ),
        (
            json!({"name": "x", "environment": "staging", "scopes": []}),
            "environment",
        ),
        (
            json!({"name": "x", "environment": "sandbox", "scopes": ["nope"]}),
            "scopes",
        ),
        (
            json!({"name": "x", "environment": "sandbox", "scopes": [], "tier": "free"}),
            "tier",
        ),
        (
            json!({"name": "x", "environment": "sandbox", "scopes": [], "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"name": "x", "environment": "sandbox", "scopes": [], "expires_at": "soon"}),
            "expires_at",
        ),
    ];
    for (body, field) in cases {
        let err = assert_error(
            app.admin_post("/admin/api-keys", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    assert_error(
        app.admin_post("/admin/api-keys", &json!({"name": "x", "scopes": []}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    for hostile in [
        "..%2F..%2Fetc%2Fpasswd",
        "key_%27%3B%20DROP%20TABLE%20api_keys",
        "%00",
        &"k".repeat(5000),
    ] {
        assert_error(
            app.admin_get(&format!("/admin/api-keys/{hostile}")).await,
            404,
            "not_found",
        )
        .await;
        assert_error(
            app.admin_get(&format!("/admin/applications/{hostile}"))
                .await,
            404,
            "not_found",
        )
        .await;
    }
    let list: Value = app.admin_get("/admin/api-keys").await.json().await.unwrap();
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn an_application_without_a_scope_is_refused_with_422_and_nothing_is_written() {
    let app = spawn_app().await;
    for body in [
        json!({"name": "empty", "scopes": []}),
        json!({"name": "empty", "scopes": [], "environment": "sandbox"}),
    ] {
        let err = assert_error(
            app.admin_post("/admin/applications", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(err["details"]["field"], "scopes", "{body}");
    }
    let listed: Value = app
        .admin_get("/admin/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]), "nothing was created");

    // Emptying the scopes of an existing application is refused the same way, and changes
    // nothing (the name in the same request included).
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let path = format!("/admin/applications/{}", client.client_id);
    let err = assert_error(
        app.admin_patch(&path, &json!({"name": "renamed", "scopes": []}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(err["details"]["field"], "scopes");
    let shown: Value = app.admin_get(&path).await.json().await.unwrap();
    assert_eq!(shown["scopes"], json!(["cases:read"]));
    assert_ne!(shown["name"], "renamed");
}
