//! The served OpenAPI document against the server itself: what the admin and OAuth operations
//! answer, `servers`, the lists' shape, `/docs`, and the RFC 8414 metadata's documentation link.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, ISSUER};

/// Every operation under `prefix`: (method, path, operation).
fn operations(doc: &Value, prefix: &str) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with(prefix) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            if ["get", "head", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let method = method.to_uppercase().parse::<Method>().unwrap();
                out.push((method, path.clone(), op.clone()));
            }
        }
    }
    out
}

fn has_header(response: &Value, name: &str) -> bool {
    response["headers"].get(name).is_some()
}

/// Every admin operation documents the admin token's 401 (with `WWW-Authenticate`) and 429
/// (with `Retry-After`), and answers 401 without the token.
#[actix_web::test]
async fn every_admin_operation_documents_and_answers_401_without_the_token() {
    let app = spawn_app().await;
    let doc = shared::openapi::inline_components(&app.get_json("/openapi.json").await);
    let admin = operations(&doc, "/admin/");
    assert!(admin.len() >= 12, "{} admin operations", admin.len());
    for (method, path, op) in admin {
        let what = format!("{method} {path}");
        let responses = &op["responses"];
        assert!(has_header(&responses["401"], "WWW-Authenticate"), "{what}");
        assert!(has_header(&responses["429"], "Retry-After"), "{what}");
        assert!(responses.get("503").is_some(), "{what}");
        if op.get("requestBody").is_some() {
            for code in ["400", "413", "415", "422"] {
                assert!(responses.get(code).is_some(), "{what}: {code}");
            }
        }
        if path.contains('{') {
            assert!(responses.get("404").is_some(), "{what}: 404");
        }
        let url = app.url(
            &path
                .replace("{client_id}", "app_x")
                .replace("{id}", "key_x"),
        );
        let resp = app.http.request(method.clone(), url).send().await.unwrap();
        // Past ten wrong tokens from one address, the throttle answers instead.
        match resp.status().as_u16() {
            401 => assert!(resp.headers().contains_key("www-authenticate"), "{what}"),
            429 => assert!(resp.headers().contains_key("retry-after"), "{what}"),
            other => panic!("{what}: {other}"),
        }
    }
}

/// `/oauth/*` documents the client-authentication answers, and a client without credentials
/// gets one of them.
#[actix_web::test]
async fn every_oauth_operation_documents_client_authentication_failures() {
    let app = spawn_app().await;
    let doc = shared::openapi::inline_components(&app.get_json("/openapi.json").await);
    let oauth = operations(&doc, "/oauth/");
    assert_eq!(oauth.len(), 3);
    for (method, path, op) in oauth {
        let responses = &op["responses"];
        for code in ["400", "401", "413", "429", "503"] {
            assert!(responses.get(code).is_some(), "{method} {path}: {code}");
        }
        assert!(has_header(&responses["429"], "Retry-After"), "{path}");
        assert!(has_header(&responses["401"], "WWW-Authenticate"), "{path}");
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&token=x")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16().to_string();
        assert!(
            responses.get(&status).is_some(),
            "{method} {path}: {status} is documented"
        );
    }
}

#[actix_web::test]
async fn servers_is_the_issuer_and_admin_lists_are_documented_as_answered() {
    let app = spawn_app().await;
    let doc = shared::openapi::inline_components(&app.get_json("/openapi.json").await);
    assert_eq!(doc["servers"][0]["url"], ISSUER);
    let list = &doc["paths"]["/admin/api-keys"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let list = if let Some(r) = list["$ref"].as_str() {
        &doc["components"]["schemas"][r.rsplit('/').next().unwrap()]
    } else {
        list
    };
    assert_eq!(list["properties"]["data"]["type"], "array", "{list}");
    let listed: Value = app
        .http
        .get(app.url("/admin/api-keys"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["data"].is_array(), "{listed}");
}

/// RFC 8414 §2: `response_types_supported` is required and non-empty; a server without an
/// authorization endpoint publishes `none` only. `service_documentation` is the `/docs` page.
#[actix_web::test]
async fn metadata_publishes_response_type_none_and_links_the_docs() {
    let app = spawn_app().await;
    let m: Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(m["response_types_supported"], serde_json::json!(["none"]));
    assert!(m.get("authorization_endpoint").is_none());
    assert_eq!(m["service_documentation"], format!("{ISSUER}/docs"));
    let docs = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
}

#[actix_web::test]
async fn docs_are_served_from_the_binary_with_a_self_only_csp() {
    let app = spawn_app().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_docs_are_self_contained(&addr)
    })
    .await
    .unwrap();
}

/// The document as `auth-server openapi` prints it (no server needed).
fn built() -> Value {
    auth_server::openapi::document(shared::config::DEFAULT_ISSUER)
}

/// The SDK generators read `sdks/openapi/auth-server.json`: it must be what the code builds.
#[test]
fn the_committed_document_is_what_the_code_builds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sdks/openapi/auth-server.json"
    );
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        committed == built(),
        "{path} is stale; refresh it with: scripts/lint-openapi.sh (then commit sdks/openapi/)"
    );
}

/// operationIds, public routes with `security: []`, typed answers of introspection, JWKS and
/// metadata, and the shared `Environment`, `Tier` and `Scope` components in the bodies.
#[test]
fn operation_ids_public_routes_and_shared_components() {
    let doc = built();
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(item.get("head").is_none(), "HEAD {path} is listed");
        for (method, op) in item.as_object().unwrap() {
            ids.push(op["operationId"].as_str().unwrap().to_owned());
            let public = !path.starts_with("/admin/") && !path.starts_with("/oauth/");
            if public {
                assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
            }
        }
    }
    ids.sort();
    let mut expected = vec![
        "healthz_retrieve",
        "readyz_retrieve",
        "oauth_token",
        "oauth_introspect",
        "oauth_revoke",
        "jwks_retrieve",
        "metadata_retrieve",
        "admin_applications_create",
        "admin_applications_list",
        "admin_applications_retrieve",
        "admin_applications_update",
        "admin_applications_rotate_secret",
        "admin_applications_revoke_tokens",
        "admin_applications_delete",
        "admin_api_keys_create",
        "admin_api_keys_list",
        "admin_api_keys_retrieve",
        "admin_api_keys_revoke",
        "admin_audit_events_list",
        "admin_audit_events_export",
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let schema_of = |path: &str, method: &str| {
        doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .clone()
    };
    assert_eq!(
        schema_of("/oauth/introspect", "post"),
        "#/components/schemas/IntrospectionResponse"
    );
    assert_eq!(
        schema_of("/.well-known/jwks.json", "get"),
        "#/components/schemas/JwkSet"
    );
    assert_eq!(
        schema_of("/.well-known/oauth-authorization-server", "get"),
        "#/components/schemas/Metadata"
    );
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let body = &doc["paths"][path]["post"]["requestBody"]["content"]
            ["application/x-www-form-urlencoded"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/TokenHintRequest", "{path}");
    }
    let schemas = &doc["components"]["schemas"];
    let text = |v: &Value| v.to_string();
    for (schema, field, component) in [
        ("CreateApplication", "environment", "Environment"),
        ("CreateApplication", "tier", "Tier"),
        ("CreateApplication", "scopes", "Scope"),
        ("PatchApplication", "tier", "Tier"),
        ("PatchApplication", "scopes", "Scope"),
        ("CreateApiKey", "environment", "Environment"),
        ("CreateApiKey", "tier", "Tier"),
        ("CreateApiKey", "scopes", "Scope"),
        ("Application", "scopes", "Scope"),
        ("ApiKey", "scopes", "Scope"),
        ("IntrospectionResponse", "env", "Environment"),
        ("Metadata", "scopes_supported", "Scope"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert!(
            text(property).contains(&format!("#/components/schemas/{component}")),
            "{schema}.{field}: {property}"
        );
    }
    assert_eq!(
        schemas["Scope"]["enum"].as_array().unwrap().len(),
        shared::Scope::ALL.len()
    );
    assert_eq!(
        schemas["List_Application"]["properties"]["data"]["items"]["$ref"],
        "#/components/schemas/Application"
    );
    assert_eq!(
        schemas["ApiKey"]["properties"]["created_at"]["format"],
        "date-time"
    );
}
