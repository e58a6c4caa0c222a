//! Rate limits by tier.

use serde_json::Value;

use crate::helpers::{assert_error, TestStack};

#[actix_web::test]
async fn basic_tier_gets_headers_then_429_with_retry_after() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "basic").await;
    let mut last_remaining = u32::MAX;
    for i in 0..10 {
        let resp = s.get("/v2/me", &key).await;
        assert_eq!(resp.status(), 200, "request {i}");
        // One window: the burst bucket's 10, of which Remaining counts what is left.
        assert_eq!(resp.headers()["x-ratelimit-limit"], "10");
        let remaining: u32 = resp.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(remaining < 10);
        // The IETF fields name both windows (draft-ietf-httpapi-ratelimit-headers).
        assert_eq!(
            resp.headers()["ratelimit-policy"],
            "\"burst\";q=10;w=10, \"hour\";q=1000;w=3600"
        );
        let current = resp.headers()["ratelimit"].to_str().unwrap();
        assert!(
            current.starts_with(&format!("\"burst\";r={remaining};t=")),
            "{current}"
        );
        assert!(current.contains(", \"hour\";r="), "{current}");
        // Non-increasing: a slow machine may refill a token between two requests.
        assert!(remaining <= last_remaining);
        last_remaining = remaining;
        assert!(resp.headers().contains_key("x-ratelimit-reset"));
    }
    let mut limited = None;
    for _ in 0..5 {
        let resp = s.get("/v2/me", &key).await;
        if resp.status() == 429 {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("the burst of 10 is exhausted");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(resp.headers()["x-ratelimit-limit"], "10");
    assert!(resp.headers()["ratelimit"]
        .to_str()
        .unwrap()
        .starts_with("\"burst\";r=0;t="));
    assert_error(resp, 429, "rate_limited").await;
}

#[actix_web::test]
async fn unlimited_is_never_limited_and_applications_have_tiers_too() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&[], "sandbox", "unlimited").await;
    for _ in 0..150 {
        let resp = s.get("/v2/me", &key).await;
        assert_eq!(resp.status(), 200);
        assert!(!resp.headers().contains_key("x-ratelimit-limit"));
        assert!(!resp.headers().contains_key("ratelimit-policy"));
    }
    let (_, _, token) = s.app_token(&["cases:read"], "sandbox", "basic").await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..12 {
            v.push(s.get("/v2/me", &token).await.status().as_u16());
        }
        v
    };
    assert!(statuses.contains(&429), "{statuses:?}");
    let me: Value = s.get("/v2/me", &key).await.json().await.unwrap();
    assert_eq!(me["tier"], "unlimited");
}

#[actix_web::test]
async fn metrics_count_auth_failures_and_rate_limit_rejections() {
    let s = TestStack::start().await;
    let _ = s.http.get(format!("{}/v2/me", s.api)).send().await.unwrap();
    let _ = s.get("/v2/me", "garbage").await;
    let (_, key) = s.api_key(&[], "sandbox", "basic").await;
    for _ in 0..12 {
        let _ = s.get("/v2/me", &key).await;
    }
    let text = s
        .http
        .get(format!("{}/metrics", s.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"caseforge_api_auth_failures_total{reason="missing"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"caseforge_api_auth_failures_total{reason="malformed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("caseforge_api_rate_limited_total 2"),
        "{text}"
    );
    assert!(text.contains(r#"route="/v2/me""#), "{text}");
}
