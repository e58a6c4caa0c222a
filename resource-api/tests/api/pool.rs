//! The connection pool hands out a connection without a `SELECT 1` when it completed a query
//! less than a second ago, and pings one idle for longer: connections the server closed while
//! they sat in the pool (a restart, `pg_terminate_backend`, a proxy's idle timeout) never reach
//! a request, and one closed under a request is dropped, not handed out again.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use shared::db::Db;

use crate::helpers::{Killed, TestStack};

/// Closes every server-side connection of the test database but the caller's own and the
/// LISTEN connections; the number closed.
fn close_pooled_connections(db: &Db) -> usize {
    db.run_blocking(|c| {
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND application_name <> 'caseforge-listen'",
        )
        .load::<Killed>(c)
    })
    .unwrap()
    .len()
}

async fn read_case(s: &TestStack, path: &str, key: &str) -> u16 {
    s.get(path, key).await.status().as_u16()
}

/// `n` reads at once (so that the pool opens or hands out several connections): their statuses.
async fn concurrent_reads(s: &TestStack, path: &str, key: &str, n: usize) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (http, url, key) = (s.http.clone(), format!("{}{path}", s.api), key.to_owned());
            actix_web::rt::spawn(async move {
                http.get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

#[actix_web::test]
async fn connections_closed_by_the_server_never_fail_a_request_after_idling() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    let created: serde_json::Value = s
        .post(
            "/v2/cases",
            &key,
            json!({"title": "pooled", "priority": "low"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v2/cases/{}", created["id"].as_str().unwrap());
    // Several connections in the pool, all recently used.
    let statuses = concurrent_reads(&s, &path, &key, 8).await;
    assert!(statuses.iter().all(|&st| st == 200), "{statuses:?}");
    if !s.db.url().starts_with("postgres") {
        return; // SQLite has no server to close a connection.
    }
    let db = Db::connect(s.db.url(), 1).unwrap();

    // Closed while idle for longer than a second: the checkout's ping finds each one.
    assert!(
        close_pooled_connections(&db) >= 1,
        "no pooled connection found"
    );
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    for i in 0..20 {
        assert_eq!(
            read_case(&s, &path, &key).await,
            200,
            "read {i} after idling"
        );
    }
    let statuses = concurrent_reads(&s, &path, &key, 8).await;
    assert!(statuses.iter().all(|&st| st == 200), "{statuses:?}");

    // Closed under a request that used the connection a moment ago: that request may fail,
    // the connection is dropped, and what follows succeeds.
    assert!(close_pooled_connections(&db) >= 1);
    let mut failed = 0;
    for _ in 0..20 {
        let resp = s.get(&path, &key).await;
        if resp.status() != 200 {
            assert!(resp.status().is_server_error(), "{}", resp.status());
            let body: serde_json::Value = resp.json().await.unwrap();
            assert!(body["error"].is_string(), "{body}");
            failed += 1;
        }
    }
    assert!(
        failed <= 8,
        "{failed} reads failed: dead connections were handed out again"
    );
    for i in 0..20 {
        assert_eq!(
            read_case(&s, &path, &key).await,
            200,
            "read {i} after the drop"
        );
    }
}
