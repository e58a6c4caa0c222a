//! The service skeleton as the `resource-api` binary shows it: JSON logs with request and
//! trace ids, process and build metrics, every bad variable reported, `DATABASE_URL_FILE`.

use crate::helpers::TestStack;

const BIN: &str = env!("CARGO_BIN_EXE_resource-api");

#[actix_web::test]
async fn json_logs_carry_the_request_id_and_trace_id_on_the_access_line() {
    let s = TestStack::start().await;
    let (db, auth) = (s.db.url().to_owned(), s.auth.clone());
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_json_logs_carry_request_and_trace_ids(
            BIN,
            &[],
            "API_BIND",
            &[("DATABASE_URL", &db), ("AUTH_ISSUER", &auth)],
        )
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn metrics_show_the_process_and_the_build_and_no_always_zero_family() {
    let s = TestStack::start().await;
    let addr = s.api.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_process_and_build_info_metrics(
            &addr,
            "resource-api",
            env!("CARGO_PKG_VERSION"),
        )
    })
    .await
    .unwrap();
    // The resource API issues no tokens: a token counter could only ever show zero here.
    let text = s
        .http
        .get(format!("{}/metrics", s.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("tokens_issued"), "{text}");
    // Without REDIS_URL there is no Redis to count errors of.
    assert!(!text.contains("redis_errors_total"), "{text}");
}

#[test]
fn three_bad_variables_are_all_reported_with_exit_status_2() {
    shared::testing::assert_every_bad_variable_is_reported(
        BIN,
        &[],
        &[
            ("API_BIND", "nowhere"),
            ("CREDENTIAL_POLL_SECS", "0"),
            ("JWKS_REFRESH_SECS", "soon"),
        ],
    );
}

#[test]
fn the_database_url_file_cannot_be_set_twice_and_names_an_unreadable_file() {
    shared::testing::assert_secret_file_rules(BIN, &[], "DATABASE_URL", "sqlite://from-file.db");
}

#[actix_web::test]
async fn the_database_url_is_read_from_a_file() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("database-url");
    std::fs::write(&file, format!("{}\n", s.db.url())).unwrap();
    let auth = s.auth.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let service = shared::testing::RunningService::start(
            BIN,
            &[],
            "API_BIND",
            &[
                ("DATABASE_URL_FILE", file.to_str().unwrap()),
                ("AUTH_ISSUER", &auth),
            ],
        );
        // The key exists only in the database the file names.
        let (head, body) = service.get("/v2/me", &[&format!("Authorization: Bearer {key}")]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    })
    .await
    .unwrap();
}

#[test]
fn the_redis_url_follows_the_secret_file_rules_and_a_bad_one_is_named_not_shown() {
    shared::testing::assert_secret_file_rules(
        BIN,
        &[],
        "REDIS_URL",
        "redis://:hunter2-redis@127.0.0.1:6379/0",
    );
    let (code, stderr) = shared::testing::config_outcome(
        BIN,
        &[],
        &[("REDIS_URL", "http://:hunter2-redis@127.0.0.1:6379/")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
