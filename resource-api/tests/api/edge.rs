//! The HTTP edge: bounded metrics, `METRICS_BIND`, 405 with `Allow`, `HEAD`, `Cache-Control`
//! on `/v2`, CORS, and what the binary reads (`./.env` only) and logs (never the database
//! password).

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CACHE_CONTROL, ORIGIN, WWW_AUTHENTICATE,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

const ALL_SCOPES: [&str; 10] = [
    "cases:read",
    "cases:write",
    "sar:read",
    "sar:write",
    "watchlist:read",
    "watchlist:write",
    "subjects:read",
    "subjects:write",
    "transactions:read",
    "alerts:read",
];

const APP_ORIGIN: &str = "https://app.example.com";

async fn metrics_text(s: &TestStack, base: &str) -> String {
    let resp = s.http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

#[actix_web::test]
async fn thousands_of_random_methods_and_paths_leave_metrics_the_same_size() {
    let s = TestStack::start().await;
    let addr = s.api.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_metrics_stay_bounded_under_random_requests(
            &addr,
            &["/v2/cases", "/healthz", "/"],
        )
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn metrics_bind_serves_metrics_only_on_its_own_port() {
    let s = TestStack::start().await;
    let (api, metrics_port) = s
        .another_api_with(|c| c.common.metrics_bind = Some("127.0.0.1:0".parse().unwrap()))
        .await;
    let metrics_port = metrics_port.expect("a metrics port");
    let resp = s.http.get(format!("{api}/metrics")).send().await.unwrap();
    assert_error(resp, 404, "not_found").await;
    assert_eq!(
        s.http
            .get(format!("{api}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let internal = format!("http://127.0.0.1:{metrics_port}");
    let text = metrics_text(&s, &internal).await;
    assert!(
        text.contains(
            r#"caseforge_api_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "the metrics server reports the main port's requests: {text}"
    );
    let resp = s
        .http
        .get(format!("{internal}/healthz"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "not_found").await;

    // Unset (the default): on the main port, as before.
    assert!(metrics_text(&s, &s.api)
        .await
        .contains("caseforge_api_db_pool_connections"));
}

#[actix_web::test]
async fn metrics_on_the_main_port_answer_only_clients_on_this_host() {
    let s = TestStack::start().await;
    let (api, _) = s
        .another_api_with(|c| {
            c.common.trusted_proxies =
                shared::client_addr::TrustedProxies::parse("127.0.0.1/32").unwrap()
        })
        .await;
    // Through the balancer, from a client elsewhere: as if there were no such path.
    let resp = s
        .http
        .get(format!("{api}/metrics"))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "not_found").await;
    // From this host (a local scraper or an operator's curl): served.
    let resp = s.http.get(format!("{api}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("caseforge_build_info"));
}

#[actix_web::test]
async fn a_wrong_method_is_405_with_allow_and_head_answers_wherever_get_does() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&ALL_SCOPES, "sandbox", "unlimited").await;
    for (method, path, allow) in [
        (Method::PUT, "/v2/cases", "GET, HEAD, POST"),
        (Method::DELETE, "/v2/cases/case_x", "GET, HEAD, PATCH"),
        (Method::GET, "/v2/cases/case_x/close", "POST"),
        (Method::PATCH, "/v2/cases/case_x/history", "GET, HEAD"),
        (Method::GET, "/v2/watchlist/screen", "POST"),
        (
            Method::PUT,
            "/v2/watchlist/wl_x",
            "GET, HEAD, PATCH, DELETE",
        ),
        (Method::POST, "/v2/me", "GET, HEAD"),
        (Method::GET, "/v2/api_keys/validate", "POST"),
        (Method::DELETE, "/v2/transactions", "GET, HEAD"),
        (Method::OPTIONS, "/v2/alerts", "GET, HEAD"),
        (Method::POST, "/healthz", "GET, HEAD"),
        (Method::DELETE, "/metrics", "GET, HEAD"),
        (Method::PUT, "/openapi.json", "GET, HEAD"),
    ] {
        let resp = s
            .http
            .request(method.clone(), format!("{}{path}", s.api))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers().get(ALLOW).map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
        assert_error(resp, 405, "method_not_allowed").await;
    }
    // The OpenAPI document says so.
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // One shared 405 answer, and HEAD said in the GET's description (no twin operation).
    assert_eq!(
        doc["paths"]["/v2/cases"]["post"]["responses"]["405"]["$ref"],
        "#/components/responses/MethodNotAllowed"
    );
    let doc = shared::openapi::inline_components(&doc);
    let cases = &doc["paths"]["/v2/cases"];
    assert!(cases["post"]["responses"]["405"]["headers"]["Allow"].is_object());
    assert!(cases.get("head").is_none(), "{cases}");
    assert!(cases["get"]["description"]
        .as_str()
        .unwrap()
        .contains("`HEAD`"));
    assert!(cases["get"]["responses"]["200"]["headers"]["Cache-Control"].is_object());
    assert!(cases["get"]["responses"]["401"]["headers"]["Cache-Control"].is_object());

    // A path that does not exist is still 404, whatever the method.
    let resp = s.call(Method::PUT, "/v2/nothing", &key, None).await;
    assert_error(resp, 404, "not_found").await;

    let created: Value = s
        .post("/v2/cases", &key, json!({"title": "head me"}))
        .await
        .json()
        .await
        .unwrap();
    let case_path = format!("/v2/cases/{}", created["id"].as_str().unwrap());
    for path in [
        "/healthz",
        "/openapi.json",
        "/metrics",
        "/v2/me",
        "/v2/cases",
        case_path.as_str(),
    ] {
        let get = s.get(path, &key).await;
        let head = s.call(Method::HEAD, path, &key, None).await;
        assert_eq!(get.status(), 200, "GET {path}");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("etag"),
            get.headers().get("etag"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} body");
    }
}

#[actix_web::test]
async fn every_v2_response_is_no_store_errors_included() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "basic").await;
    let mut statuses = Vec::new();
    let mut check = |resp: &reqwest::Response| {
        assert_eq!(
            resp.headers()
                .get(CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{} {}",
            resp.status(),
            resp.url()
        );
        statuses.push(resp.status().as_u16());
    };
    check(&s.get("/v2/me", &key).await);
    check(&s.get("/v2/cases", &key).await);
    check(&s.get("/v2/cases/case_nothere", &key).await);
    check(&s.get("/v2/nothing", &key).await);
    check(&s.call(Method::PUT, "/v2/cases", &key, None).await);
    // Two different credentials at once: 400.
    check(
        &s.http
            .get(format!("{}/v2/me", s.api))
            .bearer_auth(&key)
            .header("x-api-key", "cfk_test_another")
            .send()
            .await
            .unwrap(),
    );
    check(&s.get("/v2/sars", &key).await);
    check(&s.http.get(format!("{}/v2/me", s.api)).send().await.unwrap());
    check(&s.get("/v2/me", "cfk_not_a_key").await);
    // The basic tier's burst is 10: keep going until 429.
    for _ in 0..20 {
        let resp = s.get("/v2/me", &key).await;
        let limited = resp.status() == 429;
        check(&resp);
        if limited {
            break;
        }
    }
    for status in [200, 400, 401, 403, 404, 405, 429] {
        assert!(statuses.contains(&status), "{status} in {statuses:?}");
    }
    // Outside /v2 nothing changes.
    let health = s
        .http
        .get(format!("{}/healthz", s.api))
        .send()
        .await
        .unwrap();
    assert_ne!(
        health
            .headers()
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
}

#[actix_web::test]
async fn cors_answers_allowed_origins_only_and_preflights_without_credentials() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "basic").await;
    let (api, _) = s
        .another_api_with(|c| c.common.cors_allowed_origins = vec![APP_ORIGIN.to_owned()])
        .await;

    // A preflight needs no credentials: it never reaches the /v2 authentication.
    let preflight = s
        .http
        .request(Method::OPTIONS, format!("{api}/v2/cases"))
        .header(ORIGIN, APP_ORIGIN)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, idempotency-key, if-match, x-api-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);
    assert_eq!(h[CACHE_CONTROL], "no-store");
    assert!(h.get(WWW_AUTHENTICATE).is_none());
    assert!(h.get(ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    let methods = h[ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = h[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in shared::cors::ALLOWED_HEADERS {
        assert!(allowed.contains(name), "{allowed}");
    }

    // An actual request from the allowed origin: its headers are readable by the page.
    let resp = s
        .http
        .get(format!("{api}/v2/me"))
        .bearer_auth(&key)
        .header(ORIGIN, APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);
    assert!(resp
        .headers()
        .get(ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_none());
    let exposed = resp.headers()[ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in shared::cors::EXPOSED_HEADERS {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Errors too, so the page can read WWW-Authenticate.
    let resp = s
        .http
        .get(format!("{api}/v2/me"))
        .header(ORIGIN, APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);

    // Any other origin: served as usual, without CORS headers, so the browser blocks it.
    for other in [
        "https://evil.example.com",
        "https://app.example.com.evil.net",
        "null",
    ] {
        let resp = s
            .http
            .get(format!("{api}/v2/me"))
            .bearer_auth(&key)
            .header(ORIGIN, other)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{other}");
        assert!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let preflight = s
            .http
            .request(Method::OPTIONS, format!("{api}/v2/cases"))
            .header(ORIGIN, other)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .unwrap();
        assert!(preflight
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        assert!(preflight
            .headers()
            .get(ACCESS_CONTROL_ALLOW_METHODS)
            .is_none());
    }

    // The default (no origins): no CORS for anyone.
    let preflight = s
        .http
        .request(Method::OPTIONS, format!("{}/v2/cases", s.api))
        .header(ORIGIN, APP_ORIGIN)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let resp = s
        .http
        .get(format!("{}/v2/me", s.api))
        .bearer_auth(&key)
        .header(ORIGIN, APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[test]
fn dotenv_is_read_from_the_working_directory_only_never_a_parent() {
    shared::testing::assert_dotenv_is_read_from_the_working_directory_only(
        env!("CARGO_BIN_EXE_resource-api"),
        &[],
        "API_BIND",
    );
}

#[test]
fn no_part_of_the_database_password_reaches_the_log() {
    shared::testing::assert_no_database_password_in_the_log(
        env!("CARGO_BIN_EXE_resource-api"),
        &[],
        "API_BIND",
        &[],
    );
}
