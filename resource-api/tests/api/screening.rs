//! Screening at scale: bounded inputs, the candidate index kept in step with writes, matching
//! quality through the index, environments, and no connection starvation while scoring.

use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

/// Screens `name` with `key` and returns the matched entry ids, best first.
async fn screen(s: &TestStack, key: &str, name: &str) -> Vec<String> {
    screen_on(s, &s.api, key, name).await
}

/// As [`screen`], on the resource API at `api`.
async fn screen_on(s: &TestStack, api: &str, key: &str, name: &str) -> Vec<String> {
    let resp = s
        .http
        .post(format!("{api}/v2/watchlist/screen"))
        .bearer_auth(key)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{name}");
    let body: Value = resp.json().await.unwrap();
    body["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["entry"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_entry(s: &TestStack, key: &str, body: Value) -> String {
    let resp = s.post("/v2/watchlist", key, body).await;
    assert_eq!(resp.status(), 201);
    let entry: Value = resp.json().await.unwrap();
    entry["id"].as_str().unwrap().to_owned()
}

async fn total_entries(s: &TestStack, key: &str) -> i64 {
    let list: Value = s.get("/v2/watchlist", key).await.json().await.unwrap();
    list["pagination"]["total"].as_i64().unwrap()
}

#[actix_web::test]
async fn names_and_aliases_are_bounded_and_nothing_is_written() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["watchlist:read", "watchlist:write"], "live", "unlimited")
        .await;
    let long = "a".repeat(201);
    let too_many: Vec<String> = (0..21).map(|i| format!("Alias Number {i}")).collect();
    for (body, field) in [
        (
            json!({"name": long, "entry_type": "person", "list_source": "l"}),
            "name",
        ),
        (
            json!({"name": "Ok Name", "aliases": too_many, "entry_type": "person", "list_source": "l"}),
            "aliases",
        ),
        (
            json!({"name": "Ok Name", "aliases": ["fine", long], "entry_type": "person", "list_source": "l"}),
            "aliases",
        ),
    ] {
        let err = assert_error(
            s.post("/v2/watchlist", &key, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(err["details"]["field"], field);
    }
    assert_eq!(total_entries(&s, &key).await, 0);

    // The limits themselves are accepted.
    let at_limit: Vec<String> = (0..20)
        .map(|i| format!("{} {i:02}", "Longalias ".repeat(19)))
        .collect();
    assert!(at_limit.iter().all(|a| a.chars().count() <= 200));
    let id = create_entry(
        &s,
        &key,
        json!({"name": "b".repeat(200), "aliases": at_limit, "entry_type": "person", "list_source": "l"}),
    )
    .await;
    let path = format!("/v2/watchlist/{id}");
    let before: Value = s.get(&path, &key).await.json().await.unwrap();

    // A PATCH over the limits changes nothing, the index included.
    for body in [
        json!({"name": long}),
        json!({"aliases": (0..21).map(|i| format!("Other {i}")).collect::<Vec<_>>()}),
        json!({"name": "Brand New", "aliases": [long]}),
    ] {
        let err = assert_error(s.patch(&path, &key, body).await, 422, "validation_failed").await;
        assert!(err["details"]["field"] == "name" || err["details"]["field"] == "aliases");
    }
    let after: Value = s.get(&path, &key).await.json().await.unwrap();
    assert_eq!(before, after);
    assert!(screen(&s, &key, "Brand New").await.is_empty());

    // The screened name is bounded too.
    let err = assert_error(
        s.post("/v2/watchlist/screen", &key, json!({"name": long}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(err["details"]["field"], "name");
}

#[actix_web::test]
async fn the_index_follows_renames_alias_changes_and_deletes() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["watchlist:read", "watchlist:write"], "live", "unlimited")
        .await;
    let id = create_entry(
        &s,
        &key,
        json!({"name": "Viktor Bout", "aliases": ["Merchant of Death"], "entry_type": "person", "list_source": "l"}),
    )
    .await;
    let other = create_entry(
        &s,
        &key,
        json!({"name": "Amira Haddad", "entry_type": "person", "list_source": "l"}),
    )
    .await;
    assert_eq!(screen(&s, &key, "Viktor Bout").await, [id.as_str()]);
    assert_eq!(screen(&s, &key, "merchant of death").await, [id.as_str()]);

    let path = format!("/v2/watchlist/{id}");
    let renamed = s
        .patch(&path, &key, json!({"name": "Nikolai Petrenko"}))
        .await;
    assert_eq!(renamed.status(), 200);
    assert!(screen(&s, &key, "Viktor Bout").await.is_empty());
    assert_eq!(screen(&s, &key, "Nikolai Petrenko").await, [id.as_str()]);
    // The alias was not part of the PATCH and still finds the entry.
    assert_eq!(screen(&s, &key, "Merchant of Death").await, [id.as_str()]);

    let realiased = s
        .patch(&path, &key, json!({"aliases": ["Grigori Smirnov"]}))
        .await;
    assert_eq!(realiased.status(), 200);
    assert!(screen(&s, &key, "Merchant of Death").await.is_empty());
    assert_eq!(screen(&s, &key, "Grigory Smirnow").await, [id.as_str()]);

    assert_eq!(
        s.call(Method::DELETE, &path, &key, None).await.status(),
        204
    );
    assert!(screen(&s, &key, "Nikolai Petrenko").await.is_empty());
    assert!(screen(&s, &key, "Grigori Smirnov").await.is_empty());
    assert_eq!(screen(&s, &key, "Amira Haddad").await, [other]);
}

#[actix_web::test]
async fn misspellings_accents_and_word_order_are_found_among_many_similar_entries() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["watchlist:read", "watchlist:write"], "live", "unlimited")
        .await;
    // More entries share the given name than a screen scores, so the target is only found if
    // the candidate lookup ranks it above them.
    for i in 0..230 {
        create_entry(
            &s,
            &key,
            json!({"name": format!("Mohammed Decoy{i:03}"), "entry_type": "person", "list_source": "l"}),
        )
        .await;
    }
    let target = create_entry(
        &s,
        &key,
        json!({"name": "Mohammed Al-Rashid", "aliases": ["Abu Bakr al-Baghdadi"], "entry_type": "person", "list_source": "l"}),
    )
    .await;
    for query in [
        "Mohammed Al-Rashid",
        "MOHAMED AL RASHID",
        "Rashid Mohammed",
        "Mohammed al-Rashíd",
        "Muhammad Al Rasheed",
        "Abubakr al Bagdadi",
    ] {
        let hits = screen(&s, &key, query).await;
        assert_eq!(hits.first(), Some(&target), "{query}");
    }
    assert!(screen(&s, &key, "Maria Garcia").await.is_empty());
}

#[actix_web::test]
async fn screening_and_risk_scoring_see_only_their_own_environment() {
    let s = TestStack::start().await;
    let (_, live) = s
        .api_key(
            &["watchlist:read", "watchlist:write", "subjects:write"],
            "live",
            "unlimited",
        )
        .await;
    let (_, sandbox) = s
        .api_key(
            &["watchlist:read", "watchlist:write", "subjects:write"],
            "sandbox",
            "unlimited",
        )
        .await;
    let live_entry = create_entry(
        &s,
        &live,
        json!({"name": "Golden Crescent Holdings", "entry_type": "entity", "list_source": "l"}),
    )
    .await;
    // The sandbox seed data holds "Viktor Sokolov" and its own "Golden Crescent Holdings".
    assert!(screen(&s, &live, "Viktor Sokolov").await.is_empty());
    assert_eq!(
        screen(&s, &live, "Golden Crescent Holdings").await,
        [live_entry.as_str()]
    );
    let in_sandbox = screen(&s, &sandbox, "Golden Crescent Holdings").await;
    assert_eq!(in_sandbox.len(), 1);
    assert_ne!(in_sandbox[0], live_entry);
    assert_eq!(screen(&s, &sandbox, "Viktor Sokolov").await.len(), 1);

    let subject = json!({"subject_type": "person", "name": "Viktor Sokolov", "country": "VE", "date_of_birth": "1975-09-30"});
    let in_live: Value = s
        .post("/v2/subjects", &live, subject.clone())
        .await
        .json()
        .await
        .unwrap();
    let in_sandbox: Value = s
        .post("/v2/subjects", &sandbox, subject)
        .await
        .json()
        .await
        .unwrap();
    // Base 10 + grey-list country 25; the sandbox adds the watchlist match.
    assert_eq!(in_live["risk_score"], 35);
    assert!(
        in_sandbox["risk_score"].as_i64().unwrap() >= 80,
        "{in_sandbox}"
    );
}

#[actix_web::test]
async fn entries_written_before_the_index_existed_are_indexed_at_startup() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["watchlist:read"], "live", "unlimited").await;
    // A row as the previous schema version wrote it: no normalised names, index version 0.
    let db = shared::db::Db::connect(s.db.url(), 1).unwrap();
    db.run_blocking(|c| {
        diesel::sql_query(
            "INSERT INTO watchlist_entries (id, environment, name, aliases, entry_type, \
             list_source, created_at, updated_at) VALUES ('wl_legacy0000000000001', 'live', \
             'Legacy Entry Person', '[\"Old Alias Name\"]', 'person', 'l', 1, 1)",
        )
        .execute(c)
    })
    .unwrap();
    assert!(screen(&s, &key, "Legacy Entry Person").await.is_empty());

    let restarted = s.another_api().await;
    assert_eq!(
        screen_on(&s, &restarted, &key, "Legacy Entry Persson").await,
        ["wl_legacy0000000000001"]
    );
    assert_eq!(
        screen_on(&s, &restarted, &key, "old alias name").await,
        ["wl_legacy0000000000001"]
    );
}

#[actix_web::test]
async fn concurrent_subject_creates_do_not_starve_other_requests() {
    // The API runs with a pool of four connections (helpers::api_config).
    let s = TestStack::start().await;
    let (_, writer) = s
        .api_key(&["watchlist:write", "subjects:write"], "live", "unlimited")
        .await;
    let (_, reader) = s.api_key(&["cases:read"], "live", "unlimited").await;
    // Every entry resembles the subjects' name and has the most and longest aliases allowed,
    // so each subject create has the most expensive scoring the limits permit.
    for i in 0..120 {
        let aliases: Vec<String> = (0..20)
            .map(|j| {
                format!(
                    "Alexander Ivanovich Petrov {i} {j} {}",
                    "Konstantinovich Sergeevich ".repeat(6)
                )
                .chars()
                .take(200)
                .collect()
            })
            .collect();
        create_entry(
            &s,
            &writer,
            json!({"name": format!("Alexandr Petrov {i}"), "aliases": aliases, "entry_type": "person", "list_source": "l"}),
        )
        .await;
    }

    let creates: Vec<_> = (0..16)
        .map(|i| {
            let (http, url, key) = (s.http.clone(), s.api.clone(), writer.clone());
            actix_web::rt::spawn(async move {
                http.post(format!("{url}/v2/subjects"))
                    .bearer_auth(key)
                    .json(
                        &json!({"subject_type": "person", "name": format!("Alexander Petrov {i}")}),
                    )
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut reads = Vec::new();
    while reads.len() < 5 || !creates.iter().all(|c| c.is_finished()) {
        reads.push(s.get("/v2/cases", &reader).await.status().as_u16());
    }
    let mut created = Vec::new();
    for c in creates {
        created.push(c.await.unwrap());
    }
    assert!(created.iter().all(|&st| st == 201), "{created:?}");
    assert!(reads.iter().all(|&st| st == 200), "{reads:?}");
}
