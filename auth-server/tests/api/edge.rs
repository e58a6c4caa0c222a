//! The HTTP edge: bounded metrics, `METRICS_BIND`, 405 with `Allow`, `HEAD`, CORS, and what
//! the binary reads (`./.env` only) and logs (never the database password).

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    ALLOW, ORIGIN,
};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, test_config, TestApp};

const APP_ORIGIN: &str = "https://app.example.com";

async fn metrics_text(app: &TestApp, base: &str) -> String {
    let resp = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

async fn assert_envelope(resp: reqwest::Response, status: u16, code: &str) {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], code, "{body}");
}

#[actix_web::test]
async fn thousands_of_random_methods_and_paths_leave_metrics_the_same_size() {
    let app = spawn_app().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_metrics_stay_bounded_under_random_requests(
            &addr,
            &["/admin/applications", "/oauth/token", "/"],
        )
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn metrics_bind_serves_metrics_only_on_its_own_port() {
    let app =
        spawn_app_with(|c| c.common.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let metrics_port = app.metrics_port.expect("a metrics port");
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_envelope(resp, 404, "not_found").await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let internal = format!("http://127.0.0.1:{metrics_port}");
    let text = metrics_text(&app, &internal).await;
    assert!(
        text.contains(
            r#"caseforge_auth_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "the metrics server reports the main port's requests: {text}"
    );
    let resp = app
        .http
        .get(format!("{internal}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_envelope(resp, 404, "not_found").await;

    // An address that cannot be had stops the start with one line naming the variable.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = test_config(app.db.url());
    config.common.metrics_bind = Some(taken.local_addr().unwrap());
    match auth_server::Application::build(config).await {
        Ok(_) => panic!("started on a taken METRICS_BIND"),
        Err(e) => assert!(e.starts_with("METRICS_BIND: "), "{e}"),
    }
}

#[actix_web::test]
async fn a_wrong_method_is_405_with_allow_and_head_answers_wherever_get_does() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (Method::GET, "/oauth/token", "POST"),
        (Method::PUT, "/oauth/introspect", "POST"),
        (Method::GET, "/oauth/revoke", "POST"),
        (Method::POST, "/.well-known/jwks.json", "GET, HEAD"),
        (
            Method::DELETE,
            "/.well-known/oauth-authorization-server",
            "GET, HEAD",
        ),
        (Method::PUT, "/admin/applications", "GET, HEAD, POST"),
        (
            Method::POST,
            "/admin/applications/cf_x",
            "GET, HEAD, PATCH, DELETE",
        ),
        (
            Method::GET,
            "/admin/applications/cf_x/rotate-secret",
            "POST",
        ),
        (Method::PATCH, "/admin/api-keys", "GET, HEAD, POST"),
        (Method::PATCH, "/admin/api-keys/key_x", "GET, HEAD, DELETE"),
        (Method::POST, "/healthz", "GET, HEAD"),
        (Method::POST, "/readyz", "GET, HEAD"),
        (Method::DELETE, "/openapi.json", "GET, HEAD"),
        (Method::POST, "/metrics", "GET, HEAD"),
        (Method::OPTIONS, "/oauth/token", "POST"),
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers().get(ALLOW).map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
        assert_envelope(resp, 405, "method_not_allowed").await;
    }
    let resp = app
        .http
        .get(app.url("/oauth/nothing"))
        .send()
        .await
        .unwrap();
    assert_envelope(resp, 404, "not_found").await;

    for path in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/admin/applications",
        "/metrics",
    ] {
        let get = app.admin_get(path).await;
        let head = app
            .http
            .head(app.url(path))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200, "GET {path}");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} body");
    }
}

/// The resource API's `/docs` "Authorize" (client credentials): Swagger UI posts to this token
/// endpoint from the API's origin with `Authorization: Basic`, a form body and
/// `X-Requested-With`. Listed in `CORS_ALLOWED_ORIGINS`, that origin gets its preflight answered
/// and can read the token.
#[actix_web::test]
async fn the_token_endpoint_answers_swagger_uis_preflight_and_token_request_from_an_allowed_origin()
{
    const API_ORIGIN: &str = "http://127.0.0.1:9080";
    let app = spawn_app_with(|c| c.common.cors_allowed_origins = vec![API_ORIGIN.to_owned()]).await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/oauth/token"))
        .header(ORIGIN, API_ORIGIN)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,x-requested-with",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], API_ORIGIN);
    let allowed = preflight.headers()[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-requested-with"), "{allowed}");

    // What Swagger UI then sends: an empty `scope` when no box is ticked.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header(ORIGIN, API_ORIGIN)
        .header("x-requested-with", "XMLHttpRequest")
        .header("accept", "application/json, text/plain, */*")
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], API_ORIGIN);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "cases:read");
}

#[actix_web::test]
async fn cors_answers_allowed_origins_only_and_preflights_without_credentials() {
    let app = spawn_app_with(|c| c.common.cors_allowed_origins = vec![APP_ORIGIN.to_owned()]).await;
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/oauth/token"))
        .header(ORIGIN, APP_ORIGIN)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);
    assert!(h.get(ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    let allowed = h[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));

    // A failed token request from the page: readable, WWW-Authenticate included.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .header(ORIGIN, APP_ORIGIN)
        .basic_auth("cf_nobody", Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);
    assert!(resp
        .headers()
        .get(ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_none());
    let exposed = resp.headers()[ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");

    for other in ["https://evil.example.com", "http://app.example.com"] {
        let resp = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .header(ORIGIN, other)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let preflight = app
            .http
            .request(Method::OPTIONS, app.url("/oauth/token"))
            .header(ORIGIN, other)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .unwrap();
        assert!(preflight
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
    }

    // The default (no origins): no CORS for anyone.
    let plain = spawn_app().await;
    let preflight = plain
        .http
        .request(Method::OPTIONS, plain.url("/oauth/token"))
        .header(ORIGIN, APP_ORIGIN)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
}

#[test]
fn dotenv_is_read_from_the_working_directory_only_never_a_parent() {
    shared::testing::assert_dotenv_is_read_from_the_working_directory_only(
        env!("CARGO_BIN_EXE_auth-server"),
        &["migrate"],
        "AUTH_BIND",
    );
}

#[test]
fn no_part_of_the_database_password_reaches_the_log() {
    shared::testing::assert_no_database_password_in_the_log(
        env!("CARGO_BIN_EXE_auth-server"),
        &["serve"],
        "AUTH_BIND",
        // With its KEK the server gets as far as the database.
        &[(
            "SIGNING_KEY_ENCRYPTION_KEY",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        )],
    );
}
