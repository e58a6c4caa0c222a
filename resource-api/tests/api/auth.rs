//! Credentials: RFC 6750 answers, forged tokens, revocation and scopes on every route.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, eventually, TestStack};

/// The real signing key, read from the database and opened with the key-encryption key (what an
/// attacker holding both would have), so tests can sign tokens with chosen claims.
pub(crate) fn real_key(stack: &TestStack) -> (String, EncodingKey) {
    let db = shared::db::Db::connect(stack.db.url(), 1).unwrap();
    let rows = db
        .run_blocking(auth_server::db::signing_keys::SigningKeyRow::all)
        .unwrap();
    let row = rows.into_iter().find(|r| r.retired_at.is_none()).unwrap();
    let der = crate::helpers::test_kek()
        .open(&row.kid, &row.private_key)
        .unwrap();
    (row.kid, EncodingKey::from_ed_der(&der))
}

pub(crate) fn claims(stack: &TestStack, client_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": stack.auth, "sub": client_id, "client_id": client_id, "aud": "caseforge-api",
           "iat": now, "exp": now + 3600, "jti": uuid::Uuid::new_v4().to_string(),
           "scope": "cases:read", "env": "sandbox"})
}

pub(crate) fn sign(kid: &str, key: &EncodingKey, typ: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.to_owned());
    h.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

#[actix_web::test]
async fn missing_credentials_get_a_bare_challenge_and_bad_ones_invalid_token() {
    let s = TestStack::start().await;
    let resp = s.http.get(format!("{}/v2/me", s.api)).send().await.unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"caseforge\""
    );
    assert_error(resp, 401, "invalid_token").await;

    for bad in [
        "garbage",
        "a.b.c",
        "cf_sand_tooshort",
        "cf_live_000000000000000000000000000000000000000000000000000",
    ] {
        let resp = s.get("/v2/me", bad).await;
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"caseforge\", error=\"invalid_token\""
        );
        assert_error(resp, 401, "invalid_token").await;
    }
    let resp = s
        .http
        .get(format!("{}/v2/me", s.api))
        .header("X-API-Key", "cf_sand_nope")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "invalid_token").await;
    let resp = s
        .http
        .get(format!("{}/v2/me", s.api))
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "invalid_token").await;
}

#[actix_web::test]
async fn tokens_and_api_keys_both_identify_the_caller() {
    let s = TestStack::start().await;
    let (client_id, _, token) = s
        .app_token(&["cases:read", "alerts:read"], "live", "professional")
        .await;
    let me: Value = s.get("/v2/me", &token).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({"principal_type": "application", "id": client_id, "environment": "live",
                          "scopes": ["cases:read", "alerts:read"], "tier": "professional"})
    );

    let (key_id, key) = s.api_key(&["sar:read"], "sandbox", "basic").await;
    let me: Value = s.get("/v2/me", &key).await.json().await.unwrap();
    assert_eq!(me["principal_type"], "api_key");
    assert_eq!(me["id"], key_id.as_str());
    assert_eq!(me["environment"], "sandbox");
    let via_header: Value = s
        .http
        .get(format!("{}/v2/me", s.api))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(via_header, me);

    let v: Value = s
        .post("/v2/api_keys/validate", &key, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["api_key"]["id"], key_id.as_str());
    assert!(v["api_key"]["masked_token"]
        .as_str()
        .unwrap()
        .starts_with("cf_sand_****"));
    assert!(v.to_string().find(&key).is_none());
    assert_error(
        s.post("/v2/api_keys/validate", &token, json!({})).await,
        400,
        "invalid_request",
    )
    .await;

    let both = s
        .http
        .get(format!("{}/v2/me", s.api))
        .bearer_auth(&token)
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_error(both, 400, "invalid_request").await;
}

#[actix_web::test]
async fn forged_and_foreign_tokens_are_refused() {
    let s = TestStack::start().await;
    let (client_id, _, good) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &good).await.status(), 200);
    let (kid, key) = real_key(&s);
    let base = claims(&s, &client_id);
    // Sanity: a token we sign ourselves with the real key and right claims is accepted.
    assert_eq!(
        s.get("/v2/me", &sign(&kid, &key, "at+jwt", &base))
            .await
            .status(),
        200
    );

    let mut forged: Vec<(&str, String)> = Vec::new();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base.clone();
        f(&mut c);
        sign(&kid, &key, "at+jwt", &c)
    };
    let now = chrono::Utc::now().timestamp();
    forged.push((
        "wrong iss",
        with(&|c| c["iss"] = json!("http://evil.example")),
    ));
    forged.push(("wrong aud", with(&|c| c["aud"] = json!("other-api"))));
    forged.push((
        "expired",
        with(&|c| {
            c["iat"] = json!(now - 7200);
            c["exp"] = json!(now - 10)
        }),
    ));
    forged.push((
        "issued in the future",
        with(&|c| {
            c["iat"] = json!(now + 600);
            c["exp"] = json!(now + 4200)
        }),
    ));
    forged.push(("not yet valid", with(&|c| c["nbf"] = json!(now + 600))));
    forged.push((
        "sub differs",
        with(&|c| c["sub"] = json!("app_someoneelse")),
    ));
    forged.push(("wrong typ", sign(&kid, &key, "JWT", &base)));
    forged.push(("unknown kid", sign("no-such-kid", &key, "at+jwt", &base)));

    // alg none.
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(base.to_string());
    forged.push(("alg none", format!("{header}.{payload}.")));

    // HS256 keyed with the public key's bytes (algorithm confusion).
    let jwks: Value = s
        .http
        .get(format!("{}/.well-known/jwks.json", s.auth))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.clone());
    h.typ = Some("at+jwt".into());
    forged.push((
        "HS256 with the public key",
        jsonwebtoken::encode(&h, &base, &EncodingKey::from_secret(x.as_bytes())).unwrap(),
    ));
    forged.push((
        "HS256 with decoded public key",
        jsonwebtoken::encode(
            &h,
            &base,
            &EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(&x).unwrap()),
        )
        .unwrap(),
    ));

    // A foreign Ed25519 key claiming the real kid.
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let foreign = EncodingKey::from_ed_der(foreign.to_pkcs8_der().unwrap().as_bytes());
    forged.push(("foreign key", sign(&kid, &foreign, "at+jwt", &base)));

    // jku / x5u pointing elsewhere.
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.clone());
    h.typ = Some("at+jwt".into());
    h.jku = Some("http://evil.example/jwks.json".into());
    forged.push(("jku header", jsonwebtoken::encode(&h, &base, &key).unwrap()));

    // A tampered payload under a valid signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["scope"] = json!("cases:read cases:write");
    forged.push((
        "tampered",
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        ),
    ));

    for (what, token) in forged {
        let resp = s.get("/v2/me", &token).await;
        assert_eq!(resp.status(), 401, "{what} must be refused");
        assert_error(resp, 401, "invalid_token").await;
    }
}

#[actix_web::test]
async fn revoked_tokens_disabled_apps_and_revoked_keys_stop_working_within_5_seconds() {
    let s = TestStack::start().await;
    let (id, secret, token) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &token).await.status(), 200);
    let resp = s
        .http
        .post(format!("{}/oauth/revoke", s.auth))
        .basic_auth(&id, Some(&secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let took = eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &token).await.status() == 401
    })
    .await;
    assert!(took < Duration::from_secs(5));

    // Disabling the application rejects its other tokens.
    let token2 = s.token(&id, &secret).await;
    assert_eq!(s.get("/v2/me", &token2).await.status(), 200);
    s.admin(
        Method::PATCH,
        &format!("/admin/applications/{id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &token2).await.status() == 401
    })
    .await;

    // Deleting another application does the same.
    let (id3, _, token3) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &token3).await.status(), 200);
    s.admin(Method::DELETE, &format!("/admin/applications/{id3}"), None)
        .await;
    eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &token3).await.status() == 401
    })
    .await;

    // Revoked API keys too.
    let (key_id, key) = s.api_key(&["cases:read"], "sandbox", "standard").await;
    assert_eq!(s.get("/v2/me", &key).await.status(), 200);
    s.admin(Method::DELETE, &format!("/admin/api-keys/{key_id}"), None)
        .await;
    eventually(Duration::from_secs(5), || async {
        s.get("/v2/me", &key).await.status() == 401
    })
    .await;
}

#[actix_web::test]
async fn expired_api_key_is_rejected_and_last_used_is_recorded() {
    let s = TestStack::start().await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    let k = s
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "short", "environment": "sandbox", "scopes": [], "expires_at": soon}),
        )
        .await;
    let (id, key) = (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(s.get("/v2/me", &key).await.status(), 200);
    let last_used = eventually(Duration::from_secs(5), || async {
        let v: Value = s
            .admin(Method::GET, &format!("/admin/api-keys/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        v["last_used_at"].is_string()
    })
    .await;
    assert!(last_used < Duration::from_secs(5));
    eventually(Duration::from_secs(10), || async {
        s.get("/v2/me", &key).await.status() == 401
    })
    .await;
}

/// (method, path, scope) for every scoped route.
fn routes() -> Vec<(Method, &'static str, &'static str)> {
    vec![
        (Method::GET, "/v2/cases", "cases:read"),
        (Method::GET, "/v2/cases/case_x", "cases:read"),
        (Method::GET, "/v2/cases/case_x/history", "cases:read"),
        (Method::POST, "/v2/cases", "cases:write"),
        (Method::PATCH, "/v2/cases/case_x", "cases:write"),
        (Method::POST, "/v2/cases/case_x/assign", "cases:write"),
        (Method::POST, "/v2/cases/case_x/close", "cases:write"),
        (Method::GET, "/v2/sars", "sar:read"),
        (Method::GET, "/v2/sars/sar_x", "sar:read"),
        (Method::POST, "/v2/sars", "sar:write"),
        (Method::PATCH, "/v2/sars/sar_x", "sar:write"),
        (Method::POST, "/v2/sars/sar_x/submit", "sar:write"),
        (Method::GET, "/v2/watchlist", "watchlist:read"),
        (Method::GET, "/v2/watchlist/wl_x", "watchlist:read"),
        (Method::POST, "/v2/watchlist/screen", "watchlist:read"),
        (Method::POST, "/v2/watchlist", "watchlist:write"),
        (Method::PATCH, "/v2/watchlist/wl_x", "watchlist:write"),
        (Method::DELETE, "/v2/watchlist/wl_x", "watchlist:write"),
        (Method::GET, "/v2/subjects", "subjects:read"),
        (Method::GET, "/v2/subjects/subj_x", "subjects:read"),
        (Method::POST, "/v2/subjects", "subjects:write"),
        (Method::PATCH, "/v2/subjects/subj_x", "subjects:write"),
        (Method::GET, "/v2/transactions", "transactions:read"),
        (Method::GET, "/v2/alerts", "alerts:read"),
    ]
}

#[actix_web::test]
async fn every_route_refuses_without_its_scope_and_allows_with_it() {
    let s = TestStack::start().await;
    let all = [
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
    for (method, path, scope) in routes() {
        let others: Vec<&str> = all.iter().copied().filter(|s| *s != scope).collect();
        let (_, lacking) = s.api_key(&others, "sandbox", "unlimited").await;
        let resp = s
            .call(method.clone(), path, &lacking, Some(json!({})))
            .await;
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains(&format!("scope=\"{scope}\"")),
            "{path}: {challenge}"
        );
        let body = assert_error(resp, 403, "insufficient_scope").await;
        assert_eq!(body["details"]["required_scope"], scope);

        let (_, holding) = s.api_key(&[scope], "sandbox", "unlimited").await;
        let resp = s
            .call(method.clone(), path, &holding, Some(json!({})))
            .await;
        assert!(
            ![401, 403].contains(&resp.status().as_u16()),
            "{method} {path} with {scope}: {}",
            resp.status()
        );

        let resp = s
            .http
            .request(method.clone(), format!("{}{path}", s.api))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path} without credentials");
    }
    let (_, none) = s.api_key(&[], "sandbox", "unlimited").await;
    assert_eq!(s.get("/v2/me", &none).await.status(), 200);
}

#[actix_web::test]
async fn readiness_and_openapi() {
    let s = TestStack::start().await;
    assert_eq!(
        s.http
            .get(format!("{}/readyz", s.api))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (_, path, scope) in routes() {
        let template = path
            .replace("case_x", "{id}")
            .replace("sar_x", "{id}")
            .replace("wl_x", "{id}")
            .replace("subj_x", "{id}");
        let item = &doc["paths"][&template];
        assert!(item.is_object(), "{template} documented");
        assert!(item.to_string().contains(scope), "{template} names {scope}");
    }
}

/// A JWKS entry that is not an Ed25519 key for `EdDSA` is ignored when the key set is built:
/// the real Ed25519 key republished under another `kid` with `alg: RS256`, and an HS256 (`oct`)
/// key, verify nothing, while the real entry still does.
#[actix_web::test]
async fn a_jwks_entry_with_another_alg_or_kty_is_ignored() {
    use actix_web::{web, App, HttpResponse, HttpServer};

    let s = TestStack::start().await;
    let (app_id, _, _) = s.app_token(&["cases:read"], "sandbox", "standard").await;
    let published: Value = s
        .http
        .get(format!("{}/.well-known/jwks.json", s.auth))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys = published["keys"].as_array().unwrap().clone();
    let mut relabelled = keys[0].clone();
    relabelled["kid"] = json!("relabelled");
    relabelled["alg"] = json!("RS256");
    let secret = b"a shared secret of thirty-two by";
    keys.push(relabelled);
    keys.push(
        json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "use": "sig",
                     "k": URL_SAFE_NO_PAD.encode(secret)}),
    );
    let jwks = json!({ "keys": keys });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let jwks_url = format!("http://{}/keys", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let jwks = jwks.clone();
        App::new().route(
            "/keys",
            web::get().to(move || {
                let body = jwks.clone();
                async move { HttpResponse::Ok().json(body) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    let (api, _) = s
        .another_api_with(|c| c.jwks_url = Some(jwks_url.clone()))
        .await;
    let me = |token: String| {
        let (http, url) = (s.http.clone(), format!("{api}/v2/me"));
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };

    let (kid, key) = real_key(&s);
    let genuine = sign(&kid, &key, "at+jwt", &claims(&s, &app_id));
    assert_eq!(me(genuine).await.status(), 200, "the Ed25519 entry is used");

    let relabelled = sign("relabelled", &key, "at+jwt", &claims(&s, &app_id));
    assert_error(me(relabelled).await, 401, "invalid_token").await;

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac".to_owned());
    header.typ = Some("at+jwt".to_owned());
    let hmac = jsonwebtoken::encode(
        &header,
        &claims(&s, &app_id),
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert_error(me(hmac).await, 401, "invalid_token").await;
}
