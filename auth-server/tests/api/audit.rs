//! The audit trail: every credential event of the admin API and the CLI is recorded once, with
//! its actor and source and never a secret; the hash chain finds any edit; the admin API pages
//! and filters it and exports it as JSON lines.

use diesel::RunQueryDsl;
use serde_json::{json, Value};
use shared::db::Db;

use crate::cli::{cli, migrated_db};
use crate::helpers::{assert_error, spawn_app, TestApp};

async fn events(app: &TestApp, query: &str) -> Value {
    let resp = app.admin_get(&format!("/admin/audit-events{query}")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn actions(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs raw SQL against the test database (what an attacker with database access would do).
fn sql(app_db_url: &str, statement: &str) {
    let db = Db::connect(app_db_url, 1).unwrap();
    let statement = statement.to_owned();
    db.run_blocking(move |c| diesel::sql_query(statement.clone()).execute(c))
        .unwrap();
}

#[actix_web::test]
async fn admin_api_changes_are_recorded_with_actor_source_and_fields_but_no_secret() {
    let app = spawn_app().await;
    let created: Value = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "ingest", "scopes": ["cases:read"], "environment": "sandbox"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let rotated: Value = app
        .admin_post(
            &format!("/admin/applications/{client_id}/rotate-secret"),
            &json!({"grace_period_seconds": 60}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key: Value = app
        .admin_post(
            "/admin/api-keys",
            &json!({"name": "ci", "environment": "sandbox", "scopes": ["cases:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap();
    assert_eq!(
        app.admin_delete(&format!("/admin/api-keys/{key_id}"))
            .await
            .status(),
        204
    );

    let page = events(&app, "").await;
    // Newest first; the signing key the server created at start is the first event.
    assert_eq!(
        actions(&page),
        [
            "api_key.revoke",
            "api_key.create",
            "application.rotate_secret",
            "application.create",
            "signing_key.create"
        ]
    );
    let create = &page["data"][3];
    assert_eq!(create["actor_type"], "admin_token");
    assert_eq!(create["actor_id"], "admin-token");
    assert_eq!(create["source"], "127.0.0.1");
    assert_eq!(create["outcome"], "success");
    assert_eq!(create["target"], client_id);
    assert_eq!(create["fields"]["name"], "ingest");
    assert_eq!(create["fields"]["environment"], "sandbox");
    assert_eq!(page["data"][0]["target"], key_id);
    assert_eq!(page["data"][4]["actor_type"], "system");
    assert!(page["pagination"]["next_before"].is_null());

    // Chain: each event links to the one before it.
    let data = page["data"].as_array().unwrap();
    for pair in data.windows(2) {
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"]);
        assert_eq!(
            pair[0]["seq"].as_i64().unwrap(),
            pair[1]["seq"].as_i64().unwrap() + 1
        );
    }

    // No secret anywhere in the trail, in the API or the export.
    let export = app
        .admin_get("/admin/audit-events/export")
        .await
        .text()
        .await
        .unwrap();
    let listed = page.to_string();
    for plaintext in [
        secret,
        rotated["client_secret"].as_str().unwrap(),
        key["key"].as_str().unwrap(),
    ] {
        assert!(!listed.contains(plaintext));
        assert!(!export.contains(plaintext));
    }
}

#[actix_web::test]
async fn the_trail_needs_the_admin_token() {
    let app = spawn_app().await;
    for path in ["/admin/audit-events", "/admin/audit-events/export"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_error(resp, 401, "unauthorized").await;
        let resp = app
            .http
            .get(app.url(path))
            .bearer_auth("x".repeat(40))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
}

#[actix_web::test]
async fn pages_filters_and_export_agree() {
    let app = spawn_app().await;
    for i in 0..5 {
        let resp = app
            .admin_post(
                "/admin/api-keys",
                &json!({"name": format!("k{i}"), "environment": "sandbox", "scopes": ["cases:read"]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let app_resp: Value = app
        .admin_post(
            "/admin/applications",
            &json!({"name": "a", "scopes": ["cases:read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_id = app_resp["client_id"].as_str().unwrap();

    // Pages of two, newest first, linked by next_before and the Link header.
    let first = app
        .admin_get("/admin/audit-events?action=api_key.create&limit=2")
        .await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let next = first["pagination"]["next_before"].as_i64().unwrap();
    assert_eq!(next, first["data"][1]["seq"].as_i64().unwrap());
    assert!(link.contains(&format!("before={next}")), "{link}");
    assert!(link.contains("action=api_key.create"), "{link}");
    let mut seen = vec![];
    let mut before = None;
    loop {
        let q = match before {
            Some(b) => format!("?action=api_key.create&limit=2&before={b}"),
            None => "?action=api_key.create&limit=2".to_owned(),
        };
        let page = events(&app, &q).await;
        for e in page["data"].as_array().unwrap() {
            assert_eq!(e["action"], "api_key.create");
            seen.push(e["seq"].as_i64().unwrap());
        }
        match page["pagination"]["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    // Target and actor filters.
    let by_target = events(&app, &format!("?target={client_id}")).await;
    assert_eq!(actions(&by_target), ["application.create"]);
    assert_eq!(
        events(&app, "?actor=admin-token").await["data"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert!(events(&app, "?actor=nobody").await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    // A window in the future holds nothing; one around now holds everything.
    assert!(events(&app, "?from=2999-01-01T00:00:00Z").await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        events(&app, "?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z").await["data"]
            .as_array()
            .unwrap()
            .len(),
        7
    );

    // The export: JSON lines, oldest first, the same filter.
    let resp = app
        .admin_get("/admin/audit-events/export?action=api_key.create")
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = resp.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(body.ends_with('\n'));
    let mut ascending = seen.clone();
    ascending.reverse();
    assert_eq!(
        lines
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        ascending
    );
}

#[actix_web::test]
async fn bad_queries_are_refused_with_the_envelope() {
    let app = spawn_app().await;
    for (query, status, code) in [
        ("?limit=0", 422, "validation_failed"),
        ("?limit=1001", 422, "validation_failed"),
        ("?limit=ten", 400, "invalid_query"),
        ("?before=0", 422, "validation_failed"),
        ("?from=yesterday", 422, "validation_failed"),
        (
            "?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            422,
            "validation_failed",
        ),
        ("?colour=red", 400, "invalid_query"),
    ] {
        let resp = app.admin_get(&format!("/admin/audit-events{query}")).await;
        assert_error(resp, status, code).await;
    }
    let resp = app.admin_get("/admin/audit-events/export?from=nope").await;
    assert_error(resp, 422, "validation_failed").await;
}

#[actix_web::test]
async fn cli_changes_are_recorded_as_the_os_user_and_verify_finds_any_edit() {
    let db = migrated_db();
    let out = cli(
        &db,
        &[
            "key",
            "create",
            "--name",
            "script",
            "--environment",
            "sandbox",
            "--scopes",
            "cases:read",
        ],
    );
    assert!(out.status.success());
    let out = cli(&db, &["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = cli(&db, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("audit chain intact: 3 events, head "),
        "{said}"
    );

    let out = cli(&db, &["audit", "export", "--action", "api_key.create"]);
    assert!(out.status.success());
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["actor_type"], "cli");
    assert!(!line["actor_id"].as_str().unwrap().is_empty());
    assert!(line["source"].is_null());
    let out = cli(&db, &["audit", "export", "--from", "last tuesday"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));

    // Editing an event's fields breaks its own hash.
    let url = db.url().to_owned();
    sql(
        &url,
        "UPDATE audit_events SET fields = '{\"name\":\"other\"}' WHERE seq = 2",
    );
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("broken at event 2"), "{said}");
}

#[actix_web::test]
async fn deleting_or_relinking_an_event_is_found() {
    let db = migrated_db();
    for name in ["a", "b", "c"] {
        let out = cli(
            &db,
            &[
                "key",
                "create",
                "--name",
                name,
                "--environment",
                "sandbox",
                "--scopes",
                "cases:read",
            ],
        );
        assert!(out.status.success());
    }
    let url = db.url().to_owned();
    // Recomputing the deleted event's successor would need every later hash rewritten too;
    // a plain deletion leaves a gap.
    sql(&url, "DELETE FROM audit_events WHERE seq = 2");
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken at event 2: event 2 is missing"));

    // Renumbering to close the gap breaks the link instead.
    sql(&url, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 2");
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken at event 2"));
}

#[actix_web::test]
async fn concurrent_writers_keep_one_gapless_chain() {
    let app = spawn_app().await;
    let creates = (0..16).map(|i| {
        let app = &app;
        async move {
            app.admin_post(
                "/admin/api-keys",
                &json!({"name": format!("k{i}"), "environment": "sandbox", "scopes": ["cases:read"]}),
            )
            .await
            .status()
        }
    });
    for status in futures_util::future::join_all(creates).await {
        assert_eq!(status, 201);
    }
    let db = Db::connect(app.db.url(), 1).unwrap();
    let report = db
        .run_blocking(auth_server::service::audit::verify)
        .unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.events, 17);
}
