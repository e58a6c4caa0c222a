//! `POST /oauth/token`: the client-credentials grant and every error of contract §3.1.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::helpers::{assert_error, claims_of, spawn_app, TestApp, AUDIENCE, ISSUER};

#[actix_web::test]
async fn basic_auth_gets_a_signed_rfc9068_token_verifiable_with_the_jwks() {
    let app = spawn_app().await;
    let client = app
        .create_app(&["cases:read", "cases:write"], "sandbox")
        .await;
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "cases:read cases:write");
    let token = body["access_token"].as_str().unwrap();

    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("kid");
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let jwk = jwks.find(&kid).expect("kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let data =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap();
    let c = data.claims;
    assert_eq!(c["sub"], client.client_id.as_str());
    assert_eq!(c["client_id"], client.client_id.as_str());
    assert_eq!(c["env"], "sandbox");
    assert_eq!(c["scope"], "cases:read cases:write");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

#[actix_web::test]
async fn client_secret_post_works_and_jtis_are_unique() {
    let app = spawn_app().await;
    let client = app.create_app(&["sar:read"], "live").await;
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.client_id, client.client_secret
    );
    let a: Value = app.token_request(&form, None).await.json().await.unwrap();
    let b: Value = app.token_request(&form, None).await.json().await.unwrap();
    let (ca, cb) = (
        claims_of(a["access_token"].as_str().unwrap()),
        claims_of(b["access_token"].as_str().unwrap()),
    );
    assert_eq!(ca["env"], "live");
    assert_ne!(ca["jti"], cb["jti"]);
}

#[actix_web::test]
async fn requested_scopes_are_granted_when_registered_and_refused_otherwise() {
    let app = spawn_app().await;
    let client = app
        .create_app(&["cases:read", "cases:write", "sar:read"], "sandbox")
        .await;
    let creds = Some((client.client_id.as_str(), client.client_secret.as_str()));

    let body: Value = app
        .token_request(
            "grant_type=client_credentials&scope=cases:read+sar:read",
            creds,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["scope"], "cases:read sar:read");

    let resp = app
        .token_request("grant_type=client_credentials&scope=watchlist:read", creds)
        .await;
    let err = assert_error(resp, 400, "invalid_scope").await;
    assert!(err["error_description"]
        .as_str()
        .unwrap()
        .contains("watchlist:read"));

    let resp = app
        .token_request("grant_type=client_credentials&scope=cases:delete", creds)
        .await;
    assert_error(resp, 400, "invalid_scope").await;
}

#[actix_web::test]
async fn malformed_requests_get_the_rfc6749_errors() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let creds = Some((client.client_id.as_str(), client.client_secret.as_str()));

    assert_error(
        app.token_request("grant_type=password", creds).await,
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_error(
        app.token_request("scope=cases:read", creds).await,
        400,
        "invalid_request",
    )
    .await;
    let dup = app
        .token_request(
            "grant_type=client_credentials&grant_type=client_credentials",
            creds,
        )
        .await;
    let body = assert_error(dup, 400, "invalid_request").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("grant_type"));

    // Wrong content type.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_request").await;

    // Both authentication methods at once.
    let form = format!(
        "grant_type=client_credentials&client_secret={}",
        client.client_secret
    );
    assert_error(
        app.token_request(&form, creds).await,
        400,
        "invalid_request",
    )
    .await;

    // No authentication at all.
    assert_error(
        app.token_request("grant_type=client_credentials", None)
            .await,
        401,
        "invalid_client",
    )
    .await;

    // Oversized body.
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(70 * 1024)
    );
    let resp = app.token_request(&big, creds).await;
    assert_eq!(resp.status(), 413);
}

/// RFC 6749 §2.3.1 forbids two authentication *methods*; a `client_id` field that names the
/// Basic user (as requests-oauthlib and Swagger UI send it) only identifies the client.
#[actix_web::test]
async fn basic_with_the_same_client_id_in_the_body_gets_a_token_and_a_different_one_is_invalid_request(
) {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let other = app.create_app(&["cases:read"], "sandbox").await;
    let creds = Some((client.client_id.as_str(), client.client_secret.as_str()));

    let same = format!(
        "grant_type=client_credentials&client_id={}",
        client.client_id
    );
    let resp = app.token_request(&same, creds).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["sub"],
        client.client_id.as_str()
    );

    let different = format!(
        "grant_type=client_credentials&client_id={}",
        other.client_id
    );
    let body = assert_error(
        app.token_request(&different, creds).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("client_id"));
}

#[actix_web::test]
async fn unknown_client_and_wrong_secret_are_indistinguishable() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;

    let wrong = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, "cfsec_wrong")),
        )
        .await;
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Basic realm=\"caseforge\""
    );
    let wrong = assert_error(wrong, 401, "invalid_client").await;
    let unknown = app
        .token_request(
            "grant_type=client_credentials",
            Some(("app_doesnotexist", "cfsec_wrong")),
        )
        .await;
    assert_eq!(
        unknown.headers()["www-authenticate"],
        "Basic realm=\"caseforge\""
    );
    let unknown = assert_error(unknown, 401, "invalid_client").await;
    assert_eq!(wrong, unknown);

    // client_secret_post failures carry no Basic challenge.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret=nope",
        client.client_id
    );
    let resp = app.token_request(&form, None).await;
    assert!(resp.headers().get("www-authenticate").is_none());
    assert_error(resp, 401, "invalid_client").await;
}

#[actix_web::test]
async fn a_secret_with_an_extra_or_altered_tail_fails() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let longer = format!("{}{}", client.client_secret, "x".repeat(40));
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &longer)),
        )
        .await;
    assert_error(resp, 401, "invalid_client").await;
    let mut altered = client.client_secret.clone();
    altered.pop();
    altered.push(if client.client_secret.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &altered)),
        )
        .await;
    assert_error(resp, 401, "invalid_client").await;
    // The real secret still works (no lock-out from two failures).
    app.token_for(&client, None).await;
}

#[actix_web::test]
async fn disabled_and_deleted_applications_cannot_get_tokens() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    app.token_for(&client, None).await; // now cached as verified
    let path = format!("/admin/applications/{}", client.client_id);
    assert_eq!(
        app.admin_patch(&path, &json!({"disabled": true}))
            .await
            .status(),
        200
    );
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_error(resp, 401, "invalid_client").await;

    assert_eq!(
        app.admin_patch(&path, &json!({"disabled": false}))
            .await
            .status(),
        200
    );
    app.token_for(&client, None).await;

    assert_eq!(app.admin_delete(&path).await.status(), 204);
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_error(resp, 401, "invalid_client").await;
}

async fn rotate(app: &TestApp, client_id: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(&format!("/admin/applications/{client_id}/rotate-secret")))
        .bearer_auth(&app.admin_token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    app.token_request("grant_type=client_credentials", Some((client_id, secret)))
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn rotation_with_zero_grace_stops_the_old_secret_at_once() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    app.token_for(&client, None).await; // cached as verified
    let resp = rotate(
        &app,
        &client.client_id,
        Some(json!({"grace_period_seconds": 0})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let new_secret = body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, client.client_secret);

    let old = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_error(old, 401, "invalid_client").await;
    assert_eq!(
        token_status(&app, &client.client_id, &new_secret).await,
        200
    );
}

/// A rotation whose answer never reached anyone (a killed CLI, a dropped connection) must not
/// lock the application out: without a grace period the old secret keeps working until the new
/// one is first used, and stops then — even across several rotations whose answers were lost.
#[actix_web::test]
async fn rotation_without_grace_keeps_the_old_secret_until_the_new_one_is_used() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    // Two rotations whose answers are "lost": nobody reads the new secrets.
    assert_eq!(rotate(&app, &client.client_id, None).await.status(), 200);
    assert_eq!(rotate(&app, &client.client_id, None).await.status(), 200);
    assert_eq!(
        token_status(&app, &client.client_id, &client.client_secret).await,
        200,
        "the secret the client holds still works: nobody is locked out"
    );
    let body: Value = rotate(&app, &client.client_id, None)
        .await
        .json()
        .await
        .unwrap();
    let newest = body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        token_status(&app, &client.client_id, &client.client_secret).await,
        200,
        "still, until the new secret is used"
    );
    assert_eq!(
        token_status(&app, &client.client_id, &newest).await,
        200,
        "the new secret works"
    );
    assert_eq!(
        token_status(&app, &client.client_id, &client.client_secret).await,
        401,
        "once the new secret was used, the old one stops"
    );
}

#[actix_web::test]
async fn concurrent_rotations_leave_every_returned_secret_valid_or_answer_409() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let rotations = (0..6).map(|_| {
        let app = &app;
        let id = client.client_id.clone();
        async move { rotate(app, &id, Some(json!({"grace_period_seconds": 0}))).await }
    });
    let responses = futures_util::future::join_all(rotations).await;
    let mut secrets = Vec::new();
    for resp in responses {
        match resp.status().as_u16() {
            200 => secrets.push(
                resp.json::<Value>().await.unwrap()["client_secret"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            409 => {
                assert_error(resp, 409, "conflict").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!secrets.is_empty());
    // With no grace period exactly one secret is valid: every 200 handed out a secret that was
    // current when answered, and the last writer's is the one that works.
    let working = {
        let mut n = 0;
        for s in &secrets {
            if token_status(&app, &client.client_id, s).await == 200 {
                n += 1;
            }
        }
        n
    };
    assert_eq!(working, 1, "{} rotations answered 200", secrets.len());
}

#[actix_web::test]
async fn rotation_with_grace_keeps_both_secrets_working() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let body: Value = app
        .admin_post(
            &format!("/admin/applications/{}/rotate-secret", client.client_id),
            &json!({"grace_period_seconds": 600}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = body["client_secret"].as_str().unwrap();
    for secret in [client.client_secret.as_str(), new_secret] {
        let resp = app
            .token_request(
                "grant_type=client_credentials",
                Some((&client.client_id, secret)),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    let resp = app
        .admin_post(
            &format!("/admin/applications/{}/rotate-secret", client.client_id),
            &json!({"grace_period_seconds": -5}),
        )
        .await;
    assert_error(resp, 422, "validation_failed").await;
}

#[actix_web::test]
async fn repeated_failures_are_throttled_but_the_real_client_keeps_working() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    app.token_for(&client, None).await; // the real client authenticated recently

    let mut throttled = None;
    for _ in 0..15 {
        let resp = app
            .token_request(
                "grant_type=client_credentials",
                Some((&client.client_id, "cfsec_guess")),
            )
            .await;
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
        assert_eq!(resp.status(), 401);
    }
    let resp = throttled.expect("throttled after repeated failures");
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_error(resp, 429, "rate_limited").await;

    // The guesser stays throttled even with a different wrong secret...
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, "cfsec_other")),
        )
        .await;
    assert_eq!(resp.status(), 429);
    // ...while the real client is not locked out.
    app.token_for(&client, None).await;
}

#[actix_web::test]
async fn concurrent_token_requests_and_registrations_never_fail() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let http = app.http.clone();
        let base = app.address.clone();
        let token = app.admin_token.clone();
        let c = client.clone();
        tasks.push(actix_web::rt::spawn(async move {
            if i % 2 == 0 {
                http.post(format!("{base}/admin/applications"))
                    .bearer_auth(token)
                    .json(&json!({"name": format!("app {i}"), "scopes": ["cases:read"]}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            } else {
                http.post(format!("{base}/oauth/token"))
                    .basic_auth(c.client_id, Some(c.client_secret))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let status = t.await.unwrap();
        assert_eq!(status, if i % 2 == 0 { 201 } else { 200 }, "request {i}");
    }
    let list: Value = app
        .admin_get("/admin/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 13);
}

#[actix_web::test]
async fn hostile_client_ids_are_invalid_client_never_500() {
    let app = spawn_app().await;
    for id in [
        "app_a\u{0}b",
        "'; DROP TABLE applications; --",
        "app_é",
        &"a".repeat(4000),
    ] {
        let resp = app
            .token_request("grant_type=client_credentials", Some((id, "cfsec_x")))
            .await;
        assert_error(resp, 401, "invalid_client").await;
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret=x",
            serde_urlencoded::to_string([("v", id)])
                .unwrap()
                .trim_start_matches("v=")
        );
        assert_error(app.token_request(&form, None).await, 401, "invalid_client").await;
    }
}

#[actix_web::test]
async fn successive_rotations_with_grace_chain_correctly() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let rotate = || async {
        let body: Value = app
            .admin_post(
                &format!("/admin/applications/{}/rotate-secret", client.client_id),
                &json!({"grace_period_seconds": 600}),
            )
            .await
            .json()
            .await
            .unwrap();
        body["client_secret"].as_str().unwrap().to_owned()
    };
    let second = rotate().await;
    let third = rotate().await;
    let status = |secret: String| {
        let id = client.client_id.clone();
        let app = &app;
        async move {
            app.token_request("grant_type=client_credentials", Some((&id, &secret)))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(third).await, 200, "the newest secret works");
    assert_eq!(
        status(second).await,
        200,
        "the one it replaced works during the grace period"
    );
    assert_eq!(
        status(client.client_secret.clone()).await,
        401,
        "the first one is gone"
    );
}
