//! The token client of `shared` (feature `client`) without a shared secret, against the real
//! servers: `private_key_jwt` (PEM and JWK keys), DPoP-bound tokens, server nonces, a removed
//! key (contract §7, issue 24 §3).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use shared::client::{AuthorizedClient, PrivateKey, TokenError, TokenSource};
use shared::test_keys::TestKey;

use crate::helpers::{TestStack, ADMIN};

/// The fixture key as a user would hold it: a PKCS#8 PEM.
fn pem(key: &TestKey) -> String {
    let der = URL_SAFE_NO_PAD
        .decode(key.entry["der"].as_str().unwrap())
        .unwrap();
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// The Ed25519 fixture as a private JWK (`d` is the seed at the end of its PKCS#8 DER).
fn ed25519_private_jwk(kid: &str) -> String {
    let key = TestKey::named("eddsa");
    let der = URL_SAFE_NO_PAD
        .decode(key.entry["der"].as_str().unwrap())
        .unwrap();
    let mut jwk = key.jwk_with_kid(kid);
    jwk["d"] = Value::String(URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]));
    jwk.to_string()
}

async fn key_app(auth: &str, http: &reqwest::Client, keys: Vec<Value>, dpop_bound: bool) -> String {
    let app: Value = http
        .post(format!("{auth}/admin/applications"))
        .bearer_auth(ADMIN)
        .json(
            &json!({"name": "keyed service", "scopes": ["cases:read", "cases:write"],
            "environment": "sandbox", "tier": "unlimited",
            "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys},
            "dpop_bound_access_tokens": dpop_bound}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(app.get("client_secret").is_none(), "{app}");
    app["client_id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_p256_pem_key_with_dpop_gets_a_bound_token_and_calls_v2() {
    let s = TestStack::start().await;
    let key = TestKey::named("es256");
    let id = key_app(&s.auth, &s.http, vec![key.jwk_with_kid("k1")], true).await;
    let tokens = TokenSource::with_private_key(
        &format!("{}/oauth/token", s.auth),
        id.clone(),
        PrivateKey::parse(&pem(&key)).unwrap().with_kid("k1"),
        &["cases:read", "cases:write"],
    )
    .unwrap()
    .with_dpop();
    let grant = tokens.fetch_grant().await.unwrap();
    assert_eq!(grant.token_type, "DPoP");

    let api = AuthorizedClient::new(tokens).unwrap();
    let url = format!("{}/v2/cases?page_size=5", s.api);
    let resp = api.send(|http| http.get(&url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let me: Value = api
        .send(|http| http.get(format!("{}/v2/me", s.api)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id.as_str());

    // The helper for callers with their own HTTP client: both headers, a new proof each time.
    let create = format!("{}/v2/cases", s.api);
    let headers = api.tokens().authorization("POST", &create).await.unwrap();
    assert!(headers[0].1.starts_with("DPoP "));
    let mut req = s.http.post(&create).json(&json!({"title": "bound"}));
    for (name, value) in &headers {
        req = req.header(*name, value);
    }
    assert_eq!(req.send().await.unwrap().status(), 201);
    // The same token as a bearer token: refused.
    let token = headers[0].1.trim_start_matches("DPoP ");
    let stolen = s.http.get(&create).bearer_auth(token).send().await.unwrap();
    assert_eq!(stolen.status(), 401);
}

#[actix_web::test]
async fn an_ed25519_jwk_key_gets_a_bearer_token_and_its_kid_picks_the_key() {
    let s = TestStack::start().await;
    let other = TestKey::named("es256");
    let ed = TestKey::named("eddsa");
    let id = key_app(
        &s.auth,
        &s.http,
        vec![other.jwk_with_kid("other"), ed.jwk_with_kid("ed-1")],
        false,
    )
    .await;
    let tokens = TokenSource::with_private_key(
        &format!("{}/oauth/token", s.auth),
        id,
        PrivateKey::parse(&ed25519_private_jwk("ed-1")).unwrap(),
        &[],
    )
    .unwrap()
    .with_assertion_audience(s.auth.clone());
    let api = AuthorizedClient::new(tokens).unwrap();
    let resp = api
        .send(|http| http.get(format!("{}/v2/me", s.api)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        api.tokens().fetch_grant().await.unwrap().token_type,
        "Bearer"
    );
}

#[actix_web::test]
async fn a_dpop_bound_application_needs_dpop_and_a_removed_key_is_invalid_client() {
    let s = TestStack::start().await;
    let (old, new) = (TestKey::named("es256"), TestKey::named("es256_b"));
    let id = key_app(
        &s.auth,
        &s.http,
        vec![old.jwk_with_kid("old"), new.jwk_with_kid("new")],
        true,
    )
    .await;
    let source = |key: &TestKey, kid: &str| {
        TokenSource::with_private_key(
            &format!("{}/oauth/token", s.auth),
            id.clone(),
            PrivateKey::parse(&pem(key)).unwrap().with_kid(kid),
            &[],
        )
        .unwrap()
    };
    match source(&old, "old").fetch_grant().await {
        Err(TokenError::Rejected { error, .. }) => assert_eq!(error, "invalid_dpop_proof"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        source(&old, "old")
            .with_dpop()
            .fetch_grant()
            .await
            .unwrap()
            .token_type,
        "DPoP"
    );

    let resp = s
        .http
        .patch(format!("{}/admin/applications/{id}", s.auth))
        .bearer_auth(ADMIN)
        .json(&json!({"jwks": {"keys": [new.jwk_with_kid("new")]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refused = source(&old, "old").with_dpop().fetch_grant().await;
    assert_eq!(refused.unwrap_err(), TokenError::InvalidClient);
    assert!(source(&new, "new").with_dpop().fetch_grant().await.is_ok());
}

#[actix_web::test]
async fn server_nonces_are_followed_at_the_token_endpoint_and_the_api() {
    let nonce_key = shared::Secret::new("k".repeat(40));
    let k2 = nonce_key.clone();
    let s = TestStack::start_with(
        |c| c.common.dpop_nonce_key = Some(nonce_key),
        |c| c.common.dpop_nonce_key = Some(k2),
    )
    .await;
    let (auth, api, http) = (s.auth.clone(), s.api.clone(), s.http.clone());

    let key = TestKey::named("es256");
    let id = key_app(&auth, &http, vec![key.jwk.clone()], false).await;
    let tokens = TokenSource::with_private_key(
        &format!("{auth}/oauth/token"),
        id,
        PrivateKey::parse(&pem(&key)).unwrap(),
        &[],
    )
    .unwrap()
    .with_dpop();
    // The first proof has no nonce: the token endpoint answers 400 use_dpop_nonce, the source
    // retries once with it.
    assert_eq!(tokens.fetch_grant().await.unwrap().token_type, "DPoP");
    let dpop = tokens.dpop_key().unwrap();
    assert!(dpop.nonce_for(&auth).is_some());
    assert!(dpop.nonce_for(&api).is_none(), "one nonce per server");

    let client = AuthorizedClient::new(tokens).unwrap();
    let resp = client
        .send(|http| http.get(format!("{api}/v2/cases")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(client
        .tokens()
        .dpop_key()
        .unwrap()
        .nonce_for(&api)
        .is_some());
}
