//! `TestApp`: start the real auth server against a fresh database and talk HTTP to it.

use auth_server::{Application, Config};
use serde_json::{json, Value};

pub use shared::testing::TestDb;

pub const ISSUER: &str = "http://caseforge.test";
pub const AUDIENCE: &str = "caseforge-api";

pub struct TestApp {
    pub address: String,
    /// The `METRICS_BIND` port, when the test set one.
    pub metrics_port: Option<u16>,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub db: TestDb,
    /// The server's refused attempts not yet written to the audit trail (flush them in a test
    /// instead of waiting for the window).
    pub refusals: std::sync::Arc<auth_server::service::audit::AuditAggregator>,
}

/// The admin token of every test server (at least 32 characters, as the server demands).
pub const ADMIN_TOKEN: &str = auth_server::config::TEST_ADMIN_TOKEN;

/// One fixed key-encryption key, so that servers restarted on the same database open its keys.
pub fn test_kek() -> auth_server::kek::Kek {
    auth_server::kek::Kek::from_bytes([42; 32])
}

/// The audit chain's key under [`test_kek`]: what the service layer needs to write events to a
/// test server's database directly.
pub fn audit_key() -> auth_server::service::audit::AuditKey {
    auth_server::service::audit::AuditKey::from_kek(&test_kek())
}

pub fn test_config(db_url: &str) -> Config {
    Config::for_tests(db_url, ISSUER)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::create();
    spawn_on(db, adjust).await
}

/// Starts a server on an existing database (restart tests).
pub async fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(db.url());
    adjust(&mut config);
    let admin_token = config
        .admin_token
        .as_ref()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let app = Application::build(config).await.expect("server builds");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let refusals = app.refusals();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_port,
        http: reqwest::Client::new(),
        admin_token,
        db,
        refusals,
    }
}

/// An application's credentials as created through the admin API.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `GET path` without credentials, decoded as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn admin_patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_app(&self, scopes: &[&str], environment: &str) -> Client {
        let resp = self
            .admin_post(
                "/admin/applications",
                &json!({"name": "test app", "scopes": scopes, "environment": environment}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.expect("json");
        Client {
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }

    /// `POST /oauth/token` with a raw form body and optional Basic credentials.
    pub async fn token_request(
        &self,
        form: &str,
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/oauth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("request")
    }

    /// A token for `client`, asserting success.
    pub async fn token_for(&self, client: &Client, scope: Option<&str>) -> String {
        let form = match scope {
            Some(s) => format!(
                "grant_type=client_credentials&scope={}",
                s.replace(' ', "+")
            ),
            None => "grant_type=client_credentials".to_owned(),
        };
        let resp = self
            .token_request(&form, Some((&client.client_id, &client.client_secret)))
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `POST` a form to an OAuth endpoint with Basic credentials.
    pub async fn oauth_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        client: &Client,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("request")
    }

    pub async fn introspect(&self, token: &str, client: &Client) -> Value {
        let resp = self
            .oauth_form("/oauth/introspect", &[("token", token)], client)
            .await;
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("json")
    }
}

/// Asserts the JSON error envelope and returns it.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let body: Value = resp.json().await.expect("json body");
    assert_eq!(body["error"], code, "body {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "description in {body}"
    );
    body
}

/// Decodes a JWT's payload without verifying it (for inspecting claims in tests).
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json claims")
}
