//! Two auth servers and two resource APIs on one PostgreSQL and one Redis: the deployment of
//! "Running several replicas". It needs PostgreSQL (`TEST_DATABASE_URL=postgres://…`) and a
//! `redis-server` binary (on `PATH`, or `TEST_REDIS_SERVER`), which the test starts on a free
//! port and kills and restarts itself; without either it prints why and passes. `.ci/run`
//! provides both.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::testing::TestDb;

const ADMIN: &str = auth_server::config::TEST_ADMIN_TOKEN;

fn kek() -> auth_server::kek::Kek {
    auth_server::kek::Kek::from_bytes([42; 32])
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = l.local_addr().expect("bound").port();
    (l, port)
}

/// A throwaway `redis-server` on one port, which can be killed and started again.
struct Redis {
    bin: String,
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn binary() -> Option<String> {
        let bin = std::env::var("TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let found = Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then_some(bin)
    }

    fn start(bin: String) -> Redis {
        let port = listener().1;
        let mut r = Redis {
            bin,
            port,
            child: None,
        };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Cluster {
    auth: [String; 2],
    api: Vec<String>,
    http: reqwest::Client,
    db: TestDb,
    redis: Redis,
    issuer: String,
}

async fn start_auth(db: &TestDb, issuer: &str, redis: &str, l: TcpListener) {
    let mut config = auth_server::Config::for_tests(db.url(), issuer);
    config.common.redis_url = Some(redis.to_owned());
    config.common.database_listen_url = Some(db.url().to_owned());
    let app = auth_server::Application::build_with_listener(config, l)
        .await
        .expect("auth server starts");
    actix_web::rt::spawn(app.run_until_stopped());
}

/// A resource API replica reading the JWKS from `jwks_from` (one of the auth servers).
async fn start_api(db: &TestDb, issuer: &str, jwks_from: &str, redis: &str) -> String {
    start_api_at(db, issuer, jwks_from, redis, None).await
}

/// As [`start_api`], with `API_PUBLIC_URL` given (replicas behind one balancer share it).
async fn start_api_at(
    db: &TestDb,
    issuer: &str,
    jwks_from: &str,
    redis: &str,
    public_url: Option<&str>,
) -> String {
    let (l, port) = listener();
    let mut config = resource_api::Config::for_tests(db.url(), issuer);
    config.public_url = public_url
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    config.jwks_url = Some(format!("{jwks_from}/.well-known/jwks.json"));
    config.last_used_flush = Duration::from_secs(30);
    config.common.redis_url = Some(redis.to_owned());
    config.common.database_listen_url = Some(db.url().to_owned());
    let app = resource_api::Application::build_with_listener(config, l)
        .await
        .expect("resource API starts");
    actix_web::rt::spawn(app.run_until_stopped());
    format!("http://127.0.0.1:{port}")
}

impl Cluster {
    /// `None` (with the reason printed) when PostgreSQL or redis-server is missing.
    async fn start() -> Option<Cluster> {
        let pg = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
        if !pg.starts_with("postgres") {
            eprintln!("skipped: the cluster test needs TEST_DATABASE_URL=postgres://… (replicas share one PostgreSQL)");
            return None;
        }
        let Some(bin) = Redis::binary() else {
            eprintln!(
                "skipped: no redis-server on PATH (or TEST_REDIS_SERVER); .ci/run installs it"
            );
            return None;
        };
        let redis = Redis::start(bin);
        let db = TestDb::create();
        let (la, pa) = listener();
        let (lb, pb) = listener();
        let auth = [
            format!("http://127.0.0.1:{pa}"),
            format!("http://127.0.0.1:{pb}"),
        ];
        // Behind a load balancer both auth servers are one issuer.
        let issuer = auth[0].clone();
        start_auth(&db, &issuer, &redis.url(), la).await;
        start_auth(&db, &issuer, &redis.url(), lb).await;
        let api = vec![
            start_api(&db, &issuer, &auth[0], &redis.url()).await,
            start_api(&db, &issuer, &auth[1], &redis.url()).await,
        ];
        Some(Cluster {
            auth,
            api,
            http: reqwest::Client::new(),
            db,
            redis,
            issuer,
        })
    }

    async fn admin(&self, n: usize, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.auth[n]))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("auth server answers");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn app(&self, scopes: &[&str], tier: &str) -> (String, String) {
        let app = self
            .admin(
                0,
                Method::POST,
                "/admin/applications",
                Some(
                    json!({"name": "c", "scopes": scopes, "environment": "sandbox", "tier": tier}),
                ),
            )
            .await;
        (
            app["client_id"].as_str().expect("id").to_owned(),
            app["client_secret"].as_str().expect("secret").to_owned(),
        )
    }

    async fn token_response(&self, n: usize, id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth/token", self.auth[n]))
            .basic_auth(id, Some(secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .expect("auth server answers")
    }

    async fn token(&self, n: usize, id: &str, secret: &str) -> String {
        let resp = self.token_response(n, id, secret).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    async fn key(&self, tier: &str) -> (String, String) {
        let k = self
            .admin(
                1,
                Method::POST,
                "/admin/api-keys",
                Some(json!({"name": "k", "environment": "sandbox", "scopes": ["cases:read"], "tier": tier})),
            )
            .await;
        (
            k["id"].as_str().expect("id").to_owned(),
            k["key"].as_str().expect("key").to_owned(),
        )
    }

    async fn get(&self, replica: usize, path: &str, credential: &str) -> StatusCode {
        self.http
            .get(format!("{}{path}", self.api[replica]))
            .bearer_auth(credential)
            .send()
            .await
            .expect("resource API answers")
            .status()
    }

    /// Sends `n` requests alternately to both replicas: how many were allowed. Anything but
    /// 200 or 429 fails the test (no 5xx, whatever Redis does).
    async fn allowed_alternating(&self, credential: &str, n: usize) -> usize {
        let mut allowed = 0;
        for i in 0..n {
            match self.get(i % 2, "/v2/me", credential).await {
                StatusCode::OK => allowed += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("request {i}: {other}"),
            }
        }
        allowed
    }

    /// Waits (bounded) until every replica answers `want` for `credential` on `path`.
    async fn refused_everywhere(&self, what: &str, path: &str, credential: &str, want: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut all = true;
            for r in 0..self.api.len() {
                all &= self.get(r, path, credential).await.as_u16() == want;
            }
            if all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not refused with {want} by every replica within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn accepted_everywhere(&self, what: &str, credential: &str) {
        for r in 0..self.api.len() {
            assert_eq!(
                self.get(r, "/v2/me", credential).await,
                200,
                "{what} on replica {r}"
            );
        }
    }
}

fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

#[actix_web::test]
async fn two_of_each_service_share_one_budget_and_every_revocation() {
    let Some(mut c) = Cluster::start().await else {
        return;
    };

    // One budget: a `basic` key (burst 10, 60/min) sent alternately to both replicas gets
    // its burst once, not twice (at most a token or two refill while the test runs).
    let (_, basic) = c.key("basic").await;
    let allowed = c.allowed_alternating(&basic, 30).await;
    assert!((10..=12).contains(&allowed), "allowed {allowed} of 30");

    // The failed-authentication throttle per client_id is shared by both auth servers: ten
    // wrong secrets in all, then 429 from either.
    let (victim, _) = c.app(&["cases:read"], "standard").await;
    for i in 0..10 {
        let resp = c.token_response(i % 2, &victim, "wrong-secret").await;
        assert_eq!(resp.status(), 401, "failure {i}");
    }
    for n in 0..2 {
        let resp = c.token_response(n, &victim, "wrong-secret").await;
        assert_eq!(resp.status(), 429, "auth server {n}");
    }

    // Every kind of revocation, made through one auth server, is refused by both replicas.
    let (id, secret) = c.app(&["cases:read"], "unlimited").await;
    let token = c.token(0, &id, &secret).await;
    c.accepted_everywhere("a fresh token", &token).await;
    let resp = c
        .http
        .post(format!("{}/oauth/revoke", c.auth[1]))
        .basic_auth(&id, Some(&secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("revoke");
    assert_eq!(resp.status(), 200);
    c.refused_everywhere("revoked token", "/v2/me", &token, 401)
        .await;

    let (key_id, key) = c.key("unlimited").await;
    c.accepted_everywhere("a fresh key", &key).await;
    c.admin(
        0,
        Method::DELETE,
        &format!("/admin/api-keys/{key_id}"),
        None,
    )
    .await;
    c.refused_everywhere("revoked key", "/v2/me", &key, 401)
        .await;

    let (id, secret) = c.app(&["cases:read"], "unlimited").await;
    let token = c.token(1, &id, &secret).await;
    c.accepted_everywhere("before disabling", &token).await;
    let path = format!("/admin/applications/{id}");
    c.admin(1, Method::PATCH, &path, Some(json!({"disabled": true})))
        .await;
    c.refused_everywhere("disabled application", "/v2/me", &token, 401)
        .await;

    let (id, secret) = c.app(&["cases:read", "watchlist:read"], "unlimited").await;
    let token = c.token(0, &id, &secret).await;
    for r in 0..2 {
        assert_eq!(c.get(r, "/v2/cases", &token).await, 200, "replica {r}");
    }
    let path = format!("/admin/applications/{id}");
    c.admin(
        0,
        Method::PATCH,
        &path,
        Some(json!({"scopes": ["watchlist:read"]})),
    )
    .await;
    c.refused_everywhere("removed scope", "/v2/cases", &token, 403)
        .await;

    let (id, secret) = c.app(&["cases:read"], "unlimited").await;
    let token = c.token(0, &id, &secret).await;
    c.accepted_everywhere("before revoke-all", &token).await;
    // `tokens_not_before` has one-second resolution on the token's side (`iat`).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.admin(
        1,
        Method::POST,
        &format!("/admin/applications/{id}/revoke-tokens"),
        None,
    )
    .await;
    c.refused_everywhere("revoke-all", "/v2/me", &token, 401)
        .await;

    // A signing-key rotation (the ops CLI's `keys rotate`, on the one database) is picked up
    // by the other auth server, whose new tokens both replicas accept.
    let (id, secret) = c.app(&["cases:read"], "unlimited").await;
    let old_kid = kid(&c.token(1, &id, &secret).await);
    let db = shared::db::Db::connect(c.db.url(), 2).expect("database");
    let now = shared::time::now_micros();
    let new_kid = auth_server::service::signing::rotate(
        &db,
        &auth_server::service::audit::AuditContext::system(
            &auth_server::service::audit::AuditKey::from_kek(&kek()),
        ),
        &kek(),
        now,
    )
    .expect("rotate");
    assert_ne!(new_kid, old_kid);
    let deadline = Instant::now() + Duration::from_secs(10);
    let rotated = loop {
        let t = c.token(1, &id, &secret).await;
        if kid(&t) == new_kid {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "auth server 1 kept signing with the old key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = c.get(0, "/v2/me", &rotated).await;
        let b = c.get(1, "/v2/me", &rotated).await;
        if a == 200 && b == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "rotated key refused: {a} {b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.accepted_everywhere(
        "a token of auth server 0 after the rotation",
        &c.token(0, &id, &secret).await,
    )
    .await;

    // Redis killed: still serving, no 5xx (each replica limits alone), ready, and counted.
    c.redis.kill();
    let (_, basic2) = c.key("basic").await;
    let alone = c.allowed_alternating(&basic2, 40).await;
    assert!(
        (10..=22).contains(&alone),
        "allowed {alone} of 40 without redis"
    );
    for api in &c.api {
        let ready = c
            .http
            .get(format!("{api}/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200);
        let metrics = c
            .http
            .get(format!("{api}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let errors = metrics
            .lines()
            .find_map(|l| l.strip_prefix("caseforge_api_redis_errors_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("caseforge_api_redis_errors_total");
        assert!(errors >= 1.0, "{errors}");
    }
    // A token still comes from both auth servers (their limits and throttles are local now).
    let (id, secret) = c.app(&["cases:read"], "standard").await;
    for n in 0..2 {
        c.token(n, &id, &secret).await;
    }

    // Redis back: sharing resumes by itself (after the replicas' one-second backoff).
    c.redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (_, basic3) = c.key("basic").await;
        let allowed = c.allowed_alternating(&basic3, 30).await;
        if (10..=12).contains(&allowed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not shared again: allowed {allowed} of 30"
        );
    }

    // A replica restarted while credentials change: the new process refuses what was revoked
    // while it was down, and shares the budget with the other replica at once.
    let (key_id, key) = c.key("unlimited").await;
    c.accepted_everywhere("a key before the restart", &key)
        .await;
    c.api.pop();
    c.admin(
        0,
        Method::DELETE,
        &format!("/admin/api-keys/{key_id}"),
        None,
    )
    .await;
    let replacement = start_api(&c.db, &c.issuer, &c.auth[1], &c.redis.url()).await;
    c.api.push(replacement);
    c.refused_everywhere("a key revoked during the restart", "/v2/me", &key, 401)
        .await;
    let (_, basic4) = c.key("basic").await;
    let allowed = c.allowed_alternating(&basic4, 30).await;
    assert!(
        (10..=12).contains(&allowed),
        "allowed {allowed} of 30 after the restart"
    );
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn assertion_and_dpop_proof_replays_are_refused_across_replicas_through_redis() {
    use diesel::{Connection, RunQueryDsl};
    use shared::test_keys::TestKey;
    let Some(c) = Cluster::start().await else {
        return;
    };
    let now = || shared::time::now_micros() / 1_000_000;
    let client = TestKey::named("es256");
    let app = c
        .admin(
            0,
            Method::POST,
            "/admin/applications",
            Some(
                json!({"name": "signer", "scopes": ["cases:read"], "environment": "sandbox",
                        "token_endpoint_auth_method": "private_key_jwt",
                        "jwks": {"keys": [client.jwk]}, "dpop_bound_access_tokens": true}),
            ),
        )
        .await;
    let id = app["client_id"].as_str().expect("id");
    let assertion = client.sign(
        &json!({"alg": "ES256"}),
        &json!({"iss": id, "sub": id, "aud": c.issuer, "exp": now() + 60, "jti": "cluster-1"}),
    );
    let dpop = TestKey::named("eddsa");
    let token_url = format!("{}/oauth/token", c.issuer);
    let token_request = |n: usize, proof: String| {
        let (http, url, assertion) = (
            c.http.clone(),
            format!("{}/oauth/token", c.auth[n]),
            assertion.clone(),
        );
        async move {
            http.post(url)
                .header("DPoP", proof)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ])
                .send()
                .await
                .expect("auth server answers")
        }
    };
    let resp = token_request(0, dpop.dpop_proof("POST", &token_url, now(), None)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().expect("token").to_owned();
    // The same assertion on the other auth server (with a fresh proof): refused.
    let resp = token_request(1, dpop.dpop_proof("POST", &token_url, now(), None)).await;
    assert_eq!(resp.status(), 401);

    // Two resource APIs behind one public URL: a proof used on one is refused by the other.
    let public = c.api[0].clone();
    let twin = start_api_at(&c.db, &c.issuer, &c.auth[1], &c.redis.url(), Some(&public)).await;
    let proof = dpop.dpop_proof("GET", &format!("{public}/v2/cases"), now(), Some(&token));
    let call = |base: String, proof: String| {
        let (http, token) = (c.http.clone(), token.clone());
        async move {
            http.get(format!("{base}/v2/cases"))
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", proof)
                .send()
                .await
                .expect("resource API answers")
        }
    };
    assert_eq!(call(public.clone(), proof.clone()).await.status(), 200);
    let resp = call(twin, proof).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error_description"]
        .as_str()
        .unwrap_or("")
        .contains("used before"));

    // Redis held them: nothing reached the database's fallback table.
    let mut conn = diesel::PgConnection::establish(c.db.url()).expect("pg");
    let rows: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM seen_jtis")
        .load(&mut conn)
        .expect("count");
    assert_eq!(rows[0].n, 0);
}
