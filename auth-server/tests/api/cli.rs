//! The `auth-server` binary: ops commands, configuration errors, and what it logs.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_on, Client, TestDb};

/// Base64 of the helpers' fixed test KEK (`[42; 32]`).
const TEST_KEK_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
const LOG_TEST_ADMIN_TOKEN: &str = "log-test-admin-token-0123456789abcdef";

pub fn cli(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run auth-server")
}

/// A fresh database with its tables, as `auth-server migrate` leaves it: the ops commands refuse
/// to create a SQLite file themselves.
pub fn migrated_db() -> TestDb {
    let db = TestDb::create();
    let out = cli(&db, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
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
    let db = migrated_db();
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

    // Every command answers JSON, as README says, these included.
    let revoked = stdout_json(&cli(&app.db, &["app", "revoke-tokens", &client.client_id]));
    assert_eq!(revoked["tokens_revoked"], true);
    let deleted = stdout_json(&cli(&app.db, &["app", "delete", &client.client_id]));
    assert_eq!(
        deleted,
        serde_json::json!({"client_id": client.client_id, "deleted": true})
    );
    let out = cli(&app.db, &["app", "show", &client.client_id]);
    assert!(!out.status.success());
}

#[actix_web::test]
async fn output_piped_into_a_reader_that_stops_early_is_not_a_panic() {
    use auth_server::service::applications::{self, CreateApplication};
    let db = migrated_db();
    // More output than a pipe holds (64 KiB), so the command is still writing when the reader
    // goes away.
    let conn = shared::db::Db::connect(db.url(), 1).unwrap();
    let ctx = auth_server::service::audit::AuditContext::cli(&crate::helpers::audit_key());
    for i in 0..300 {
        let new = CreateApplication {
            name: format!("a batch job with a long enough name to fill the pipe, number {i}"),
            description: None,
            scopes: vec!["cases:read".into()],
            environment: None,
            tier: None,
            introspection: None,
            token_endpoint_auth_method: None,
            jwks: None,
            dpop_bound_access_tokens: None,
        }
        .validate()
        .unwrap();
        applications::create(&conn, &ctx, new, shared::time::now_micros())
            .await
            .unwrap();
    }
    // `auth-server app list | head -c 1`: the reader closes after one byte.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["app", "list"])
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn scopes_written_with_spaces_after_the_commas_are_trimmed() {
    let db = migrated_db();
    let created = stdout_json(&cli(
        &db,
        &[
            "app",
            "create",
            "--name",
            "spaced",
            "--scopes",
            "cases:read, alerts:read",
        ],
    ));
    assert_eq!(
        created["scopes"],
        serde_json::json!(["cases:read", "alerts:read"])
    );
    let key = stdout_json(&cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "k",
            "--environment",
            "sandbox",
            "--scopes",
            " cases:read ,sar:read",
        ],
    ));
    assert_eq!(key["scopes"], serde_json::json!(["cases:read", "sar:read"]));
}

#[test]
fn invalid_flag_values_exit_non_zero_naming_the_flag() {
    let db = migrated_db();
    let cases: [(&[&str], &str); 6] = [
        (&["app", "create", "--name", "no scopes"], "--scopes"),
        (
            &["app", "create", "--name", "no scopes", "--scopes", " , "],
            "--scopes",
        ),
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

/// The admin API, the CLI and the console create applications in one default environment:
/// sandbox. (An API key's environment is required everywhere, contract §3.4.)
#[test]
fn applications_created_without_an_environment_are_sandbox() {
    let db = migrated_db();
    let app = stdout_json(&cli(
        &db,
        &[
            "app",
            "create",
            "--name",
            "no env",
            "--scopes",
            "cases:read",
        ],
    ));
    assert_eq!(app["environment"], "sandbox");
    let out = cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "no env",
            "--scopes",
            "cases:read",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--environment"));
}

#[test]
fn key_commands_create_list_and_revoke() {
    let db = migrated_db();
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
            "2033-06-01T00:00:00Z",
        ],
    ));
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("cf_live_"));
    let id = created["id"].as_str().unwrap();
    let out = cli(&db, &["key", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(id) && !text.contains(key));
    let revoked = stdout_json(&cli(&db, &["key", "revoke", id]));
    assert_eq!(revoked, serde_json::json!({"id": id, "revoked": true}));
    let listed = stdout_json(&cli(&db, &["key", "list"]));
    assert!(listed["data"][0]["revoked_at"].is_string());
    assert!(!cli(&db, &["key", "revoke", "key_unknown"]).status.success());
}

#[test]
fn keys_list_shows_active_and_retired_keys_after_rotation() {
    let db = migrated_db();
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
fn a_revoked_signing_key_is_listed_as_revoked_never_retired_before_it_was_made() {
    let db = migrated_db();
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    let listed = stdout_json(&cli(&db, &["keys", "list"]));
    let active = listed["data"][0]["kid"].as_str().unwrap().to_owned();
    let out = cli(&db, &["keys", "revoke", &active]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = stdout_json(&cli(&db, &["keys", "list"]));
    let revoked = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == active.as_str())
        .unwrap()
        .clone();
    assert_eq!(revoked["status"], "revoked", "{listed}");
    let time = |k: &str| shared::time::parse_rfc3339(revoked[k].as_str().unwrap()).unwrap();
    assert!(time("retired_at") >= time("created_at"), "{revoked}");
    assert!(time("revoked_at") >= time("created_at"), "{revoked}");
    // The key that replaced it is active; the one retired by the rotation is still published.
    let statuses: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["active", "revoked", "retired (still published)"]
    );
}

#[test]
fn bad_configuration_exits_non_zero_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("DATABASE_URL", "mysql://db/cf"),
        ("AUTH_BIND", "not-an-address"),
        ("AUTH_ISSUER", "auth.example.com"),
        ("BCRYPT_COST", "99"),
        ("ADMIN_TOKEN", "short-admin-token"),
        ("SIGNING_KEY_ENCRYPTION_KEY", "c2hvcnQ="),
        ("METRICS_BIND", "internal-only"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/path"),
        ("RUST_LOG", "warn,auth_server=loud"),
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
        .env("ADMIN_TOKEN", LOG_TEST_ADMIN_TOKEN)
        .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
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
        .bearer_auth(LOG_TEST_ADMIN_TOKEN)
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
        LOG_TEST_ADMIN_TOKEN,
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

/// Runs `auth-server serve` until it exits (or 10 s pass) and returns its stderr.
fn serve_until_exit(db: &TestDb, kek: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    cmd.arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTH_BIND", format!("127.0.0.1:{}", free_port()))
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .env("ADMIN_TOKEN", LOG_TEST_ADMIN_TOKEN)
        .env_remove("SIGNING_KEY_ENCRYPTION_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(k) = kek {
        cmd.env("SIGNING_KEY_ENCRYPTION_KEY", k);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.is_some_and(|s| !s.success()), err)
}

#[test]
fn serving_without_a_key_encryption_key_refuses_to_start_naming_it() {
    let db = TestDb::create();
    let (failed, stderr) = serve_until_exit(&db, None);
    assert!(failed, "exits non-zero: {stderr}");
    assert!(stderr.contains("SIGNING_KEY_ENCRYPTION_KEY"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// A missing KEK is a configuration error like the others: reported with them, exit 2.
#[test]
fn a_missing_kek_is_reported_with_the_other_configuration_errors_and_exit_2() {
    let db = TestDb::create();
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTH_BIND", format!("127.0.0.1:{}", free_port()))
        .env("AUTH_ISSUER", "auth.example.com")
        .env("RUST_LOG", "warn")
        .env_remove("SIGNING_KEY_ENCRYPTION_KEY")
        .env_remove("SIGNING_KEY_ENCRYPTION_KEY_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines
        .iter()
        .all(|l| l.starts_with("auth-server: configuration error: ")));
    assert!(stderr.contains("AUTH_ISSUER"), "{stderr}");
    assert!(
        stderr.contains("SIGNING_KEY_ENCRYPTION_KEY: is not set"),
        "{stderr}"
    );
}

/// An unreachable PostgreSQL: one line, at once — not r2d2's retries, one multi-line block
/// each, for the pool's whole build timeout.
#[test]
fn an_unreachable_postgresql_is_one_line_quickly() {
    let port = free_port(); // nothing listens there
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://caseforge:hunter2@127.0.0.1:{port}/caseforge"),
        )
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = assert_one_line_failure(&out, "DATABASE_URL");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

/// A malformed `.env` names the line, never its content.
#[test]
fn a_malformed_env_file_names_its_line_number() {
    let cwd =
        std::env::temp_dir().join(format!("cf-dotenv-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(
        cwd.join(".env"),
        "RUST_LOG=warn\nBCRYPT_COST=4\nsecret hunter2\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("migrate")
        .current_dir(&cwd)
        .output()
        .unwrap();
    let stderr = assert_one_line_failure(&out, ".env: line 3");
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn signing_keys_are_sealed_at_rest_and_a_wrong_kek_is_reported_as_wrong() {
    let db = migrated_db();
    // Creates the first signing key under the test KEK.
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    let stored: Vec<String> = {
        use diesel::prelude::*;
        use shared::db::schema::signing_keys;
        let conn = shared::db::Db::connect(db.url(), 1).unwrap();
        conn.run_blocking(|c| {
            signing_keys::table
                .select(signing_keys::private_key)
                .load(c)
        })
        .unwrap()
    };
    assert_eq!(stored.len(), 2);
    for value in &stored {
        assert!(value.starts_with("enc1:"), "sealed: {value}");
        // An Ed25519 PKCS#8 document starts with these bytes; base64 of it starts "MC4CAQAw".
        assert!(!value.contains("MC4CAQAw"), "no plaintext PKCS#8: {value}");
    }
    let (failed, stderr) =
        serve_until_exit(&db, Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="));
    assert!(failed, "exits non-zero: {stderr}");
    assert!(
        stderr.contains("SIGNING_KEY_ENCRYPTION_KEY is wrong"),
        "{stderr}"
    );
    assert!(!stderr.contains("corrupt"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_kek_rotation_reseals_every_key_with_the_new_kek() {
    let db = migrated_db();
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    let new_kek = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", new_kek)
        .env("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", TEST_KEK_B64)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The old KEK alone no longer opens the keys; the new one alone does.
    let old_only = cli(&db, &["keys", "rotate"]);
    assert!(!old_only.status.success());
    assert!(
        String::from_utf8_lossy(&old_only.stderr).contains("SIGNING_KEY_ENCRYPTION_KEY is wrong")
    );
    let new_only = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", new_kek)
        .output()
        .unwrap();
    assert!(
        new_only.status.success(),
        "{}",
        String::from_utf8_lossy(&new_only.stderr)
    );
}

/// Runs the binary off the test's thread, so that a server spawned in this test keeps
/// answering while the command waits for it.
async fn cli_async(mut cmd: Command) -> Output {
    actix_web::web::block(move || cmd.output().expect("run auth-server"))
        .await
        .expect("blocking task")
}

fn assert_one_line_failure(out: &Output, needle: &str) -> String {
    assert!(!out.status.success(), "should fail: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stderr.contains(needle), "{needle}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    stderr
}

fn create_app_by_cli(db: &TestDb, scopes: &str) -> Client {
    let created = stdout_json(&cli(
        db,
        &[
            "app",
            "create",
            "--name",
            "cli app",
            "--scopes",
            scopes,
            "--environment",
            "sandbox",
        ],
    ));
    Client {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn app_update_changes_what_the_admin_api_allows_and_bad_values_change_nothing() {
    let db = migrated_db();
    let client = create_app_by_cli(&db, "cases:read");
    let id = client.client_id.as_str();
    let updated = stdout_json(&cli(
        &db,
        &[
            "app",
            "update",
            id,
            "--name",
            "renamed",
            "--description",
            "nightly sync",
            "--scopes",
            "cases:read,cases:write",
            "--tier",
            "professional",
            "--introspection",
            "true",
        ],
    ));
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["description"], "nightly sync");
    assert_eq!(
        updated["scopes"],
        serde_json::json!(["cases:read", "cases:write"])
    );
    assert_eq!(updated["tier"], "professional");
    assert_eq!(updated["introspection"], true);
    assert_eq!(updated["environment"], "sandbox");
    let before = stdout_json(&cli(&db, &["app", "show", id]));
    assert_eq!(before, updated);

    // One bad value among good ones: one line naming the flag, and nothing written.
    for (args, flag) in [
        (vec!["--name", "x", "--tier", "gold"], "--tier"),
        (
            vec!["--tier", "basic", "--scopes", "cases:read,root"],
            "--scopes",
        ),
        (vec!["--name", "   ", "--tier", "basic"], "--name"),
    ] {
        let mut full = vec!["app", "update", id];
        full.extend(args);
        assert_one_line_failure(&cli(&db, &full), flag);
        assert_eq!(stdout_json(&cli(&db, &["app", "show", id])), before);
    }
    // Nothing to change, and an unknown application, are refused too.
    assert!(!cli(&db, &["app", "update", id]).status.success());
    assert_one_line_failure(
        &cli(
            &db,
            &[
                "app",
                "update",
                "app_000000000000000000000000",
                "--name",
                "x",
            ],
        ),
        "no application",
    );
}

#[actix_web::test]
async fn app_enable_lets_a_disabled_application_get_tokens_again() {
    let db = migrated_db();
    let client = create_app_by_cli(&db, "cases:read");
    let app = spawn_on(db, |_| {}).await;
    let disabled = stdout_json(&cli(&app.db, &["app", "disable", &client.client_id]));
    assert_eq!(disabled["disabled"], true);
    let basic = Some((client.client_id.as_str(), client.client_secret.as_str()));
    let resp = app
        .token_request("grant_type=client_credentials", basic)
        .await;
    assert_eq!(resp.status(), 401);
    let enabled = stdout_json(&cli(&app.db, &["app", "enable", &client.client_id]));
    assert_eq!(enabled["disabled"], false);
    app.token_for(&client, Some("cases:read")).await;
    assert_one_line_failure(
        &cli(&app.db, &["app", "enable", "app_000000000000000000000000"]),
        "no application",
    );
}

#[test]
fn key_show_prints_one_key_and_never_the_key_itself() {
    let db = migrated_db();
    let created = stdout_json(&cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "ci",
            "--environment",
            "sandbox",
            "--scopes",
            "cases:read",
        ],
    ));
    let (id, key) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let out = cli(&db, &["key", "show", id]);
    let shown = stdout_json(&out);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["masked_token"], created["masked_token"]);
    assert!(shown.get("key").is_none());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(key));
    let table = cli(&db, &["key", "show", id, "--output", "table"]);
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.status.success());
    assert!(text.contains(id) && !text.contains(key), "{text}");
    assert_one_line_failure(&cli(&db, &["key", "show", "key_unknown"]), "no API key");
}

/// The column where each line's `n`-th column starts (columns are two or more spaces apart).
fn column_starts(line: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let bytes = line.as_bytes();
    for i in 2..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    starts
}

#[test]
fn table_output_is_aligned_columns_without_secrets() {
    let db = migrated_db();
    let client = create_app_by_cli(&db, "cases:read,alerts:read");
    let key = stdout_json(&cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "a much longer key name",
            "--environment",
            "live",
            "--scopes",
            "cases:read",
        ],
    ));
    let key = key["key"].as_str().unwrap();
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    for (args, header) in [
        (vec!["app", "list"], "CLIENT_ID"),
        (vec!["key", "list"], "MASKED_TOKEN"),
        (vec!["keys", "list"], "KID"),
    ] {
        let mut with_table = args.clone();
        with_table.extend(["--output", "table"]);
        let out = cli(&db, &with_table);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(column_starts(lines[0]).len() >= 5, "{text}");
        assert!(lines[0].contains(header), "{text}");
        assert!(lines.len() >= 2, "{text}");
        let starts = column_starts(lines[0]);
        for line in &lines[1..] {
            assert_eq!(column_starts(line)[..starts.len()], starts[..], "{text}");
        }
        for secret in [client.client_secret.as_str(), key] {
            assert!(!text.contains(secret), "{text}");
        }
        // The default stays JSON.
        stdout_json(&cli(&db, &args));
    }
    let out = cli(
        &db,
        &["app", "show", &client.client_id, "--output", "table"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(&client.client_id), "{text}");
    assert!(text.contains("cases:read,alerts:read") || text.contains("alerts:read,cases:read"));
    assert!(!text.contains(&client.client_secret));
    assert!(!cli(&db, &["app", "list", "--output", "yaml"])
        .status
        .success());
}

#[test]
fn ops_commands_refuse_to_create_a_missing_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], url: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
            .env("RUST_LOG", "warn");
        if let Some(url) = url {
            cmd.env("DATABASE_URL", url);
        }
        cmd.output().unwrap()
    };
    let elsewhere = dir.path().join("elsewhere.db");
    let elsewhere_url = format!("sqlite://{}", elsewhere.display());
    for args in [
        &["app", "list"][..],
        &["key", "list"],
        &["keys", "list"],
        &["keys", "rotate"],
        &["app", "show", "app_000000000000000000000000"],
    ] {
        // The default DATABASE_URL (./caseforge.db) in a directory without it, and an
        // explicit path that does not exist.
        let stderr = assert_one_line_failure(&run(args, None), "DATABASE_URL");
        assert!(stderr.contains("caseforge.db"), "{stderr}");
        assert!(!dir.path().join("caseforge.db").exists());
        assert_one_line_failure(&run(args, Some(&elsewhere_url)), "DATABASE_URL");
        assert!(!elsewhere.exists());
    }
    // `migrate` creates it; then the commands work.
    assert!(run(&["migrate"], None).status.success());
    assert!(dir.path().join("caseforge.db").exists());
    let listed = stdout_json(&run(&["app", "list"], None));
    assert_eq!(listed["data"], serde_json::json!([]));
}

fn token_cmd(issuer: &str, client_id: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    cmd.args(["token", "--issuer", issuer, "--client-id", client_id])
        .args(extra)
        .env_remove("CLIENT_SECRET")
        .env_remove("AUTH_ISSUER")
        .env_remove("CLIENT_ID")
        .env("RUST_LOG", "warn");
    cmd
}

fn with_stdin(mut cmd: Command, input: &str) -> Command {
    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(&path, input).unwrap();
    cmd.stdin(std::fs::File::open(&path).unwrap());
    cmd
}

#[actix_web::test]
async fn token_helper_gets_a_token_the_server_accepts() {
    let app = crate::helpers::spawn_app().await;
    let client = app
        .create_app(&["cases:read", "cases:write"], "sandbox")
        .await;
    let (id, secret) = (client.client_id.as_str(), client.client_secret.as_str());

    // The secret on standard input; the token alone on stdout.
    let out = cli_async(with_stdin(
        token_cmd(&app.address, id, &["--client-secret-stdin"]),
        &format!("{secret}\n"),
    ))
    .await;
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let claims = crate::helpers::claims_of(&token);
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["scope"], "cases:read cases:write");
    assert_eq!(app.introspect(&token, &client).await["active"], true);

    // The secret from CLIENT_SECRET, fewer scopes, the JSON response.
    let mut cmd = token_cmd(
        &format!("{}/", app.address),
        id,
        &["--scope", "cases:read", "--output", "json"],
    );
    cmd.env("CLIENT_SECRET", secret);
    let out = cli_async(cmd).await;
    let body = stdout_json(&out);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "cases:read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(crate::helpers::claims_of(token)["scope"], "cases:read");

    // Refusals: one line, non-zero, never the secret.
    let wrong = "cfsec_this_is_not_the_secret_0123456789";
    let mut cmd = token_cmd(&app.address, id, &[]);
    cmd.env("CLIENT_SECRET", wrong);
    let stderr = assert_one_line_failure(&cli_async(cmd).await, "invalid client");
    assert!(!stderr.contains(wrong), "{stderr}");
    let mut cmd = token_cmd(&app.address, id, &["--scope", "sar:read"]);
    cmd.env("CLIENT_SECRET", secret);
    let stderr = assert_one_line_failure(&cli_async(cmd).await, "invalid_scope");
    assert!(!stderr.contains(secret), "{stderr}");
    assert_one_line_failure(
        &cli_async(token_cmd(&app.address, id, &[])).await,
        "CLIENT_SECRET",
    );
    assert_one_line_failure(
        &cli_async(with_stdin(
            token_cmd(&app.address, id, &["--client-secret-stdin"]),
            "",
        ))
        .await,
        "--client-secret-stdin",
    );
    let mut cmd = token_cmd("auth.example.com", id, &[]);
    cmd.env("CLIENT_SECRET", secret);
    assert_one_line_failure(&cli_async(cmd).await, "--issuer");
    // There is no flag that would put the secret on the command line.
    let mut cmd = token_cmd(&app.address, id, &["--client-secret", secret]);
    cmd.env("CLIENT_SECRET", secret);
    assert!(!cli_async(cmd).await.status.success());
}

#[actix_web::test]
async fn healthcheck_exits_0_only_when_the_server_on_its_bind_address_is_ready() {
    let app = crate::helpers::spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let healthcheck = |bind: String| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
        cmd.arg("healthcheck")
            .env("AUTH_BIND", bind)
            .env("RUST_LOG", "warn");
        cmd
    };
    for bind in [format!("127.0.0.1:{port}"), format!("0.0.0.0:{port}")] {
        let out = cli_async(healthcheck(bind.clone())).await;
        assert!(out.status.success(), "{bind}: {out:?}");
    }
    let out = cli_async(healthcheck(format!("127.0.0.1:{}", free_port()))).await;
    assert_one_line_failure(&out, "not ready");
}

#[actix_web::test]
async fn app_create_and_update_register_and_rotate_keys_without_a_secret() {
    use shared::test_keys::TestKey;
    let db = migrated_db();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, keys: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, keys.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let es = TestKey::named("es256");
    let first = write(
        "keys.json",
        serde_json::json!({"keys": [es.jwk_with_kid("a")]}),
    );
    let created = stdout_json(&cli(
        &db,
        &[
            "app",
            "create",
            "--name",
            "signer",
            "--scopes",
            "cases:read",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            &first,
            "--dpop-bound",
        ],
    ));
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["dpop_bound_access_tokens"], true);
    assert_eq!(created["keys"][0]["kid"], "a");
    let id = created["client_id"].as_str().unwrap();
    let ed = TestKey::named("eddsa");
    let second = write(
        "new.json",
        serde_json::json!({"keys": [ed.jwk_with_kid("b")]}),
    );
    let updated = stdout_json(&cli(&db, &["app", "update", id, "--jwks-file", &second]));
    assert_eq!(updated["keys"][0]["kid"], "b");
    assert_eq!(updated["keys"].as_array().unwrap().len(), 1);
    // A private key is refused, naming the flag, and nothing changes.
    let mut private = es.jwk.clone();
    private["d"] = es.entry["d"].clone();
    let bad = write("bad.json", serde_json::json!({"keys": [private]}));
    let out = cli(&db, &["app", "update", id, "--jwks-file", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--jwks-file") && err.contains("private"),
        "{err}"
    );
    assert!(!err.contains(es.entry["d"].as_str().unwrap()));
    let out = cli(
        &db,
        &[
            "app",
            "create",
            "--name",
            "x",
            "--scopes",
            "cases:read",
            "--auth-method",
            "private_key_jwt",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jwks-file"));
}
