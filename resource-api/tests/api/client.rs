//! The token client of `shared` (feature `client`) against the real servers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;
use shared::client::{AuthorizedClient, Clock, TokenError, TokenSource};

use crate::helpers::TestStack;

/// A clock the test moves by hand.
struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

async fn credentials(s: &TestStack) -> (String, String) {
    let app = s
        .admin_post("/admin/applications", &json!({"name": "svc", "scopes": ["cases:read"], "environment": "sandbox", "tier": "unlimited"}))
        .await;
    (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn tokens_are_cached_and_refreshed_five_minutes_before_expiry() {
    let s = TestStack::start().await;
    let (id, secret) = credentials(&s).await;
    let clock = Arc::new(ManualClock(Mutex::new(SystemTime::now())));
    let source = TokenSource::new(
        &format!("{}/oauth/token", s.auth),
        id,
        secret,
        &["cases:read"],
    )
    .unwrap()
    .with_clock(clock.clone());
    let first = source.token().await.unwrap();
    assert!(
        source.token().await.unwrap().ct_eq(first.expose()),
        "cached"
    );
    clock.advance(Duration::from_secs(54 * 60));
    assert!(
        source.token().await.unwrap().ct_eq(first.expose()),
        "still more than five minutes left"
    );
    clock.advance(Duration::from_secs(2 * 60));
    let second = source.token().await.unwrap();
    assert!(
        !second.ct_eq(first.expose()),
        "refreshed within five minutes of expiry"
    );
    assert_eq!(s.get("/v2/me", second.expose()).await.status(), 200);
}

#[actix_web::test]
async fn concurrent_callers_share_one_fetch() {
    let s = TestStack::start().await;
    let (id, secret) = credentials(&s).await;
    let source =
        Arc::new(TokenSource::new(&format!("{}/oauth/token", s.auth), id, secret, &[]).unwrap());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let src = source.clone();
        tasks.push(actix_web::rt::spawn(
            async move { src.token().await.unwrap() },
        ));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert!(
        tokens.windows(2).all(|w| w[0].ct_eq(w[1].expose())),
        "one token for all: one fetch"
    );
}

#[actix_web::test]
async fn a_rotated_secret_surfaces_as_invalid_client_without_the_secret() {
    let s = TestStack::start().await;
    let (id, secret) = credentials(&s).await;
    let source = TokenSource::new(
        &format!("{}/oauth/token", s.auth),
        id.clone(),
        secret.clone(),
        &[],
    )
    .unwrap();
    source.token().await.unwrap();
    s.admin_post(
        &format!("/admin/applications/{id}/rotate-secret"),
        &json!({"grace_period_seconds": 0}),
    )
    .await;
    source.invalidate().await;
    let err = source.token().await.unwrap_err();
    assert_eq!(err, TokenError::InvalidClient);
    assert!(!format!("{err} {err:?}").contains(&secret));

    let unknown_client = TokenSource::new(
        &format!("{}/oauth/token", s.auth),
        "app_x",
        "cfsec_x",
        &["cases:read"],
    )
    .unwrap();
    assert_eq!(
        unknown_client.token().await.unwrap_err(),
        TokenError::InvalidClient
    );
    let down = TokenSource::new("http://127.0.0.1:9/oauth/token", "app_x", "cfsec_x", &[]).unwrap();
    assert!(matches!(
        down.token().await.unwrap_err(),
        TokenError::Network(_)
    ));
}

#[actix_web::test]
async fn the_http_helper_retries_once_with_a_fresh_token_after_a_401() {
    let s = TestStack::start().await;
    let (id, secret) = credentials(&s).await;
    let client = AuthorizedClient::new(
        TokenSource::new(
            &format!("{}/oauth/token", s.auth),
            id.clone(),
            secret.clone(),
            &["cases:read"],
        )
        .unwrap(),
    )
    .unwrap();
    let url = format!("{}/v2/cases", s.api);
    assert_eq!(client.send(|h| h.get(&url)).await.unwrap().status(), 200);

    // Revoke the cached token behind the client's back; the API starts refusing it.
    let old = client.tokens().token().await.unwrap();
    s.http
        .post(format!("{}/oauth/revoke", s.auth))
        .basic_auth(&id, Some(&secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={}", old.expose()))
        .send()
        .await
        .unwrap();
    crate::helpers::eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", old.expose()).await.status() == 401
    })
    .await;

    let resp = client.send(|h| h.get(&url)).await.unwrap();
    assert_eq!(resp.status(), 200, "retried with a new token");
    assert!(!client.tokens().token().await.unwrap().ct_eq(old.expose()));
}
