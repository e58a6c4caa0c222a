//! The service skeleton as the `auth-server` binary shows it: JSON logs with request and
//! trace ids, process and build metrics, every bad variable reported, `*_FILE` secrets.

use crate::helpers::{spawn_app, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_auth-server");
const KEK_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
const FILE_ADMIN_TOKEN: &str = "file-admin-token-0123456789abcdefghijkl";

#[test]
fn json_logs_carry_the_request_id_and_trace_id_on_the_access_line() {
    let db = TestDb::create();
    shared::testing::assert_json_logs_carry_request_and_trace_ids(
        BIN,
        &["serve"],
        "AUTH_BIND",
        &[
            ("DATABASE_URL", db.url()),
            ("SIGNING_KEY_ENCRYPTION_KEY", KEK_B64),
        ],
    );
}

#[actix_web::test]
async fn metrics_show_the_process_and_the_build() {
    let app = spawn_app().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_process_and_build_info_metrics(
            &addr,
            "auth-server",
            env!("CARGO_PKG_VERSION"),
        )
    })
    .await
    .unwrap();
}

#[test]
fn three_bad_variables_are_all_reported_with_exit_status_2() {
    shared::testing::assert_every_bad_variable_is_reported(
        BIN,
        &["migrate"],
        &[
            ("AUTH_BIND", "not-an-address"),
            ("BCRYPT_COST", "99"),
            ("SIGNING_KEY_REFRESH_SECS", "0"),
        ],
    );
}

#[test]
fn secrets_from_files_cannot_be_set_twice_and_name_unreadable_files() {
    for (var, value) in [
        ("ADMIN_TOKEN", FILE_ADMIN_TOKEN),
        ("SIGNING_KEY_ENCRYPTION_KEY", KEK_B64),
        ("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", KEK_B64),
        ("DATABASE_URL", "sqlite://from-file.db"),
    ] {
        shared::testing::assert_secret_file_rules(BIN, &["migrate"], var, value);
    }
}

#[test]
fn secrets_are_read_from_files_with_the_trailing_newline_trimmed() {
    let db = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let admin = write("admin", format!("{FILE_ADMIN_TOKEN}\n"));
    let kek = write("kek", format!("{KEK_B64}\r\n"));
    let url = write("url", format!("{}\n", db.url()));
    let mut service = shared::testing::RunningService::start(
        BIN,
        &["serve"],
        "AUTH_BIND",
        &[
            ("ADMIN_TOKEN_FILE", &admin),
            ("SIGNING_KEY_ENCRYPTION_KEY_FILE", &kek),
            ("DATABASE_URL_FILE", &url),
            ("RUST_LOG", "debug"),
        ],
    );
    let auth = format!("Authorization: Bearer {FILE_ADMIN_TOKEN}");
    let (head, body) = service.get("/admin/applications", &[&auth]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    let (head, _) = service.get("/readyz", &[]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let logs = service.stop();
    assert!(!logs.contains(FILE_ADMIN_TOKEN), "{logs}");
    assert!(!logs.contains(KEK_B64), "{logs}");
    // The server used the database the file names: it created its signing key there.
    let keys: i64 = {
        use diesel::prelude::*;
        use shared::db::schema::signing_keys;
        shared::db::Db::connect(db.url(), 1)
            .unwrap()
            .run_blocking(|c| signing_keys::table.count().get_result(c))
            .unwrap()
    };
    assert!(keys >= 1, "{logs}");
}

#[test]
fn a_short_dpop_nonce_key_is_a_configuration_error() {
    shared::testing::assert_every_bad_variable_is_reported(
        BIN,
        &["migrate"],
        &[("DPOP_NONCE_KEY", "too-short")],
    );
}

#[test]
fn assertions_and_dpop_proofs_never_reach_the_log() {
    use std::io::{Read, Write};
    let db = crate::helpers::TestDb::create();
    let mut service = shared::testing::RunningService::start(
        BIN,
        &["serve"],
        "AUTH_BIND",
        &[
            ("ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN),
            ("SIGNING_KEY_ENCRYPTION_KEY", KEK_B64),
            ("DATABASE_URL", db.url()),
            ("RUST_LOG", "debug"),
        ],
    );
    let key = shared::test_keys::TestKey::named("es256");
    let signed = key.sign(
        &serde_json::json!({"alg": "ES256"}),
        &serde_json::json!({"iss": "app_LogMarkerClient", "sub": "app_LogMarkerClient", "jti": "x"}),
    );
    for (assertion, proof) in [
        (
            "not-a-jwt-AssertionLogMarker".to_owned(),
            "ProofLogMarker.x.y".to_owned(),
        ),
        (
            signed.clone(),
            key.dpop_proof("POST", "http://caseforge.test/oauth/token", 0, None),
        ),
    ] {
        let body = format!(
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
        );
        let mut s = std::net::TcpStream::connect(&service.addr).unwrap();
        write!(
            s,
            "POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nDPoP: {proof}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
        // Nor does the answer echo them.
        assert!(
            !answer.contains(&assertion) && !answer.contains(&proof),
            "{answer}"
        );
    }
    let logs = service.stop();
    for marker in ["AssertionLogMarker", "ProofLogMarker", signed.as_str()] {
        assert!(!logs.contains(marker), "{marker} in {logs}");
    }
    assert!(!logs.contains(signed.split('.').nth(1).unwrap()), "{logs}");
}
