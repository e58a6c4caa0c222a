//! The `auth-server` binary: ops commands, configuration errors, and what it logs.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_on, Client, TestDb};

fn cli(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run auth-server")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[actix_web::test]
async fn app_commands_create_credentials_the_server_accepts() {
    let db = TestDb::create();
    let created = stdout_json(&cli(
        &db,
        &[
            "app",
            "create",
            "--name",
            "batch job",
            "--scopes",
            "cases:read,sar:read",
            "--environment",
            "sandbox",
            "--tier",
            "enterprise",
        ],
    ));
    let client = Client {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    assert_eq!(created["tier"], "enterprise");

    let shown = stdout_json(&cli(&db, &["app", "show", &client.client_id]));
    assert_eq!(shown["name"], "batch job");
    assert!(shown.get("client_secret").is_none());
    let listed = stdout_json(&cli(&db, &["app", "list"]));
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let app = spawn_on(db, |_| {}).await;
    app.token_for(&client, Some("sar:read")).await;

    let rotated = stdout_json(&cli(&app.db, &["app", "rotate-secret", &client.client_id]));
    let new_client = Client {
        client_id: client.client_id.clone(),
        client_secret: rotated["client_secret"].as_str().unwrap().to_owned(),
    };
    app.token_for(&new_client, None).await;

    stdout_json(&cli(&app.db, &["app", "disable", &client.client_id]));
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&new_client.client_id, &new_client.client_secret)),
        )
        .await;
    assert_eq!(resp.status(), 401);

    let out = cli(&app.db, &["app", "delete", &client.client_id]);
    assert!(out.status.success());
    let out = cli(&app.db, &["app", "show", &client.client_id]);
    assert!(!out.status.success());
}

#[test]
fn invalid_flag_values_exit_non_zero_naming_the_flag() {
    let db = TestDb::create();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "app",
                "create",
                "--name",
                "x",
                "--scopes",
                "cases:read,bogus",
            ],
            "--scopes",
        ),
        (
            &[
                "app",
                "create",
                "--name",
                "x",
                "--scopes",
                "cases:read",
                "--environment",
                "prod",
            ],
            "--environment",
        ),
        (
            &[
                "key",
                "create",
                "--name",
                "x",
                "--environment",
                "sandbox",
                "--scopes",
                "cases:read",
                "--tier",
                "gold",
            ],
            "--tier",
        ),
        (
            &[
                "key",
                "create",
                "--name",
                "x",
                "--environment",
                "sandbox",
                "--expires-at",
                "tomorrow",
            ],
            "--expires-at",
        ),
    ];
    for (args, flag) in cases {
        let out = cli(&db, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    let listed = stdout_json(&cli(&db, &["app", "list"]));
    assert_eq!(listed["data"], serde_json::json!([]));
}

#[test]
fn key_commands_create_list_and_revoke() {
    let db = TestDb::create();
    let created = stdout_json(&cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "ci",
            "--environment",
            "live",
            "--scopes",
            "cases:read,alerts:read",
            "--expires-at",
            "2099-06-01T00:00:00Z",
        ],
    ));
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("cf_live_"));
    let id = created["id"].as_str().unwrap();
    let out = cli(&db, &["key", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(id) && !text.contains(key));
    assert!(cli(&db, &["key", "revoke", id]).status.success());
    let listed = stdout_json(&cli(&db, &["key", "list"]));
    assert!(listed["data"][0]["revoked_at"].is_string());
    assert!(!cli(&db, &["key", "revoke", "key_unknown"]).status.success());
}

#[test]
fn keys_list_shows_active_and_retired_keys_after_rotation() {
    let db = TestDb::create();
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    let listed = stdout_json(&cli(&db, &["keys", "list"]));
    let statuses: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["active", "retired (still published)"]);
}

#[test]
fn bad_configuration_exits_non_zero_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("DATABASE_URL", "mysql://db/cf"),
        ("AUTH_BIND", "not-an-address"),
        ("AUTH_ISSUER", "auth.example.com"),
        ("BCRYPT_COST", "99"),
        ("METRICS_BIND", "internal-only"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/path"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
            .arg("migrate")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("migrate")
        .env("DATABASE_URL", "sqlite:///no/such/dir/cf.db")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn the_served_binary_logs_requests_with_ids_but_never_secrets() {
    let db = TestDb::create();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTH_BIND", format!("127.0.0.1:{port}"))
        .env("ADMIN_TOKEN", "log-test-admin-token")
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server came up");
    let created: Value = http
        .post(format!("{base}/admin/applications"))
        .bearer_auth("log-test-admin-token")
        .json(&serde_json::json!({"name": "log", "scopes": ["cases:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let resp = http
        .post(format!("{base}/oauth/token?client_secret={secret}"))
        .basic_auth(id, Some(secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let token: Value = resp.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let _ = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some("cfsec_wrong_secret_value"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    child.kill().unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let _ = child.wait();
    assert!(
        logs.contains(&request_id),
        "access log carries the request id: {logs}"
    );
    assert!(logs.contains("POST /oauth/token"), "{logs}");
    for secret_value in [
        secret,
        token.as_str(),
        "log-test-admin-token",
        "cfsec_wrong_secret_value",
    ] {
        assert!(
            !logs.contains(secret_value),
            "a secret reached the log: {logs}"
        );
    }
    assert!(
        !logs.to_lowercase().contains("authorization: "),
        "a header reached the log"
    );
}
