//! DPoP (RFC 9449, issue 24 §2) end to end: a `private_key_jwt` client gets a DPoP-bound token
//! and calls `/v2` with proofs; every refusal the issue lists.

use reqwest::{Method, Response};
use serde_json::{json, Value};
use shared::test_keys::TestKey;

use crate::helpers::{assert_error, TestStack};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    shared::time::now_micros() / 1_000_000
}

/// A `private_key_jwt` application (ES256 key) with `extra` registration fields.
async fn key_app(s: &TestStack, key: &TestKey, extra: Value) -> String {
    let mut body = json!({"name": "dpop app", "scopes": ["cases:read", "cases:write"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk]}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let app = s.admin_post("/admin/applications", &body).await;
    app["client_id"].as_str().unwrap().to_owned()
}

fn assertion(s: &TestStack, key: &TestKey, client_id: &str) -> String {
    key.sign(
        &json!({"alg": key.alg_name}),
        &json!({"iss": client_id, "sub": client_id, "aud": s.auth, "exp": now() + 60,
                "jti": uuid::Uuid::new_v4().to_string()}),
    )
}

async fn token_request(
    s: &TestStack,
    client: &TestKey,
    client_id: &str,
    proof: Option<&str>,
) -> Response {
    let mut req = s.http.post(format!("{}/oauth/token", s.auth)).form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &assertion(s, client, client_id)),
    ]);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// A DPoP-bound token for `client_id`, bound to `dpop_key`.
async fn dpop_token(
    s: &TestStack,
    client: &TestKey,
    client_id: &str,
    dpop_key: &TestKey,
) -> String {
    let proof = dpop_key.dpop_proof("POST", &format!("{}/oauth/token", s.auth), now(), None);
    let resp = token_request(s, client, client_id, Some(&proof)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    s: &TestStack,
    method: Method,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> Response {
    let mut req = s
        .http
        .request(method.clone(), format!("{}{path}", s.api))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    if method == Method::POST {
        req = req.json(&json!({"title": "DPoP case"}));
    }
    req.send().await.unwrap()
}

async fn assert_dpop_refusal(resp: Response, code: &str, what: &str) {
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(resp.status(), 401, "{what}");
    assert!(
        challenge.starts_with("DPoP algs=\"ES256 EdDSA PS256\""),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{what}: {challenge}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], code, "{what}: {body}");
}

#[actix_web::test]
async fn a_dpop_bound_token_reads_and_writes_with_fresh_proofs() {
    let s = TestStack::start().await;
    for name in ["es256", "eddsa", "ps256"] {
        let client = TestKey::named(name);
        let client_id = key_app(&s, &client, json!({})).await;
        let dpop_key = TestKey::named(name);
        let token = dpop_token(&s, &client, &client_id, &dpop_key).await;
        let url = format!("{}/v2/cases", s.api);
        let proof = dpop_key.dpop_proof("POST", &url, now(), Some(&token));
        let resp = call(&s, Method::POST, "/v2/cases", "DPoP", &token, Some(&proof)).await;
        assert_eq!(resp.status(), 201, "{name}");
        let case: Value = resp.json().await.unwrap();
        let path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
        // The query is not part of htu.
        let proof =
            dpop_key.dpop_proof("GET", &format!("{}{path}?x=1", s.api), now(), Some(&token));
        let resp = call(&s, Method::GET, &path, "dpop", &token, Some(&proof)).await;
        assert_eq!(resp.status(), 200, "{name}");
    }
}

#[actix_web::test]
async fn introspection_reports_the_binding() {
    let s = TestStack::start().await;
    let client = TestKey::named("eddsa");
    let client_id = key_app(&s, &client, json!({})).await;
    let dpop_key = TestKey::named("es256");
    let token = dpop_token(&s, &client, &client_id, &dpop_key).await;
    let a = client.sign(
        &json!({"alg": "EdDSA"}),
        &json!({"iss": client_id, "sub": client_id, "aud": s.auth, "exp": now() + 60, "jti": "i1"}),
    );
    let v: Value = s
        .http
        .post(format!("{}/oauth/introspect", s.auth))
        .form(&[
            ("token", token.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "DPoP");
    let jkt = shared::jose::PublicJwk::parse(&dpop_key.jwk)
        .unwrap()
        .thumbprint()
        .to_owned();
    assert_eq!(v["cnf"]["jkt"], jkt);
}

#[actix_web::test]
async fn every_listed_resource_refusal_is_401_with_a_dpop_challenge() {
    let s = TestStack::start().await;
    let client = TestKey::named("es256");
    let client_id = key_app(&s, &client, json!({})).await;
    let dpop_key = TestKey::named("eddsa");
    let token = dpop_token(&s, &client, &client_id, &dpop_key).await;
    let other_token = dpop_token(&s, &client, &client_id, &dpop_key).await;
    let path = "/v2/cases";
    let url = format!("{}{path}", s.api);
    let get = |proof: Option<String>, scheme: &'static str| {
        let (s, token) = (&s, token.clone());
        async move { call(s, Method::GET, path, scheme, &token, proof.as_deref()).await }
    };

    // As Bearer, with or without a proof.
    let fresh = dpop_key.dpop_proof("GET", &url, now(), Some(&token));
    assert_dpop_refusal(get(None, "Bearer").await, "invalid_token", "Bearer").await;
    assert_dpop_refusal(
        get(Some(fresh), "Bearer").await,
        "invalid_token",
        "Bearer with proof",
    )
    .await;
    // Without a proof.
    assert_dpop_refusal(get(None, "DPoP").await, "invalid_dpop_proof", "no proof").await;
    // A replayed proof.
    let once = dpop_key.dpop_proof("GET", &url, now(), Some(&token));
    assert_eq!(get(Some(once.clone()), "DPoP").await.status(), 200);
    assert_dpop_refusal(
        get(Some(once), "DPoP").await,
        "invalid_dpop_proof",
        "replayed",
    )
    .await;
    let other_key = TestKey::named("es256_b");
    let bad: Vec<(String, &str)> = vec![
        (
            other_key.dpop_proof("GET", &url, now(), Some(&token)),
            "another key",
        ),
        (
            dpop_key.dpop_proof("GET", &format!("{}/v2/sars", s.api), now(), Some(&token)),
            "another URL",
        ),
        (
            dpop_key.dpop_proof(
                "GET",
                &format!("https://evil.example{path}"),
                now(),
                Some(&token),
            ),
            "another host",
        ),
        (
            dpop_key.dpop_proof("POST", &url, now(), Some(&token)),
            "another method",
        ),
        (
            dpop_key.dpop_proof("GET", &url, now(), Some(&other_token)),
            "wrong ath",
        ),
        (dpop_key.dpop_proof("GET", &url, now(), None), "missing ath"),
        (
            dpop_key.dpop_proof("GET", &url, now() - 300, Some(&token)),
            "stale iat",
        ),
        (
            dpop_key.dpop_proof("GET", &url, now() + 300, Some(&token)),
            "future iat",
        ),
    ];
    for (proof, what) in bad {
        assert_dpop_refusal(get(Some(proof), "DPoP").await, "invalid_dpop_proof", what).await;
    }
    // Malformed proofs: 401 with the envelope, never a 500.
    let claims = json!({"jti": "m", "htm": "GET", "htu": url, "iat": now(),
                        "ath": shared::jose::sha256_b64(token.as_bytes())});
    let mut private = TestKey::named("es256").jwk.clone();
    private["d"] = TestKey::named("es256").entry["d"].clone();
    let es = TestKey::named("es256");
    let malformed: Vec<(String, &str)> = vec![
        ("not-a-jwt".into(), "not a JWT"),
        ("e30.e30.%%%".into(), "bad base64"),
        (format!("{}.e30.AAAA", "A".repeat(3000)), "huge header"),
        (format!("e30.{}.AAAA", "A".repeat(8200)), "8 KiB"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}), &claims), "private jwk"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}}), &claims), "unknown crv"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es.jwk, "x5c": ["MIIB"]}), &claims), "x5c"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es.jwk, "jku": "https://x"}), &claims), "jku"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": es.jwk, "cty": "JWT"}), &claims), "nested"),
        (es.sign(&json!({"typ": "JWT", "alg": "ES256", "jwk": es.jwk}), &claims), "typ"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": es.jwk}), &claims), "HS256"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": es.jwk}), &claims), "none"),
        (es.sign(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &claims), "no jwk"),
    ];
    for (proof, what) in malformed {
        assert_dpop_refusal(get(Some(proof), "DPoP").await, "invalid_dpop_proof", what).await;
    }
    use base64::Engine;
    let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": dpop_key.jwk}).to_string();
    let dup = format!("{},\"typ\":\"dpop+jwt\"}}", &header[..header.len() - 1]);
    let proof = dpop_key.sign_segments(&enc(&dup), &enc(&claims.to_string()));
    assert_dpop_refusal(
        get(Some(proof), "DPoP").await,
        "invalid_dpop_proof",
        "duplicate member",
    )
    .await;
    // Two DPoP headers.
    let resp = s
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .header(
            "DPoP",
            dpop_key.dpop_proof("GET", &url, now(), Some(&token)),
        )
        .header(
            "DPoP",
            dpop_key.dpop_proof("GET", &url, now(), Some(&token)),
        )
        .send()
        .await
        .unwrap();
    assert_dpop_refusal(resp, "invalid_dpop_proof", "two proofs").await;
    // And a fresh, correct proof still works.
    let ok = dpop_key.dpop_proof("GET", &url, now(), Some(&token));
    assert_eq!(get(Some(ok), "DPoP").await.status(), 200);
    // The refusals are counted by reason.
    let metrics = s
        .http
        .get(format!("{}/metrics", s.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in [
        "dpop_scheme",
        "dpop_missing",
        "dpop_replayed",
        "dpop_key_mismatch",
        "dpop_url",
        "dpop_method",
        "dpop_ath",
        "dpop_time",
        "dpop_malformed",
        "dpop_key",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason}"
        );
    }
}

#[actix_web::test]
async fn bearer_tokens_keep_working_and_an_unbound_token_is_not_accepted_as_dpop() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/cases", &token).await.status(), 200);
    let key = TestKey::named("es256");
    let url = format!("{}/v2/cases", s.api);
    let proof = key.dpop_proof("GET", &url, now(), Some(&token));
    let resp = call(&s, Method::GET, "/v2/cases", "DPoP", &token, Some(&proof)).await;
    assert_dpop_refusal(resp, "invalid_token", "unbound token as DPoP").await;
}

#[actix_web::test]
async fn the_token_endpoint_checks_proofs_and_requires_one_when_registered() {
    let s = TestStack::start().await;
    let client = TestKey::named("es256");
    let bound = key_app(&s, &client, json!({"dpop_bound_access_tokens": true})).await;
    let resp = token_request(&s, &client, &bound, None).await;
    assert_error(resp, 400, "invalid_dpop_proof").await;
    let dpop_key = TestKey::named("eddsa");
    let token_url = format!("{}/oauth/token", s.auth);
    for (proof, what) in [
        (
            dpop_key.dpop_proof("POST", &format!("{}/oauth/revoke", s.auth), now(), None),
            "another URL",
        ),
        (
            dpop_key.dpop_proof("GET", &token_url, now(), None),
            "another method",
        ),
        (
            dpop_key.dpop_proof("POST", &token_url, now() - 600, None),
            "stale",
        ),
        ("junk".to_owned(), "not a JWT"),
    ] {
        let resp = token_request(&s, &client, &bound, Some(&proof)).await;
        assert_eq!(resp.status(), 400, "{what}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{what}");
    }
    // A replayed proof at the token endpoint.
    let proof = dpop_key.dpop_proof("POST", &token_url, now(), None);
    assert_eq!(
        token_request(&s, &client, &bound, Some(&proof))
            .await
            .status(),
        200
    );
    assert_error(
        token_request(&s, &client, &bound, Some(&proof)).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    // A secret client may use DPoP too, and gets a bound token.
    let app = s
        .admin_post(
            "/admin/applications",
            &json!({"name": "s", "scopes": ["cases:read"]}),
        )
        .await;
    let resp: Value = s
        .http
        .post(&token_url)
        .basic_auth(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str(),
        )
        .header("DPoP", dpop_key.dpop_proof("POST", &token_url, now(), None))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["token_type"], "DPoP");
}

#[actix_web::test]
async fn a_proof_replayed_on_another_replica_is_refused_through_the_database() {
    let s = TestStack::start().await;
    let second = s.another_api().await;
    let client = TestKey::named("es256");
    let client_id = key_app(&s, &client, json!({})).await;
    let key = TestKey::named("es256_b");
    let token = dpop_token(&s, &client, &client_id, &key).await;
    // The proof names the first API's URL; the second replica is configured with its own
    // API_PUBLIC_URL, so the replay is sent with a proof for it.
    let url2 = format!("{second}/v2/cases");
    let proof = key.dpop_proof("GET", &url2, now(), Some(&token));
    let send = |base: String, proof: String| {
        let (http, token) = (s.http.clone(), token.clone());
        async move {
            http.get(format!("{base}/v2/cases"))
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", proof)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(send(second.clone(), proof.clone()).await.status(), 200);
    let third = s
        .another_api_with(|c| c.public_url = second.clone())
        .await
        .0;
    let body = assert_error(send(third, proof).await, 401, "invalid_dpop_proof").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("used before"));
}

#[actix_web::test]
async fn with_dpop_nonce_key_set_proofs_need_the_servers_nonce() {
    let key = shared::Secret::new("n".repeat(40));
    let k2 = key.clone();
    let s = crate::helpers::TestStack::start_with(
        |c| c.common.dpop_nonce_key = Some(key),
        |c| c.common.dpop_nonce_key = Some(k2),
    )
    .await;
    let (auth, api, http) = (s.auth.clone(), s.api.clone(), s.http.clone());

    let client = TestKey::named("eddsa");
    let app: Value = http
        .post(format!("{auth}/admin/applications"))
        .bearer_auth(crate::helpers::ADMIN)
        .json(&json!({"name": "n", "scopes": ["cases:read"], "token_endpoint_auth_method": "private_key_jwt",
                      "jwks": {"keys": [client.jwk]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = app["client_id"].as_str().unwrap();
    let dpop = TestKey::named("es256");
    let token_url = format!("{auth}/oauth/token");
    let request = |proof: String| {
        let a = client.sign(
            &json!({"alg": "EdDSA"}),
            &json!({"iss": id, "sub": id, "aud": auth, "exp": now() + 60, "jti": uuid::Uuid::new_v4().to_string()}),
        );
        http.post(&token_url).header("DPoP", proof).form(&[
            ("grant_type", "client_credentials".to_owned()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", a),
        ])
    };
    // Without a nonce: 400 use_dpop_nonce, and the nonce to use.
    let resp = request(dpop.dpop_proof("POST", &token_url, now(), None))
        .send()
        .await
        .unwrap();
    let nonce = resp
        .headers()
        .get("dpop-nonce")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_error(resp, 400, "use_dpop_nonce").await;
    let wrong =
        request(dpop.dpop_proof_with_nonce("POST", &token_url, now(), None, Some("made-up")))
            .send()
            .await
            .unwrap();
    assert_error(wrong, 400, "use_dpop_nonce").await;
    let resp = request(dpop.dpop_proof_with_nonce("POST", &token_url, now(), None, Some(&nonce)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The resource API asks the same way (401), and accepts the same nonce (one key, stateless).
    let url = format!("{api}/v2/cases");
    let get = |proof: String| {
        http.get(&url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
    };
    let resp = get(dpop.dpop_proof("GET", &url, now(), Some(&token)))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("dpop-nonce").is_some());
    assert_dpop_refusal(resp, "use_dpop_nonce", "no nonce").await;
    let resp = get(dpop.dpop_proof_with_nonce("GET", &url, now(), Some(&token), Some(&nonce)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
