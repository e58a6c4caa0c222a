//! Outbound HTTPS (rustls, system roots, `SSL_CERT_FILE`) end to end: a CA the test makes, an
//! HTTPS front for a real auth server, and the real `resource-api` binary or a child test
//! process, since `SSL_CERT_FILE` is process-wide and must not be set inside this one.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{eventually, TestStack};

/// A fresh CA (its PEM in a temporary file) and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
struct TestCa {
    _dir: tempfile::TempDir,
    ca_pem: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    fn new() -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "CaseForge test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        let server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        TestCa {
            _dir: dir,
            ca_pem,
            server: Arc::new(server),
        }
    }
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Forwards one request to the plain-HTTP `upstream`, as a TLS-terminating proxy would.
async fn forward(req: HttpRequest, body: web::Bytes, upstream: web::Data<String>) -> HttpResponse {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = reqwest::Client::new()
        .request(method, format!("{}{path}", upstream.get_ref()))
        .body(body.to_vec());
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = req.headers().get(name) {
            out = out.header(name, v.as_bytes());
        }
    }
    let Ok(resp) = out.send().await else {
        return HttpResponse::BadGateway().finish();
    };
    let mut answer = HttpResponse::build(StatusCode::from_u16(resp.status().as_u16()).unwrap());
    if let Some(ct) = resp.headers().get("content-type") {
        answer.insert_header(("content-type", ct.as_bytes()));
    }
    answer.body(resp.bytes().await.unwrap_or_default())
}

/// An HTTPS server on `listener` with the CA's server certificate, in front of `upstream`.
fn https_front(listener: TcpListener, ca: &TestCa, upstream: &str) -> actix_web::dev::ServerHandle {
    let upstream = web::Data::new(upstream.to_owned());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(upstream.clone())
            .default_service(web::to(forward))
    })
    .workers(1)
    .listen_rustls_0_23(listener, (*ca.server).clone())
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

/// Another auth server on the stack's database whose issuer is `issuer` (the HTTPS name it is
/// published under); returns its plain-HTTP address.
async fn auth_server_as(s: &TestStack, issuer: &str) -> String {
    let (l, port) = listener();
    let mut config = auth_server::Config::for_tests(s.db.url(), issuer);
    config.common.database_listen_url = None;
    let app = auth_server::Application::build_with_listener(config, l)
        .await
        .unwrap();
    actix_web::rt::spawn(app.run_until_stopped());
    format!("http://127.0.0.1:{port}")
}

/// A token for a new application, from the auth server at `auth` (so `iss` is its issuer).
async fn token_from(s: &TestStack, auth: &str) -> String {
    let (id, secret, _) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    let resp: Value = s
        .http
        .post(format!("{auth}/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["access_token"].as_str().unwrap().to_owned()
}

/// The `resource-api` binary, killed on drop.
struct ApiProcess {
    child: Child,
    base: String,
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ApiProcess {
    /// Stops the process and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut log = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut log).unwrap();
        }
        log
    }

    /// Starts the binary on the stack's database with `AUTH_ISSUER=issuer` and `env`; no
    /// trust or JWKS settings are inherited from the test's own environment.
    async fn start(s: &TestStack, issuer: &str, env: &[(&str, &str)]) -> ApiProcess {
        let (l, port) = listener();
        drop(l);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_resource-api"));
        cmd.env("DATABASE_URL", s.db.url())
            .env("API_BIND", format!("127.0.0.1:{port}"))
            .env("AUTH_ISSUER", issuer)
            .env("RUST_LOG", "warn")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env_remove("JWKS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let p = ApiProcess {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let health = format!("{}/healthz", p.base);
        eventually(Duration::from_secs(10), || async {
            s.http
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        p
    }

    async fn ready(&self, s: &TestStack) -> u16 {
        s.http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn me(&self, s: &TestStack, token: &str) -> u16 {
        s.http
            .get(format!("{}/v2/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[actix_web::test]
async fn the_resource_api_discovers_the_jwks_over_https_trusting_ssl_cert_file() {
    let s = TestStack::start().await;
    let ca = TestCa::new();
    let (front, front_port) = listener();
    let issuer = format!("https://127.0.0.1:{front_port}");
    let auth = auth_server_as(&s, &issuer).await;
    let _front = https_front(front, &ca, &auth);
    let token = token_from(&s, &auth).await;

    let api = ApiProcess::start(
        &s,
        &issuer,
        &[("SSL_CERT_FILE", ca.ca_pem.to_str().unwrap())],
    )
    .await;
    eventually(Duration::from_secs(10), || async {
        api.ready(&s).await == 200
    })
    .await;
    assert_eq!(api.me(&s, &token).await, 200);

    // The same, without the CA trusted: up, never ready, tokens refused, no crash.
    let mut untrusted = ApiProcess::start(&s, &issuer, &[]).await;
    for _ in 0..3 {
        // JWKS_RETRY is 2 s: these span at least one retry after the failed start-up fetch.
        assert_eq!(untrusted.ready(&s).await, 503);
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(untrusted.me(&s, &token).await, 401);
    assert!(
        untrusted.child.try_wait().unwrap().is_none(),
        "still running"
    );
    let log = untrusted.stop();
    assert!(
        log.contains("/.well-known/oauth-authorization-server") && log.contains("certificate"),
        "the log says why: {log}"
    );
}

#[actix_web::test]
async fn jwks_url_is_used_when_the_issuer_metadata_is_unreachable() {
    let s = TestStack::start().await;
    let ca = TestCa::new();
    // The public issuer name is not reachable from here (nothing listens on it); the keys are,
    // over HTTPS at another name: as in compose, where containers use internal names.
    let (gone, gone_port) = listener();
    drop(gone);
    let issuer = format!("https://127.0.0.1:{gone_port}");
    let auth = auth_server_as(&s, &issuer).await;
    let (front, front_port) = listener();
    let _front = https_front(front, &ca, &auth);
    let token = token_from(&s, &auth).await;

    let jwks_url = format!("https://localhost:{front_port}/.well-known/jwks.json");
    let api = ApiProcess::start(
        &s,
        &issuer,
        &[
            ("SSL_CERT_FILE", ca.ca_pem.to_str().unwrap()),
            ("JWKS_URL", &jwks_url),
        ],
    )
    .await;
    eventually(Duration::from_secs(10), || async {
        api.ready(&s).await == 200
    })
    .await;
    assert_eq!(api.me(&s, &token).await, 200);
}

#[actix_web::test]
async fn a_bad_jwks_url_or_ssl_cert_file_is_one_line_naming_the_variable() {
    for (var, value) in [
        ("JWKS_URL", "auth-server:8081/.well-known/jwks.json"),
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_resource-api"))
            .env("DATABASE_URL", "sqlite://:memory:")
            .env("API_BIND", "127.0.0.1:0")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

/// Runs [`token_source_child`] in a new process of this test binary with `env`.
async fn run_child(env: Vec<(&'static str, String)>) -> Output {
    let exe = std::env::current_exe().unwrap();
    actix_web::rt::task::spawn_blocking(move || {
        let mut cmd = Command::new(exe);
        cmd.args([
            "--exact",
            "tls::token_source_child",
            "--ignored",
            "--nocapture",
        ])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_token_source_gets_a_token_from_an_https_endpoint_trusting_ssl_cert_file() {
    let s = TestStack::start().await;
    let ca = TestCa::new();
    let (front, front_port) = listener();
    let _front = https_front(front, &ca, &s.auth);
    let app = s
        .admin_post(
            "/admin/applications",
            &json!({"name": "svc", "scopes": ["cases:read"], "environment": "sandbox", "tier": "unlimited"}),
        )
        .await;
    let env = |expect: &str, trust: bool| {
        let mut env = vec![
            (
                "CF_CHILD_TOKEN_URL",
                format!("https://localhost:{front_port}/oauth/token"),
            ),
            ("CF_CHILD_ID", app["client_id"].as_str().unwrap().to_owned()),
            (
                "CF_CHILD_SECRET",
                app["client_secret"].as_str().unwrap().to_owned(),
            ),
            ("CF_CHILD_EXPECT", expect.to_owned()),
        ];
        if trust {
            env.push(("SSL_CERT_FILE", ca.ca_pem.to_str().unwrap().to_owned()));
        }
        env
    };
    for (expect, trust) in [("token", true), ("network", false)] {
        let out = run_child(env(expect, trust)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{expect}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The child half of the test above: only meaningful in the process it starts.
#[actix_web::test]
#[ignore = "run by the_token_source_gets_a_token_from_an_https_endpoint_trusting_ssl_cert_file"]
async fn token_source_child() {
    let var = |k: &str| std::env::var(k).unwrap();
    let tokens = shared::client::TokenSource::new(
        &var("CF_CHILD_TOKEN_URL"),
        var("CF_CHILD_ID"),
        var("CF_CHILD_SECRET"),
        &["cases:read"],
    )
    .unwrap();
    let got = tokens.token().await;
    match var("CF_CHILD_EXPECT").as_str() {
        "token" => assert_eq!(got.unwrap().expose().split('.').count(), 3, "a JWT"),
        _ => assert!(
            matches!(&got, Err(shared::client::TokenError::Network(m)) if m.contains("certificate")),
            "{got:?}"
        ),
    }
}
