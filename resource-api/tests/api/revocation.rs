//! The credential change feed: every kind of revocation reaches a running resource API — on
//! PostgreSQL by `NOTIFY` alone (the poll set to an hour), on SQLite by the poll; a row stamped
//! in the future by a skewed writer delays nothing; a killed LISTEN connection comes back and
//! reloads in full; API keys are read on demand, never all at start.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;
use shared::db::schema::{api_keys, applications};
use shared::db::Db;

use crate::helpers::{eventually, Killed, TestStack};

fn on_postgres(s: &TestStack) -> bool {
    s.db.url().starts_with("postgres")
}

/// A resource API whose poll is an hour on PostgreSQL (so only the push can carry a change
/// within the test) and the default second on SQLite.
async fn api_under_test(s: &TestStack) -> String {
    let pg = on_postgres(s);
    s.another_api_with(|c| {
        if pg {
            c.credential_poll = Duration::from_secs(3600);
        }
    })
    .await
    .0
}

/// How long a revocation may take to arrive: push on PostgreSQL, a 1 s poll on SQLite.
fn bound(s: &TestStack) -> Duration {
    if on_postgres(s) {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(3)
    }
}

async fn status(s: &TestStack, api: &str, path: &str, credential: &str) -> u16 {
    s.http
        .get(format!("{api}{path}"))
        .bearer_auth(credential)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until `api` answers `path` with `want`, at most `bound`; fails otherwise.
async fn arrives(s: &TestStack, api: &str, path: &str, credential: &str, want: u16, what: &str) {
    let limit = bound(s);
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if status(s, api, path, credential).await == want {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: no {want} within {limit:?}");
}

#[actix_web::test]
async fn every_revocation_kind_reaches_a_running_resource_api() {
    let s = TestStack::start().await;
    let api = api_under_test(&s).await;

    // A token revoked through RFC 7009.
    let (id, secret, token) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &token).await, 200);
    let resp = s
        .http
        .post(format!("{}/oauth/revoke", s.auth))
        .basic_auth(&id, Some(&secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    arrives(&s, &api, "/v2/me", &token, 401, "revoked token").await;

    // "Revoke all tokens" (tokens_not_before).
    let token = s.token(&id, &secret).await;
    assert_eq!(status(&s, &api, "/v2/me", &token).await, 200);
    // `iat` has a one-second resolution: the instant must be past this token's second.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let r = s
        .admin(
            Method::POST,
            &format!("/admin/applications/{id}/revoke-tokens"),
            None,
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    arrives(&s, &api, "/v2/me", &token, 401, "tokens_not_before").await;

    // A scope removed: the token keeps its other scopes, loses this one.
    let token = s.token(&id, &secret).await;
    assert_eq!(status(&s, &api, "/v2/cases", &token).await, 200);
    let r = s
        .admin(
            Method::PATCH,
            &format!("/admin/applications/{id}"),
            Some(json!({"scopes": ["sar:read"]})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    arrives(&s, &api, "/v2/cases", &token, 403, "scope removed").await;

    // Disabled.
    let (id2, _, token2) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &token2).await, 200);
    s.admin(
        Method::PATCH,
        &format!("/admin/applications/{id2}"),
        Some(json!({"disabled": true})),
    )
    .await;
    arrives(&s, &api, "/v2/me", &token2, 401, "application disabled").await;

    // Deleted.
    let (id3, _, token3) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &token3).await, 200);
    s.admin(Method::DELETE, &format!("/admin/applications/{id3}"), None)
        .await;
    arrives(&s, &api, "/v2/me", &token3, 401, "application deleted").await;

    // An API key revoked.
    let (key_id, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &key).await, 200);
    s.admin(Method::DELETE, &format!("/admin/api-keys/{key_id}"), None)
        .await;
    arrives(&s, &api, "/v2/me", &key, 401, "API key revoked").await;

    // A signing key revoked (`auth-server keys revoke`): every token it signed is refused.
    let (_, _, token4) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &token4).await, 200);
    let kid = jsonwebtoken::decode_header(&token4).unwrap().kid.unwrap();
    let db = Db::connect(s.db.url(), 1).unwrap();
    auth_server::service::signing::revoke(
        &db,
        &auth_server::service::audit::AuditContext::system(
            &auth_server::service::audit::AuditKey::from_kek(&crate::helpers::test_kek()),
        ),
        &crate::helpers::test_kek(),
        &kid,
        shared::time::now_micros(),
    )
    .unwrap();
    arrives(&s, &api, "/v2/me", &token4, 401, "signing key revoked").await;
}

#[actix_web::test]
async fn a_row_stamped_in_the_future_does_not_delay_later_revocations() {
    let s = TestStack::start().await;
    let api = api_under_test(&s).await;
    let db = Db::connect(s.db.url(), 1).unwrap();
    // A writer whose clock runs 120 s ahead touched an application and a key.
    let (skewed_app, _, _) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    let (skewed_key, _) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    let future = shared::time::now_micros() + 120_000_000;
    db.run_blocking(move |c| {
        diesel::update(applications::table.filter(applications::client_id.eq(&skewed_app)))
            .set(applications::updated_at.eq(future))
            .execute(c)?;
        diesel::update(api_keys::table.filter(api_keys::id.eq(&skewed_key)))
            .set(api_keys::updated_at.eq(future))
            .execute(c)
    })
    .unwrap();
    // Let the resource API see (and poll past) those rows first.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;

    let (key_id, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &key).await, 200);
    s.admin(Method::DELETE, &format!("/admin/api-keys/{key_id}"), None)
        .await;
    arrives(
        &s,
        &api,
        "/v2/me",
        &key,
        401,
        "key revoked after a skewed row",
    )
    .await;

    let (id, _, token) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &token).await, 200);
    s.admin(
        Method::PATCH,
        &format!("/admin/applications/{id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    arrives(
        &s,
        &api,
        "/v2/me",
        &token,
        401,
        "app disabled after a skewed row",
    )
    .await;
}

#[actix_web::test]
async fn a_killed_listen_connection_reconnects_and_reloads_in_full() {
    let s = TestStack::start().await;
    if !on_postgres(&s) {
        return; // SQLite has no LISTEN.
    }
    let api = api_under_test(&s).await;
    let db = Db::connect(s.db.url(), 1).unwrap();
    // The auth server, the stack's resource API and this one listen; each resets once it does.
    let listening = || {
        db.run_blocking(|c| {
            diesel::sql_query(
                "SELECT true AS killed FROM pg_stat_activity \
                 WHERE application_name = 'caseforge-listen' AND datname = current_database() \
                 AND query LIKE 'LISTEN%'",
            )
            .load::<Killed>(c)
        })
        .unwrap()
        .len()
    };
    eventually(Duration::from_secs(10), || async { listening() >= 3 }).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let (key_id, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    // Once the creation's own notification has been applied, the key is cached by its use.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&s, &api, "/v2/me", &key).await, 200);
    // Revoked behind the feed's back (no change row, no NOTIFY): only a full reload sees it.
    let now = shared::time::now_micros();
    let id = key_id.clone();
    db.run_blocking(move |c| {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&id)))
            .set(api_keys::revoked_at.eq(Some(now)))
            .execute(c)
    })
    .unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status(&s, &api, "/v2/me", &key).await,
        200,
        "the cached key is used until something reloads it"
    );

    let listeners = || {
        db.run_blocking(|c| {
            diesel::sql_query(
                "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
                 WHERE application_name = 'caseforge-listen' AND datname = current_database()",
            )
            .load::<Killed>(c)
        })
        .unwrap()
        .len()
    };
    assert!(listeners() >= 1, "no LISTEN connection found");
    let took = eventually(Duration::from_secs(10), || async {
        status(&s, &api, "/v2/me", &key).await == 401
    })
    .await;
    assert!(
        took < Duration::from_secs(10),
        "no full reload after reconnecting"
    );

    // Listening again: a change is pushed at once.
    let (key_id2, key2) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &key2).await, 200);
    s.admin(Method::DELETE, &format!("/admin/api-keys/{key_id2}"), None)
        .await;
    arrives(
        &s,
        &api,
        "/v2/me",
        &key2,
        401,
        "revocation after reconnecting",
    )
    .await;
}

#[actix_web::test]
async fn keys_are_read_on_demand_and_a_new_key_works_on_first_use() {
    let s = TestStack::start().await;
    let api = api_under_test(&s).await;
    // Created after the resource API started: accepted on its first use.
    let (_, key) = s.api_key(&["cases:read"], "sandbox", "unlimited").await;
    assert_eq!(status(&s, &api, "/v2/me", &key).await, 200);
    let resp = s
        .http
        .post(format!("{api}/v2/api_keys/validate"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // A key first seen as unknown (and remembered as such) works as soon as it is created: its
    // creation clears the negative cache.
    let db = Db::connect(s.db.url(), 1).unwrap();
    let made_up = shared::ApiKey::generate(shared::Environment::Sandbox);
    assert_eq!(status(&s, &api, "/v2/me", made_up.expose()).await, 401);
    let (digest, masked) = (made_up.digest().into_string(), made_up.masked());
    db.run_blocking(move |c| {
        c.transaction(|c| {
            let now = shared::time::now_micros();
            insert_key(c, "key_latecomer000000000", &digest, &masked, now)?;
            shared::changes::record(c, shared::changes::ChangeKind::ApiKey, &digest, now)
        })
    })
    .unwrap();
    arrives(
        &s,
        &api,
        "/v2/me",
        made_up.expose(),
        200,
        "a key created after a miss",
    )
    .await;

    // Many keys in the database; a fresh state holds none of them until they are used.
    let now = shared::time::now_micros();
    let keys: Vec<(String, String)> = (0..300)
        .map(|i| {
            let k = shared::ApiKey::generate(shared::Environment::Sandbox);
            (format!("key_bulk{i:016}"), k.digest().into_string())
        })
        .collect();
    let rows = keys.clone();
    db.run_blocking(move |c| {
        c.transaction(|c| {
            for (id, digest) in &rows {
                insert_key(c, id, digest, "sk_sandbox_…", now)?;
            }
            Ok(())
        })
    })
    .unwrap();
    let state = resource_api::auth::state::CredentialState::new();
    state
        .refresh(
            &db,
            shared::time::now_micros(),
            resource_api::auth::state::Refresh::Reset,
        )
        .unwrap();
    assert_eq!(state.cached_keys(), 0, "keys must not be loaded at start");
    let found = state
        .key(
            &db,
            &keys[7].1,
            now,
            resource_api::auth::state::Lookup::MayQuery,
        )
        .await
        .unwrap();
    assert_eq!(found.map(|k| k.id.clone()), Some(keys[7].0.clone()));
    assert_eq!(state.cached_keys(), 1);
}

fn insert_key(
    c: &mut shared::db::DbConnection,
    id: &str,
    digest: &str,
    masked: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id),
            api_keys::name.eq("bulk"),
            api_keys::description.eq(""),
            api_keys::environment.eq("sandbox"),
            api_keys::scopes.eq("cases:read"),
            api_keys::tier.eq("standard"),
            api_keys::key_digest.eq(digest),
            api_keys::masked_token.eq(masked),
            api_keys::created_at.eq(now),
            api_keys::updated_at.eq(now),
        ))
        .execute(c)
}
