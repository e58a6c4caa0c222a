//! The `resource-api` binary: SIGTERM drains and flushes batched state; bad configuration is
//! one clear line.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::TestStack;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the `resource-api` binary (with `args`) on `port` against the stack's database and
/// the issuer `issuer`, logging only errors, its output discarded.
fn spawn_api(s: &TestStack, args: &[&str], port: u16, issuer: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_resource-api"))
        .args(args)
        .env("DATABASE_URL", s.db.url())
        .env("API_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", issuer)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[actix_web::test]
async fn sigterm_flushes_last_used_and_exits_cleanly() {
    let s = TestStack::start().await;
    let (key_id, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resource-api"))
        .env("DATABASE_URL", s.db.url())
        .env("API_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", &s.auth)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    crate::helpers::eventually(Duration::from_secs(10), || async {
        s.http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let resp = s
        .http
        .get(format!("{base}/v2/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The binary flushes last_used_at every 30 s; only the shutdown flush can write it now.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            exited = Some(st);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let exited = exited.expect("exits after SIGTERM");
    assert!(exited.success(), "{exited:?}");
    let shown: Value = s
        .admin(
            reqwest::Method::GET,
            &format!("/admin/api-keys/{key_id}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        shown["last_used_at"].is_string(),
        "flushed at shutdown: {shown}"
    );
}

#[test]
fn bad_configuration_is_one_line_naming_the_variable() {
    for (var, value) in [
        ("API_BIND", "nowhere"),
        ("AUTH_ISSUER", "auth.example.com"),
        ("DATABASE_URL", "mysql://x/y"),
        ("METRICS_BIND", "internal-only"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_resource-api"))
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[actix_web::test]
async fn an_unreachable_auth_server_is_not_fatal_and_readyz_says_503() {
    let s = TestStack::start().await;
    let port = free_port();
    let mut child = spawn_api(&s, &[], port, "http://127.0.0.1:9");
    let base = format!("http://127.0.0.1:{port}");
    crate::helpers::eventually(Duration::from_secs(10), || async {
        s.http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let ready = s.http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running, retrying"
    );
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn help_and_version_answer_without_starting_a_server() {
    for (flag, expected) in [
        (
            "--version",
            concat!("resource-api ", env!("CARGO_PKG_VERSION")),
        ),
        ("--help", "Usage: resource-api"),
    ] {
        // A bad configuration would make a starting server fail: these must not get that far.
        let out = Command::new(env!("CARGO_BIN_EXE_resource-api"))
            .arg(flag)
            .env("API_BIND", "not-an-address")
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expected), "{flag}: {stdout}");
    }
}

#[actix_web::test]
async fn a_request_id_is_taken_or_made_and_echoed_on_every_response() {
    let s = TestStack::start().await;
    let echoed = s
        .http
        .get(format!("{}/healthz", s.api))
        .header("X-Request-Id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc_123");
    // Made up when absent or unusable, on errors too.
    for resp in [
        s.http.get(format!("{}/v2/me", s.api)).send().await.unwrap(),
        s.http
            .get(format!("{}/healthz", s.api))
            .header("X-Request-Id", "bad id with spaces")
            .send()
            .await
            .unwrap(),
    ] {
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
}

fn healthcheck(port: u16) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_resource-api"))
        .arg("healthcheck")
        .env("API_BIND", format!("0.0.0.0:{port}"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `resource-api serve` is what `resource-api` alone does; `resource-api healthcheck` exits 0
/// only while the server on API_BIND answers `/readyz` 200 (the container health check).
#[actix_web::test]
async fn healthcheck_follows_readyz_of_the_server_on_api_bind() {
    let s = TestStack::start().await;
    let port = free_port();
    // Nothing answers at this issuer: the server runs, but is not ready without signing keys.
    let mut child = spawn_api(&s, &["serve"], port, "http://127.0.0.1:9");
    let base = format!("http://127.0.0.1:{port}");
    crate::helpers::eventually(Duration::from_secs(10), || async {
        s.http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let out = actix_web::web::block(move || healthcheck(port))
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("503"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    child.kill().unwrap();
    let _ = child.wait();

    let port = free_port();
    let mut child = spawn_api(&s, &["serve"], port, &s.auth);
    crate::helpers::eventually(Duration::from_secs(10), || async {
        actix_web::web::block(move || healthcheck(port).status.success())
            .await
            .unwrap()
    })
    .await;
    child.kill().unwrap();
    let _ = child.wait();
    let out = actix_web::web::block(move || healthcheck(port))
        .await
        .unwrap();
    assert!(!out.status.success(), "nothing listens any more");
}
