//! `TestStack`: the auth server and the resource API on one fresh database.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};
use shared::testing::TestDb;

pub const ADMIN: &str = auth_server::config::TEST_ADMIN_TOKEN;

/// The key-encryption key of every test auth server.
pub fn test_kek() -> auth_server::kek::Kek {
    auth_server::kek::Kek::from_bytes([42; 32])
}

pub struct TestStack {
    pub auth: String,
    pub api: String,
    pub http: reqwest::Client,
    pub db: TestDb,
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

pub fn api_config(db_url: &str, issuer: &str) -> resource_api::Config {
    resource_api::Config::for_tests(db_url, issuer)
}

impl TestStack {
    pub async fn start() -> TestStack {
        let mut s = TestStack::without_api().await;
        s.api = start_api(&s.db, &s.auth).await;
        s
    }

    /// The auth server alone on a fresh database (`api` empty): for tests that run the
    /// resource API as a process of their own.
    pub async fn without_api() -> TestStack {
        TestStack::auth_with(|_| {}).await
    }

    /// Both services, each configuration adjusted (e.g. `DPOP_NONCE_KEY` on both).
    pub async fn start_with(
        adjust_auth: impl FnOnce(&mut auth_server::Config),
        adjust_api: impl FnOnce(&mut resource_api::Config),
    ) -> TestStack {
        let mut s = TestStack::auth_with(adjust_auth).await;
        s.api = start_api_with(&s.db, &s.auth, adjust_api).await.0;
        s
    }

    async fn auth_with(adjust: impl FnOnce(&mut auth_server::Config)) -> TestStack {
        let db = TestDb::create();
        let (auth_listener, auth_port) = listener();
        let issuer = format!("http://127.0.0.1:{auth_port}");
        let mut auth_config = auth_server::Config::for_tests(db.url(), &issuer);
        adjust(&mut auth_config);
        let auth = auth_server::Application::build_with_listener(auth_config, auth_listener)
            .await
            .unwrap();
        actix_web::rt::spawn(auth.run_until_stopped());
        TestStack {
            auth: issuer,
            api: String::new(),
            http: reqwest::Client::new(),
            db,
        }
    }

    /// Starts another resource API on the same database (a restart, or a second replica).
    pub async fn another_api(&self) -> String {
        start_api(&self.db, &self.auth).await
    }

    /// As [`TestStack::another_api`], with its configuration adjusted: (base URL, the
    /// `METRICS_BIND` port if any).
    pub async fn another_api_with(
        &self,
        adjust: impl FnOnce(&mut resource_api::Config),
    ) -> (String, Option<u16>) {
        start_api_with(&self.db, &self.auth, adjust).await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.auth))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.auth))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// A new application and a token for it: (client_id, client_secret, token).
    pub async fn app_token(
        &self,
        scopes: &[&str],
        environment: &str,
        tier: &str,
    ) -> (String, String, String) {
        let app = self
            .admin_post(
                "/admin/applications",
                &json!({"name": "t", "scopes": scopes, "environment": environment, "tier": tier}),
            )
            .await;
        let (id, secret) = (
            app["client_id"].as_str().unwrap().to_owned(),
            app["client_secret"].as_str().unwrap().to_owned(),
        );
        let token = self.token(&id, &secret).await;
        (id, secret, token)
    }

    pub async fn token(&self, id: &str, secret: &str) -> String {
        let resp: Value = self
            .http
            .post(format!("{}/oauth/token", self.auth))
            .basic_auth(id, Some(secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        resp["access_token"].as_str().unwrap().to_owned()
    }

    /// A new API key: (id, key).
    pub async fn api_key(
        &self,
        scopes: &[&str],
        environment: &str,
        tier: &str,
    ) -> (String, String) {
        let k = self
            .admin_post(
                "/admin/api-keys",
                &json!({"name": "k", "scopes": scopes, "environment": environment, "tier": tier}),
            )
            .await;
        (
            k["id"].as_str().unwrap().to_owned(),
            k["key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        credential: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(credential);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, credential: &str) -> reqwest::Response {
        self.call(reqwest::Method::GET, path, credential, None)
            .await
    }

    pub async fn post(&self, path: &str, credential: &str, body: Value) -> reqwest::Response {
        self.call(reqwest::Method::POST, path, credential, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, credential: &str, body: Value) -> reqwest::Response {
        self.call(reqwest::Method::PATCH, path, credential, Some(body))
            .await
    }
}

async fn start_api(db: &TestDb, issuer: &str) -> String {
    start_api_with(db, issuer, |_| {}).await.0
}

async fn start_api_with(
    db: &TestDb,
    issuer: &str,
    adjust: impl FnOnce(&mut resource_api::Config),
) -> (String, Option<u16>) {
    let (l, port) = listener();
    let mut config = api_config(db.url(), issuer);
    config.public_url = format!("http://127.0.0.1:{port}");
    adjust(&mut config);
    let app = resource_api::Application::build_with_listener(config, l)
        .await
        .unwrap();
    let metrics_port = app.metrics_port();
    actix_web::rt::spawn(app.run_until_stopped());
    (format!("http://127.0.0.1:{port}"), metrics_port)
}

/// Asserts the JSON error envelope and returns it.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    body
}

/// Polls until `f` holds, for at most `limit`; returns how long it took.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return start.elapsed();
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within {limit:?}");
}

/// One row per backend a `SELECT pg_terminate_backend(pid) AS killed …` (or a `SELECT true AS
/// killed …` count) matched; the tests count them.
#[derive(diesel::QueryableByName)]
pub struct Killed {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[allow(dead_code)]
    pub killed: bool,
}
