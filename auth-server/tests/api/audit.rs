//! The audit trail: every credential event of the admin API and the CLI is recorded once, with
//! its actor and source and never a secret; the hash chain finds any edit; the admin API pages
//! and filters it and exports it as JSON lines.

use auth_server::service::audit::AuditKeys;
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

/// Wrong admin tokens are refused privileged actions: one `admin.token_refused` event per
/// source and window with a count, never the token; a request with no token is not one.
#[actix_web::test]
async fn wrong_admin_tokens_reach_the_trail_aggregated_without_the_token() {
    let app = spawn_app().await;
    let guess = "guessed-admin-token-".repeat(3);
    for _ in 0..3 {
        let resp = app
            .http
            .get(app.url("/admin/applications"))
            .bearer_auth(&guess)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = app
        .http
        .get(app.url("/admin/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    app.refusals
        .flush(
            &Db::connect(app.db.url(), 1).unwrap(),
            shared::time::now_micros(),
        )
        .unwrap();
    let refused = events_with(&app, "admin.token_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["outcome"], "denied");
    assert_eq!(refused[0]["fields"]["count"], 3);
    assert_eq!(refused[0]["source"], "127.0.0.1");
    let export = app
        .admin_get("/admin/audit-events/export")
        .await
        .text()
        .await
        .unwrap();
    assert!(!export.contains("guessed-admin-token"), "{export}");
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
    let keys = AuditKeys::new(&crate::helpers::test_kek(), None);
    let report = db
        .run_blocking(move |c| auth_server::service::audit::verify(c, &keys, None))
        .unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.events, 17);
}

// --- the keyed chain ---------------------------------------------------------------------------

/// Base64 of the KEK of a rotation in these tests (`[7; 32]`); the helpers' is `[42; 32]`.
const NEW_KEK_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const TEST_KEK_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// The binary with exactly these KEKs (`None`: unset).
fn cli_with_keks(
    db: &shared::testing::TestDb,
    args: &[&str],
    current: Option<&str>,
    previous: Option<&str>,
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"));
    cmd.args(args)
        .env("DATABASE_URL", db.url())
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .env_remove("SIGNING_KEY_ENCRYPTION_KEY")
        .env_remove("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS");
    if let Some(k) = current {
        cmd.env("SIGNING_KEY_ENCRYPTION_KEY", k);
    }
    if let Some(k) = previous {
        cmd.env("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", k);
    }
    cmd.output().expect("run auth-server")
}

fn create_key(db: &shared::testing::TestDb, name: &str) {
    let out = cli(
        db,
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `(events, head)` as `audit verify --output json` reports them.
fn verified(db: &shared::testing::TestDb) -> (i64, String) {
    let out = cli(db, &["audit", "verify", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], true);
    (
        report["events"].as_i64().unwrap(),
        report["head"].as_str().unwrap().to_owned(),
    )
}

/// What someone with write access to the database but not the key does after editing events
/// (the "10 lines of Python"): recompute every link from `from_seq` to `to_seq` with plain
/// SHA-256 over the documented canonical form.
fn rechain_with_plain_sha256(url: &str, from_seq: i64, to_seq: i64) {
    use auth_server::service::audit::AuditEventRow;
    use diesel::prelude::*;
    use sha2::{Digest, Sha256};
    use shared::db::schema::audit_events;

    let db = Db::connect(url, 1).unwrap();
    db.run_blocking(move |c| {
        let rows: Vec<AuditEventRow> = audit_events::table
            .order(audit_events::seq.asc())
            .select(AuditEventRow::as_select())
            .load(c)?;
        // The first event links to 64 zeros.
        let mut prev = "0".repeat(64);
        for r in rows {
            if r.seq < from_seq || r.seq > to_seq {
                prev = r.hash;
                continue;
            }
            let canonical = json!([
                r.seq,
                r.at,
                r.actor_type,
                r.actor_id,
                r.actor_label,
                r.action,
                r.target,
                r.source,
                r.outcome,
                r.fields
            ])
            .to_string();
            let hash = hex::encode(Sha256::digest(format!("{prev}{canonical}")));
            diesel::update(audit_events::table.find(r.seq))
                .set((
                    audit_events::prev_hash.eq(&prev),
                    audit_events::hash.eq(&hash),
                ))
                .execute(c)?;
            prev = hash;
        }
        Ok(())
    })
    .unwrap();
}

#[actix_web::test]
async fn an_edit_whose_chain_is_recomputed_with_plain_sha256_fails_verification() {
    let db = migrated_db();
    for name in ["a", "b", "c"] {
        create_key(&db, name);
    }
    let url = db.url().to_owned();
    sql(
        &url,
        "UPDATE audit_events SET fields = '{\"name\":\"innocent\"}' WHERE seq = 2",
    );
    rechain_with_plain_sha256(&url, 2, i64::MAX);
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broken at event 2"),
        "{}",
        stderr(&out)
    );

    // Rewriting the whole trail as a plain chain does not pass either: a trail without the
    // keyed anchor must be keyed from its first event.
    rechain_with_plain_sha256(&url, 1, i64::MAX);
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken at event 1"),
        "{}",
        stderr(&out)
    );
}

#[actix_web::test]
async fn deleting_every_event_fails_verify_against_the_count_kept_elsewhere() {
    let db = migrated_db();
    create_key(&db, "a");
    create_key(&db, "b");
    let (events, _) = verified(&db);
    assert_eq!(events, 2);
    sql(db.url(), "DELETE FROM audit_events");
    // The chain itself cannot tell: nothing is left to break.
    let out = cli(&db, &["audit", "verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("audit chain intact: 0 events"));
    let out = cli(&db, &["audit", "verify", "--expect-count", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 events, expected at least 2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).trim().lines().count(), 1);
}

#[actix_web::test]
async fn deleting_the_newest_event_fails_verify_against_the_head_kept_elsewhere() {
    let db = migrated_db();
    for name in ["a", "b", "c"] {
        create_key(&db, name);
    }
    let (events, head) = verified(&db);
    let count = events.to_string();
    let kept = [
        "--expect-head",
        head.as_str(),
        "--expect-count",
        count.as_str(),
    ];
    let verify_kept = |db| cli(db, &[&["audit", "verify"][..], &kept[..]].concat());
    assert!(verify_kept(&db).status.success());
    // The trail grows: the kept head and count still hold.
    create_key(&db, "d");
    let out = verify_kept(&db);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("audit chain intact: 4 events"));

    // The newest two removed: the chain is intact, the kept head is gone.
    sql(db.url(), "DELETE FROM audit_events WHERE seq >= 3");
    assert!(cli(&db, &["audit", "verify"]).status.success());
    let out = cli(&db, &["audit", "verify", "--expect-head", &head]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("no event has the expected head {head}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(verify_kept(&db).status.code(), Some(1));

    // A head that is not one is refused as a flag, like every bad value.
    let out = cli(&db, &["audit", "verify", "--expect-head", "not-a-hash"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid --expect-head"));
}

#[test]
fn verify_needs_the_kek_and_says_so_as_a_configuration_error() {
    let db = migrated_db();
    create_key(&db, "a");
    for args in [&["audit", "verify"][..], &["key", "revoke", "key_x"]] {
        let out = cli_with_keks(&db, args, None, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("SIGNING_KEY_ENCRYPTION_KEY: is not set"));
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    // Reading the trail needs no key.
    let out = cli_with_keks(&db, &["audit", "export"], None, None);
    assert!(out.status.success(), "{}", stderr(&out));
    // Another KEK is not the key of this chain.
    let out = cli_with_keks(&db, &["audit", "verify"], Some(NEW_KEK_B64), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken at event 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_kek_rotation_rekeys_the_chain_and_verify_passes_with_the_new_kek_alone() {
    let db = migrated_db();
    create_key(&db, "before");
    assert!(cli(&db, &["keys", "rotate"]).status.success());
    let (before, _) = verified(&db);

    // The rotation: new KEK, old one as previous. Re-sealing the signing keys re-keys the chain.
    let out = cli_with_keks(
        &db,
        &["keys", "rotate"],
        Some(NEW_KEK_B64),
        Some(TEST_KEK_B64),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let new_only = |args: &[&str]| cli_with_keks(&db, args, Some(NEW_KEK_B64), None);
    let old_only = |args: &[&str]| cli_with_keks(&db, args, Some(TEST_KEK_B64), None);
    let out = new_only(&["audit", "verify", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["events"].as_i64().unwrap() > before);
    assert_eq!(old_only(&["audit", "verify"]).status.code(), Some(1));
    let rekey: Value =
        serde_json::from_slice(&new_only(&["audit", "export", "--action", "audit.rekey"]).stdout)
            .unwrap();
    assert_eq!(rekey["actor_type"], "system");
    assert_eq!(rekey["fields"]["events"], before);

    // A replica still on the old KEK writes in between: the new KEK alone cannot verify that
    // event, the ring can, and the next start with both KEKs re-keys it.
    let out = old_only(&[
        "key",
        "create",
        "--name",
        "straggler",
        "--environment",
        "sandbox",
        "--scopes",
        "cases:read",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = new_only(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS"),
        "{}",
        stderr(&out)
    );
    let ring = |args: &[&str]| cli_with_keks(&db, args, Some(NEW_KEK_B64), Some(TEST_KEK_B64));
    let out = ring(&["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("events under SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: 1"),
        "{}",
        stderr(&out)
    );
    assert!(ring(&["keys", "rotate"]).status.success());
    let out = new_only(&["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[actix_web::test]
async fn a_plain_chain_from_before_keying_is_anchored_and_edits_to_it_are_still_found() {
    let db = migrated_db();
    for name in ["a", "b", "c"] {
        create_key(&db, name);
    }
    let url = db.url().to_owned();
    // What a version before keyed chains left behind: plain SHA-256 links throughout.
    rechain_with_plain_sha256(&url, 1, i64::MAX);
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no keyed anchor follows"),
        "{}",
        stderr(&out)
    );

    // The first writer of this version anchors it.
    create_key(&db, "d");
    let out = cli(&db, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("audit chain intact: 5 events"));
    assert!(stderr(&out).contains("events 1 to 3 predate the keyed chain"));
    let anchor: Value = serde_json::from_slice(
        &cli(&db, &["audit", "export", "--action", "audit.chain_keyed"]).stdout,
    )
    .unwrap();
    assert_eq!(anchor["seq"], 4);
    assert_eq!(anchor["fields"]["legacy_events"], 3);
    assert_eq!(anchor["fields"]["legacy_chain"], "intact");

    // Editing an old event and recomputing the plain chain up to the anchor is still found.
    sql(
        &url,
        "UPDATE audit_events SET fields = '{\"name\":\"innocent\"}' WHERE seq = 2",
    );
    rechain_with_plain_sha256(&url, 2, 3);
    let out = cli(&db, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken at event 4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_cli_actor_is_the_real_uids_account_never_user() {
    let db = migrated_db();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args([
            "key",
            "create",
            "--name",
            "spoof",
            "--environment",
            "sandbox",
            "--scopes",
            "cases:read",
        ])
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
        .env("USER", "mallory")
        .env("LOGNAME", "mallory")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let event: Value = serde_json::from_slice(
        &cli(&db, &["audit", "export", "--action", "api_key.create"]).stdout,
    )
    .unwrap();
    assert_eq!(event["actor_type"], "cli");
    assert_ne!(event["actor_id"], "mallory");
    assert_eq!(
        event["actor_id"],
        auth_server::service::audit::os_account().as_str()
    );
}

// --- what clients change -----------------------------------------------------------------------

/// The events with `action`, oldest first.
async fn events_with(app: &TestApp, action: &str) -> Vec<Value> {
    let page = events(app, &format!("?action={action}")).await;
    let mut data = page["data"].as_array().unwrap().clone();
    data.reverse();
    data
}

#[actix_web::test]
async fn revoking_a_token_is_audited_as_the_client_with_its_jti_never_the_token() {
    use base64::Engine;
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let token = app.token_for(&client, None).await;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        let resp = app
            .oauth_form("/oauth/revoke", &[("token", &token)], &client)
            .await;
        assert_eq!(resp.status(), 200);
    }
    let revoked = events_with(&app, "token.revoke").await;
    assert_eq!(revoked.len(), 1, "a second revocation changes nothing");
    let e = &revoked[0];
    assert_eq!(e["actor_type"], "client");
    assert_eq!(e["actor_id"], client.client_id.as_str());
    assert_eq!(e["target"], claims["jti"]);
    assert_eq!(e["source"], "127.0.0.1");
    assert_eq!(e["outcome"], "success");
    let export = app
        .admin_get("/admin/audit-events/export")
        .await
        .text()
        .await
        .unwrap();
    assert!(!export.contains(&token));
    assert!(!export.contains(payload));
}

#[actix_web::test]
async fn the_previous_secret_ending_at_the_new_ones_first_use_is_audited() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    // Without a grace period the old secret works until the new one is first used.
    let rotated: Value = app
        .admin_post(
            &format!("/admin/applications/{}/rotate-secret", client.client_id),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new = crate::helpers::Client {
        client_id: client.client_id.clone(),
        client_secret: rotated["client_secret"].as_str().unwrap().to_owned(),
    };
    app.token_for(&client, None).await;
    assert!(events_with(&app, "application.previous_secret_end")
        .await
        .is_empty());
    app.token_for(&new, None).await;
    app.token_for(&new, None).await;
    let ended = events_with(&app, "application.previous_secret_end").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["actor_type"], "client");
    assert_eq!(ended[0]["actor_id"], client.client_id.as_str());
    assert_eq!(ended[0]["target"], client.client_id.as_str());
    assert_eq!(ended[0]["source"], "127.0.0.1");
    let resp = app
        .token_request(
            "grant_type=client_credentials",
            Some((&client.client_id, &client.client_secret)),
        )
        .await;
    assert_eq!(resp.status(), 401, "the old secret has ended");
}

#[actix_web::test]
async fn a_bcrypt_row_replaced_by_its_digest_is_audited() {
    use auth_server::service::secrets;
    use diesel::prelude::*;
    use shared::db::schema::applications;

    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "sandbox").await;
    let db = Db::connect(app.db.url(), 1).unwrap();
    let bcrypt =
        secrets::hash_secret(&shared::Secret::new(client.client_secret.clone()), 4).unwrap();
    let id = client.client_id.clone();
    db.run_blocking(move |c| {
        diesel::update(applications::table.filter(applications::client_id.eq(&id)))
            .set(applications::secret_hash.eq(&bcrypt))
            .execute(c)
    })
    .unwrap();
    app.token_for(&client, None).await;
    app.token_for(&client, None).await;
    let rehashed = events_with(&app, "application.secret_rehash").await;
    assert_eq!(rehashed.len(), 1);
    assert_eq!(rehashed[0]["actor_type"], "client");
    assert_eq!(rehashed[0]["target"], client.client_id.as_str());
    assert_eq!(
        rehashed[0]["fields"],
        json!({"from": "bcrypt", "to": "sha256"})
    );
    let export = app
        .admin_get("/admin/audit-events/export")
        .await
        .text()
        .await
        .unwrap();
    assert!(!export.contains("$2"), "no hash in the trail");
    assert!(!export.contains(&client.client_secret));
}
