//! Tokens are believed only as far as their application allows, signing keys can be taken out
//! of service, "revoke all tokens" reaches the resource API, credential headers are
//! unambiguous, and a source sending junk credentials is held to what memory can answer.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::auth::{claims, real_key, sign};
use crate::helpers::{assert_error, eventually, test_kek, TestStack};

#[actix_web::test]
async fn a_token_signed_with_a_stolen_key_cannot_claim_more_than_its_application_has() {
    let s = TestStack::start().await;
    let (app_id, _, _) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    let (kid, key) = real_key(&s);
    let now = chrono::Utc::now().timestamp();

    // Claiming `live` for a sandbox application: refused.
    let mut c = claims(&s, &app_id);
    c["env"] = json!("live");
    c["scope"] = json!("cases:read sar:read");
    let live = sign(&kid, &key, "at+jwt", &c);
    assert_error(s.get("/v2/sars", &live).await, 401, "invalid_token").await;

    // A hundred-year lifetime: refused.
    let mut c = claims(&s, &app_id);
    c["exp"] = json!(now + 100 * 365 * 24 * 3600);
    let forever = sign(&kid, &key, "at+jwt", &c);
    assert_error(s.get("/v2/me", &forever).await, 401, "invalid_token").await;

    // Every scope: only the application's own scopes are granted.
    let mut c = claims(&s, &app_id);
    c["scope"] = json!("cases:read cases:write sar:read sar:write");
    let greedy = sign(&kid, &key, "at+jwt", &c);
    let me: serde_json::Value = s.get("/v2/me", &greedy).await.json().await.unwrap();
    assert_eq!(me["scopes"], json!(["cases:read"]), "{me}");
    assert_error(s.get("/v2/sars", &greedy).await, 403, "insufficient_scope").await;
}

#[actix_web::test]
async fn removing_a_scope_from_an_application_takes_it_from_existing_tokens() {
    let s = TestStack::start().await;
    let (id, _, token) = s
        .app_token(&["cases:read", "alerts:read"], "sandbox", "standard")
        .await;
    assert_eq!(s.get("/v2/alerts", &token).await.status(), 200);
    s.admin(
        Method::PATCH,
        &format!("/admin/applications/{id}"),
        Some(json!({"scopes": ["cases:read"]})),
    )
    .await;
    eventually(Duration::from_secs(5), || async {
        s.get("/v2/alerts", &token).await.status() == 403
    })
    .await;
    assert_eq!(s.get("/v2/cases", &token).await.status(), 200);
}

#[actix_web::test]
async fn revoke_tokens_is_refused_by_the_resource_api_within_the_bound() {
    let s = TestStack::start().await;
    let (id, secret, old) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &old).await.status(), 200);
    let resp = s
        .admin(
            Method::POST,
            &format!("/admin/applications/{id}/revoke-tokens"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    let took = eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &old).await.status() == 401
    })
    .await;
    assert!(took < Duration::from_secs(5));
    let fresh = s.token(&id, &secret).await;
    assert_eq!(s.get("/v2/me", &fresh).await.status(), 200);
}

#[actix_web::test]
async fn a_revoked_signing_key_stops_verifying_even_for_cached_tokens() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    // Verified once, so it sits in the verified-token cache.
    assert_eq!(s.get("/v2/me", &token).await.status(), 200);
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    // What `auth-server keys revoke <kid>` does.
    let db = shared::db::Db::connect(s.db.url(), 1).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let active = auth_server::service::signing::revoke(
        &db,
        &auth_server::service::audit::AuditContext::system(
            &auth_server::service::audit::AuditKey::from_kek(&test_kek()),
        ),
        &test_kek(),
        &kid,
        now,
    )
    .unwrap();
    assert!(active.is_some_and(|a| a != kid));
    eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &token).await.status() == 401
    })
    .await;
    // The auth server signs with the new key, published in its JWKS.
    eventually(Duration::from_secs(5), || async {
        let jwks: serde_json::Value = s
            .http
            .get(format!("{}/.well-known/jwks.json", s.auth))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        !jwks.to_string().contains(&kid)
    })
    .await;
}

#[actix_web::test]
async fn credential_headers_must_be_unambiguous() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "standard").await;
    let (_, other) = s.api_key(&["cases:read"], "sandbox", "standard").await;
    let url = format!("{}/v2/me", s.api);
    let send = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap() };

    // Authorization twice.
    let resp = send(
        s.http
            .get(&url)
            .header("Authorization", format!("Bearer {key}"))
            .header("Authorization", format!("Bearer {key}")),
    )
    .await;
    assert_error(resp, 400, "invalid_request").await;
    // X-API-Key twice.
    let resp = send(
        s.http
            .get(&url)
            .header("X-API-Key", &key)
            .header("X-API-Key", &other),
    )
    .await;
    assert_error(resp, 400, "invalid_request").await;
    // Both headers with different credentials.
    let resp = send(
        s.http
            .get(&url)
            .bearer_auth(&key)
            .header("X-API-Key", &other),
    )
    .await;
    assert_error(resp, 400, "invalid_request").await;
    // Both headers with the same credential: one credential, accepted.
    let resp = send(s.http.get(&url).bearer_auth(&key).header("X-API-Key", &key)).await;
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn a_source_sending_junk_credentials_is_rate_limited_but_known_keys_still_work() {
    let s = TestStack::start().await;
    let (_, good) = s.api_key(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &good).await.status(), 200);
    let mut codes = Vec::new();
    for _ in 0..100 {
        // Well-formed keys (valid checksum) that exist nowhere: each would cost a lookup.
        let junk = shared::ApiKey::generate(shared::Environment::Sandbox);
        codes.push(s.get("/v2/me", junk.expose()).await.status().as_u16());
    }
    assert!(codes[..60].iter().all(|c| *c == 401), "{codes:?}");
    // One failure comes back every 100 ms, so a slow run sees a few more 401s; most are 429.
    let limited = codes[60..].iter().filter(|c| **c == 429).count();
    assert!(limited >= 20, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 401 || *c == 429), "{codes:?}");
    // No credential at all is limited the same way.
    let mut saw_429 = false;
    for _ in 0..5 {
        let resp = s.http.get(format!("{}/v2/me", s.api)).send().await.unwrap();
        if resp.status() == 429 {
            assert!(resp.headers().contains_key("retry-after"));
            assert_error(resp, 429, "rate_limited").await;
            saw_429 = true;
            break;
        }
    }
    assert!(saw_429);
    // A key this replica already knows is still served from memory.
    assert_eq!(s.get("/v2/me", &good).await.status(), 200);
}
