//! `private_key_jwt` client authentication (RFC 7523 §2.2, issue 24 §1): registration, every
//! assertion refusal, a happy path per algorithm, replay, key rotation, and no secret.

use serde_json::{json, Value};
use shared::test_keys::TestKey;

use crate::helpers::{spawn_app, TestApp, ISSUER};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    shared::time::now_micros() / 1_000_000
}

/// Registers a `private_key_jwt` application with `keys`; returns its client id.
pub async fn create_key_app(app: &TestApp, keys: Vec<Value>) -> String {
    let resp = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "key app", "scopes": ["cases:read"],
                    "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys}}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
    body["client_id"].as_str().unwrap().to_owned()
}

/// The claims of a valid assertion for `client_id`.
pub fn claims(client_id: &str) -> Value {
    json!({"iss": client_id, "sub": client_id, "aud": format!("{ISSUER}/oauth/token"),
           "exp": now() + 300, "iat": now(), "jti": uuid::Uuid::new_v4().to_string()})
}

pub fn assertion(key: &TestKey, client_id: &str) -> String {
    key.sign(
        &json!({"alg": key.alg_name, "typ": "JWT"}),
        &claims(client_id),
    )
}

async fn token_with(app: &TestApp, assertion: &str) -> reqwest::Response {
    token_at(&app.address, assertion).await
}

async fn token_at(address: &str, assertion: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{address}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

async fn assert_refused(app: &TestApp, assertion: &str, what: &str) {
    let resp = token_with(app, assertion).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
}

#[actix_web::test]
async fn each_algorithm_gets_a_token_with_a_signed_assertion() {
    let app = spawn_app().await;
    for name in ["es256", "eddsa", "ps256"] {
        let key = TestKey::named(name);
        let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
        let resp = token_with(&app, &assertion(&key, &client_id)).await;
        assert_eq!(resp.status(), 200, "{name}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        // The issuer identifier is an accepted audience too, as is an array naming it.
        let mut c = claims(&client_id);
        c["aud"] = json!(["https://elsewhere.example", ISSUER]);
        let a = key.sign(&json!({"alg": key.alg_name}), &c);
        assert_eq!(token_with(&app, &a).await.status(), 200, "{name} aud array");
    }
}

#[actix_web::test]
async fn a_key_registered_application_has_no_secret_and_none_is_accepted() {
    let app = spawn_app().await;
    let key = TestKey::named("es256");
    let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
    let shown: Value = app
        .admin_get(&format!("/admin/applications/{client_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(shown.get("client_secret").is_none());
    assert_eq!(shown["keys"][0]["alg"], "ES256");
    assert_eq!(shown["keys"][0]["thumbprint"].as_str().unwrap().len(), 43);
    // No secret works, not even the stored marker.
    for secret in ["", "none:private_key_jwt", "anything"] {
        let resp = app
            .token_request("grant_type=client_credentials", Some((&client_id, secret)))
            .await;
        assert_eq!(resp.status(), 401, "{secret}");
    }
    let resp = app
        .admin_post(
            &format!("/admin/applications/{client_id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 409);
    // And an assertion does not authenticate an application with a secret.
    let secret_app = app.create_app(&["cases:read"], "sandbox").await;
    assert_refused(&app, &assertion(&key, &secret_app.client_id), "secret app").await;
}

#[actix_web::test]
async fn registration_refuses_private_unknown_and_small_keys_with_422() {
    let app = spawn_app().await;
    let es = TestKey::named("es256");
    let mut private = es.jwk.clone();
    private["d"] = es.entry["d"].clone();
    let x = es.jwk["x"].clone();
    for (jwks, what) in [
        (json!({"keys": [private]}), "private member"),
        (
            json!({"keys": [{"kty": "EC", "crv": "P-384", "x": x, "y": x}]}),
            "unknown crv",
        ),
        (json!({"keys": [TestKey::named("rsa1024").jwk]}), "RSA 1024"),
        (
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            "symmetric",
        ),
        (json!({"keys": []}), "empty"),
        (
            json!({"keys": [es.jwk, TestKey::named("eddsa").jwk]}),
            "two keys without kids",
        ),
    ] {
        let resp = app
            .admin_post(
                "/admin/applications",
                &json!({"name": "k", "scopes": ["cases:read"],
                        "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}),
            )
            .await;
        assert_eq!(resp.status(), 422, "{what}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "validation_failed", "{what}");
        // The private value is never echoed.
        assert!(!body.to_string().contains(es.entry["d"].as_str().unwrap()));
    }
    // private_key_jwt without jwks, and jwks without private_key_jwt.
    for body in [
        json!({"name": "k", "scopes": ["cases:read"], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"name": "k", "scopes": ["cases:read"], "jwks": {"keys": [TestKey::named("eddsa").jwk]}}),
        json!({"name": "k", "scopes": ["cases:read"], "token_endpoint_auth_method": "tls_client_auth"}),
    ] {
        assert_eq!(
            app.admin_post("/admin/applications", &body).await.status(),
            422
        );
    }
    let list: Value = app
        .admin_get("/admin/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing written");
}

#[actix_web::test]
async fn every_listed_assertion_refusal_is_401_invalid_client() {
    let app = spawn_app().await;
    let key = TestKey::named("es256");
    let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
    let other = TestKey::named("es256_b");
    let h = json!({"alg": "ES256", "typ": "JWT"});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&client_id);
        f(&mut c);
        key.sign(&h, &c)
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&|c| c["iss"] = json!("app_someoneelse")), "iss != sub"),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            "no iss",
        ),
        (
            with(&|c| c["aud"] = json!("https://elsewhere.example/oauth/token")),
            "wrong aud",
        ),
        (
            with(&|c| c["aud"] = json!(format!("{ISSUER}/oauth/revoke"))),
            "another endpoint's aud",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "no aud",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "no exp",
        ),
        (with(&|c| c["exp"] = json!(now() - 120)), "expired"),
        (
            with(&|c| c["exp"] = json!(now() + 3 * 3600)),
            "exp too far ahead",
        ),
        (
            with(&|c| c["iat"] = json!(now() + 600)),
            "iat in the future",
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "no jti",
        ),
        (other.sign(&h, &claims(&client_id)), "unregistered key"),
        (
            key.sign(&json!({"alg": "ES256", "kid": "nope"}), &claims(&client_id)),
            "unknown kid",
        ),
        (
            key.sign(
                &json!({"alg": "ES256", "jwk": key.jwk}),
                &claims(&client_id),
            ),
            "jwk header",
        ),
        (
            key.sign(
                &json!({"alg": "ES256", "x5c": ["MIIB"]}),
                &claims(&client_id),
            ),
            "x5c header",
        ),
        (
            key.sign(
                &json!({"alg": "ES256", "jku": "https://evil.example/jwks"}),
                &claims(&client_id),
            ),
            "jku header",
        ),
        (
            key.sign(&json!({"alg": "ES256", "cty": "JWT"}), &claims(&client_id)),
            "nested JWT",
        ),
        (
            key.sign(
                &json!({"alg": "ES256", "typ": "dpop+jwt"}),
                &claims(&client_id),
            ),
            "a DPoP proof",
        ),
        (
            key.sign(&json!({"alg": "none"}), &claims(&client_id)),
            "alg none",
        ),
        (
            key.sign(&json!({"alg": "HS256"}), &claims(&client_id)),
            "alg HS256",
        ),
        (
            key.sign(&json!({"alg": "RS256"}), &claims(&client_id)),
            "alg RS256",
        ),
        (
            key.sign(&json!({"alg": "EdDSA"}), &claims(&client_id)),
            "alg of another key type",
        ),
        ("not-a-jwt".into(), "not a JWT"),
        ("e30.e30.!!!".into(), "bad base64"),
        (format!("{}.e30.AAAA", "A".repeat(3000)), "huge header"),
        (format!("e30.{}.AAAA", "A".repeat(8200)), "8 KiB"),
    ];
    for (a, what) in &cases {
        assert_refused(&app, a, what).await;
    }
    // Duplicate JSON members, in the header and in the claims.
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let c = claims(&client_id).to_string();
    let dup_claims = format!("{},\"iss\":\"app_x\"}}", &c[..c.len() - 1]);
    let a = key.sign_segments(&enc(r#"{"alg":"ES256"}"#), &enc(&dup_claims));
    assert_refused(&app, &a, "duplicate claim").await;
    let a = key.sign_segments(&enc(r#"{"alg":"ES256","alg":"ES256"}"#), &enc(&c));
    assert_refused(&app, &a, "duplicate header member").await;
    // A form client_id other than iss.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app_other"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion(&key, &client_id)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // A wrong assertion type, or an assertion beside Basic, is invalid_request.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &assertion(&key, &client_id)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // The refusals are counted by reason.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in [
        "assertion_audience",
        "assertion_signature",
        "assertion_header",
        "assertion_malformed",
        "assertion_algorithm",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason}"
        );
    }
    // And the valid one still works.
    assert_eq!(
        token_with(&app, &assertion(&key, &client_id))
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn a_replayed_assertion_is_refused() {
    let app = spawn_app().await;
    let key = TestKey::named("eddsa");
    let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
    let a = assertion(&key, &client_id);
    assert_eq!(token_with(&app, &a).await.status(), 200);
    let resp = token_with(&app, &a).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
}

#[actix_web::test]
async fn a_replay_on_another_replica_is_refused_through_the_database() {
    let app = spawn_app().await;
    // A second server on the same database (no Redis): the seen jti is in `seen_jtis`.
    let second = auth_server::Application::build(crate::helpers::test_config(app.db.url()))
        .await
        .unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    actix_web::rt::spawn(second.run_until_stopped());
    let key = TestKey::named("es256");
    let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
    let a = assertion(&key, &client_id);
    assert_eq!(token_with(&app, &a).await.status(), 200);
    assert_eq!(token_at(&second_address, &a).await.status(), 401);
}

#[actix_web::test]
async fn a_seen_jti_row_is_taken_over_only_once_it_has_expired() {
    // The database arbiter (no Redis): each guard is a replica with its own in-process layer,
    // so every call below reaches `seen_jtis` (one upsert: insert, or take over an expired row).
    use shared::replay::{JtiKind, ReplayGuard};
    let app = spawn_app().await;
    let replica = || ReplayGuard::new(shared::db::Db::connect(app.db.url(), 1).unwrap());
    let t = 1_700_000_000;
    let first = |now: i64, until: i64| {
        let guard = replica();
        async move {
            guard
                .first_use(JtiKind::DpopProof, "jkt", "j1", until, now)
                .await
                .unwrap()
        }
    };
    assert!(first(t, t + 10).await, "a new jti");
    assert!(!first(t, t + 10).await, "seen by another replica");
    assert!(
        !first(t + 9, t + 10).await,
        "still remembered before it expires"
    );
    assert!(first(t + 10, t + 30).await, "its row expired: taken over");
    assert!(
        !first(t + 20, t + 30).await,
        "the taken-over row is current"
    );
    assert!(first(t + 30, t + 40).await, "and expires in its turn");
    // Another issuer's identical jti is another key.
    let other = replica()
        .first_use(JtiKind::DpopProof, "other", "j1", t + 10, t)
        .await
        .unwrap();
    assert!(other);
}

#[actix_web::test]
async fn concurrent_replicas_batching_their_inserts_accept_each_jti_once() {
    // Two guards (replicas) each take 200 identifiers at once, the same 200: their writers
    // batch the inserts into transactions, and each identifier is still first exactly once.
    use shared::replay::{JtiKind, ReplayGuard};
    let app = spawn_app().await;
    let a = ReplayGuard::new(shared::db::Db::connect(app.db.url(), 4).unwrap());
    let b = ReplayGuard::new(shared::db::Db::connect(app.db.url(), 4).unwrap());
    let t = 1_700_000_000;
    let take = |guard: &'static ReplayGuard, i: usize| async move {
        guard
            .first_use(JtiKind::Assertion, "client", &format!("j{i}"), t + 60, t)
            .await
            .unwrap()
    };
    let (a, b): (&'static ReplayGuard, &'static ReplayGuard) =
        (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
    let calls = (0..200).flat_map(|i| [take(a, i), take(b, i)]);
    let firsts = futures_util::future::join_all(calls).await;
    for (i, pair) in firsts.chunks(2).enumerate() {
        assert_eq!(
            pair.iter().filter(|f| **f).count(),
            1,
            "j{i} was first {pair:?}"
        );
    }
}

#[actix_web::test]
async fn keys_rotate_by_patching_the_jwks() {
    let app = spawn_app().await;
    let old = TestKey::named("es256");
    let new = TestKey::named("ps256");
    let client_id = create_key_app(&app, vec![old.jwk_with_kid("old")]).await;
    let signed = |key: &TestKey, kid: &str| {
        key.sign(
            &json!({"alg": key.alg_name, "kid": kid}),
            &claims(&client_id),
        )
    };
    assert_eq!(token_with(&app, &signed(&old, "old")).await.status(), 200);
    assert_eq!(token_with(&app, &signed(&new, "new")).await.status(), 401);
    // Both registered: both work, each picked by kid.
    let path = format!("/admin/applications/{client_id}");
    let resp = app
        .admin_patch(
            &path,
            &json!({"jwks": {"keys": [old.jwk_with_kid("old"), new.jwk_with_kid("new")]}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(token_with(&app, &signed(&old, "old")).await.status(), 200);
    assert_eq!(token_with(&app, &signed(&new, "new")).await.status(), 200);
    // The old one removed: it stops working at once.
    let resp = app
        .admin_patch(&path, &json!({"jwks": {"keys": [new.jwk_with_kid("new")]}}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(token_with(&app, &signed(&old, "old")).await.status(), 401);
    assert_eq!(token_with(&app, &signed(&new, "new")).await.status(), 200);
    // A private key in a PATCH is 422 and changes nothing.
    let mut private = old.jwk.clone();
    private["d"] = old.entry["d"].clone();
    let resp = app
        .admin_patch(&path, &json!({"jwks": {"keys": [private]}}))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(token_with(&app, &signed(&new, "new")).await.status(), 200);
    // Each change is in the audit trail, with the thumbprints and never a key.
    let events: Value = app
        .admin_get("/admin/audit-events")
        .await
        .json()
        .await
        .unwrap();
    let text = events.to_string();
    assert!(text.contains(&format!("\"{}\"", new_thumbprint(&app, &client_id).await)));
    assert!(!text.contains(new.jwk["n"].as_str().unwrap()));
}

async fn new_thumbprint(app: &TestApp, client_id: &str) -> String {
    let shown: Value = app
        .admin_get(&format!("/admin/applications/{client_id}"))
        .await
        .json()
        .await
        .unwrap();
    shown["keys"][0]["thumbprint"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn introspection_and_revocation_accept_assertions_for_their_own_endpoint() {
    let app = spawn_app().await;
    let key = TestKey::named("eddsa");
    let client_id = create_key_app(&app, vec![key.jwk.clone()]).await;
    let body: Value = token_with(&app, &assertion(&key, &client_id))
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    for (path, aud) in [
        ("/oauth/introspect", format!("{ISSUER}/oauth/introspect")),
        ("/oauth/revoke", ISSUER.to_owned()),
    ] {
        let mut c = claims(&client_id);
        c["aud"] = json!(aud);
        let a = key.sign(&json!({"alg": "EdDSA"}), &c);
        let resp = app
            .http
            .post(app.url(path))
            .form(&[
                ("token", token),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &a),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        if path == "/oauth/introspect" {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["active"], true);
        }
    }
    // The token endpoint's audience is not the introspection endpoint's.
    let a = assertion(&key, &client_id);
    let resp = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("token", token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[actix_web::test]
async fn metadata_advertises_private_key_jwt_and_the_algorithms() {
    let app = spawn_app().await;
    let m: Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256"])
    );
    assert_eq!(
        m["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256"])
    );
}
