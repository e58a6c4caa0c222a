//! The client address behind a load balancer (`TRUSTED_PROXIES`): the per-source failure
//! throttle keys on the client a trusted proxy names in `X-Forwarded-For`, never on an address
//! a client chose; and a token whose signature verifies is never refused by that throttle.
//! The tests connect from 127.0.0.1, so with `TRUSTED_PROXIES=127.0.0.1/32` the test client
//! plays the balancer.

use shared::client_addr::TrustedProxies;

use crate::helpers::TestStack;

const BIN: &str = env!("CARGO_BIN_EXE_resource-api");

/// `GET /v2/me` with `X-API-Key: key` and `X-Forwarded-For: xff`: the status.
async fn me_as(s: &TestStack, api: &str, key: &str, xff: &str) -> u16 {
    s.http
        .get(format!("{api}/v2/me"))
        .header("X-API-Key", key)
        .header("X-Forwarded-For", xff)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn junk_key() -> String {
    // A well-formed key (valid checksum) that exists nowhere: each costs a lookup.
    shared::ApiKey::generate(shared::Environment::Sandbox)
        .expose()
        .to_owned()
}

#[actix_web::test]
async fn behind_a_trusted_proxy_junk_throttles_only_the_client_it_came_from() {
    let s = TestStack::start().await;
    let (api, _) = s
        .another_api_with(|c| {
            c.common.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap()
        })
        .await;
    // Created after that API started and never used there: not in its memory.
    let (_, uncached) = s.api_key(&["cases:read"], "sandbox", "standard").await;
    let mut codes = Vec::new();
    for _ in 0..80 {
        codes.push(me_as(&s, &api, &junk_key(), "203.0.113.7").await);
    }
    assert!(codes[..60].iter().all(|c| *c == 401), "{codes:?}");
    assert!(
        codes[60..].iter().filter(|c| **c == 429).count() >= 10,
        "{codes:?}"
    );
    // Another client behind the same balancer: its own budget, so an uncached key is looked
    // up and served, and its junk is 401, not 429.
    assert_eq!(me_as(&s, &api, &uncached, "203.0.113.8").await, 200);
    assert_eq!(me_as(&s, &api, &junk_key(), "203.0.113.8").await, 401);
    // The throttled client cannot escape by claiming another address in front of the
    // balancer's entry: only the rightmost untrusted entry counts, so its junk is still
    // charged to its exhausted budget (a fresh budget would answer 401 five times; a failure
    // coming back every 100 ms allows one or two).
    let mut spoofed = Vec::new();
    for _ in 0..5 {
        spoofed.push(me_as(&s, &api, &junk_key(), "198.51.100.1, 203.0.113.7").await);
    }
    assert!(spoofed.contains(&429), "{spoofed:?}");
}

#[actix_web::test]
async fn without_trusted_proxies_a_client_chosen_forwarded_for_is_ignored() {
    let s = TestStack::start().await;
    let mut codes = Vec::new();
    for i in 0..100 {
        // Each request claims another client; all come from the one real peer.
        codes.push(me_as(&s, &s.api, &junk_key(), &format!("203.0.113.{i}")).await);
    }
    assert!(codes[..60].iter().all(|c| *c == 401), "{codes:?}");
    let limited = codes[60..].iter().filter(|c| **c == 429).count();
    assert!(limited >= 20, "{codes:?}");
}

#[actix_web::test]
async fn a_fresh_token_from_a_throttled_source_is_accepted() {
    let s = TestStack::start().await;
    // The token is made first (the auth server has throttles of its own), and never shown
    // to the resource API before the source is throttled.
    let (_, _, token) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    let mut last = 0;
    for _ in 0..200 {
        last = s.get("/v2/me", &junk_key()).await.status().as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the source is throttled");
    // Its signature verifies: served, though neither the token nor (maybe) its application
    // was in memory.
    assert_eq!(s.get("/v2/me", &token).await.status(), 200);
}

#[test]
fn a_bad_trusted_proxies_entry_exits_2_naming_the_variable_and_the_entry() {
    let (code, stderr) =
        shared::testing::config_outcome(BIN, &[], &[("TRUSTED_PROXIES", "10.0.0.0/8, not-a-cidr")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TRUSTED_PROXIES") && stderr.contains("`not-a-cidr`"),
        "{stderr}"
    );
}
