//! Screening at scale: bounded inputs, the candidate index kept in step with writes, matching
//! quality through the index, environments, and no connection starvation while scoring; the
//! work budget of one screen, the scoring turns (503 with `Retry-After` past them), and a
//! screen dropped when its client hangs up.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use diesel::RunQueryDsl;
use reqwest::Method;
use resource_api::config::ScoringConfig;
use resource_api::domain::screening::SCREEN_BUDGET;
use resource_api::service::watchlist::Scoring;
use serde_json::{json, Value};

use crate::helpers::{api_config, assert_error, eventually, TestStack};

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

    // Sixteen such scorings queue for the scoring turns longer than a debug build's second;
    // this test is about the database pool, so they may wait as long as they need.
    let (api, _) = api_with_scoring(&s, |c| c.wait = Duration::from_secs(120)).await;
    let creates: Vec<_> = (0..16)
        .map(|i| {
            let (http, url, key) = (s.http.clone(), api.clone(), writer.clone());
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
        let read = s
            .http
            .get(format!("{api}/v2/cases"))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        reads.push(read.status().as_u16());
    }
    let mut created = Vec::new();
    for c in creates {
        created.push(c.await.unwrap());
    }
    assert!(created.iter().all(|&st| st == 201), "{created:?}");
    assert!(reads.iter().all(|&st| st == 200), "{reads:?}");
}

/// Another resource API on the stack's database with its scoring turns adjusted: its URL and
/// its scoring, whose counts say what its screens did.
async fn api_with_scoring(
    s: &TestStack,
    adjust: impl FnOnce(&mut ScoringConfig),
) -> (String, Scoring) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut config = api_config(s.db.url(), &s.auth);
    config.public_url = url.clone();
    adjust(&mut config.scoring);
    let app = resource_api::Application::build_with_listener(config, listener)
        .await
        .unwrap();
    let scoring = app.scoring();
    actix_web::rt::spawn(app.run_until_stopped());
    (url, scoring)
}

/// 66 two-letter words from a dozen syllables (197 characters): the most words a name within
/// the limits can have, and as alike as names get.
fn adversarial_name(seed: &mut u64) -> String {
    const SYLLABLES: [&str; 12] = [
        "ka", "ri", "mo", "na", "lu", "se", "ta", "bo", "di", "fe", "gu", "pa",
    ];
    (0..66)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            SYLLABLES[((*seed >> 33) % 12) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[actix_web::test]
async fn an_adversarial_watchlist_is_screened_within_the_budget_and_real_names_are_still_found() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(
            &["watchlist:read", "watchlist:write", "subjects:write"],
            "live",
            "unlimited",
        )
        .await;
    // The attack of issue 21: 200 entries whose name and 20 aliases are each 66 two-letter
    // words. Every one is a candidate of a screen made the same way, and scoring all their
    // names took seconds.
    let mut seed = 21;
    let mut junk = Vec::new();
    for _ in 0..200 {
        let name = adversarial_name(&mut seed);
        let aliases: Vec<String> = (0..20).map(|_| adversarial_name(&mut seed)).collect();
        let id = create_entry(
            &s,
            &key,
            json!({"name": name, "aliases": aliases, "entry_type": "person", "list_source": "l"}),
        )
        .await;
        junk.push((id, name));
    }
    // And 150 entries made to be candidates of a real name: its words, then 62 two-letter
    // words, in all 21 names; beside them, the real entry.
    for _ in 0..150 {
        let names: Vec<String> = (0..21)
            .map(|_| format!("Viktor Bout {}", &adversarial_name(&mut seed)[..185]))
            .collect();
        create_entry(
            &s,
            &key,
            json!({"name": names[0], "aliases": names[1..], "entry_type": "person", "list_source": "l"}),
        )
        .await;
    }
    let real = create_entry(
        &s,
        &key,
        json!({"name": "Viktor Anatolyevich Bout", "aliases": ["Victor Butt", "Viktor Budd", "Vadim Aminov"], "entry_type": "person", "list_source": "l"}),
    )
    .await;
    let (api, scoring) = api_with_scoring(&s, |_| {}).await;

    // One junk entry's name with four of its words changed: the screen stops at its budget
    // and still answers, the entry among its matches.
    let (source, name) = &junk[123];
    let mut words: Vec<&str> = name.split(' ').collect();
    for i in [3, 20, 41, 60] {
        words[i] = "zu";
    }
    let similar = words.join(" ");
    let hits = screen_on(&s, &api, &key, &similar).await;
    assert!(hits.contains(source), "{hits:?}");
    let counts = scoring.counts();
    assert_eq!((counts.scored, counts.budget_exhausted), (1, 1));
    assert!(counts.most_work <= SCREEN_BUDGET, "{counts:?}");

    // A subject of that name is risk-scored the same way, within the same budget.
    let resp = s
        .http
        .post(format!("{api}/v2/subjects"))
        .bearer_auth(&key)
        .json(&json!({"subject_type": "person", "name": similar}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let subject: Value = resp.json().await.unwrap();
    // Base 10, and at least 20 for a watchlist match.
    assert!(subject["risk_score"].as_i64().unwrap() >= 30, "{subject}");
    let counts = scoring.counts();
    assert_eq!((counts.scored, counts.budget_exhausted), (2, 2));
    assert!(counts.most_work <= SCREEN_BUDGET, "{counts:?}");

    // Misspelled, reordered or accented, the real name comes first among its lookalikes.
    for query in ["Victor Bout", "BOUT, Viktor Anatolievich", "Víktor Bóut"] {
        let hits = screen_on(&s, &api, &key, query).await;
        assert_eq!(hits.first(), Some(&real), "{query}");
    }
    assert!(scoring.counts().most_work <= SCREEN_BUDGET);
}

#[actix_web::test]
async fn a_screen_that_gets_no_scoring_turn_in_time_is_refused_with_503_and_retry_after() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(
            &[
                "watchlist:read",
                "watchlist:write",
                "subjects:read",
                "subjects:write",
            ],
            "live",
            "unlimited",
        )
        .await;
    let id = create_entry(
        &s,
        &key,
        json!({"name": "Viktor Bout", "entry_type": "person", "list_source": "l"}),
    )
    .await;
    // No turn at all: every screen waits its 200 ms and is refused.
    let (api, scoring) = api_with_scoring(&s, |c| {
        c.concurrency = 0;
        c.wait = Duration::from_millis(200);
    })
    .await;
    let send = |path: &str, body: Value| {
        s.http
            .post(format!("{api}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    for (path, body) in [
        ("/v2/watchlist/screen", json!({"name": "Viktor Bout"})),
        (
            "/v2/subjects",
            json!({"subject_type": "person", "name": "Viktor Bout"}),
        ),
    ] {
        let resp = send(path, body).await.unwrap();
        assert_eq!(resp.headers()["retry-after"], "1", "{path}");
        let err = assert_error(resp, 503, "service_unavailable").await;
        assert_eq!(err["details"]["retry_after"], 1, "{path}");
    }
    assert_eq!(scoring.counts().refused, 2);
    // The refused subject was not written.
    let subjects: Value = s.get("/v2/subjects", &key).await.json().await.unwrap();
    assert_eq!(subjects["pagination"]["total"], 0);
    // An API with turns screens as ever.
    assert_eq!(screen(&s, &key, "Viktor Bout").await, [id]);

    // The document says so for every operation that scores names.
    let doc: Value = s
        .http
        .get(format!("{api}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v2/watchlist/screen", "post"),
        ("/v2/subjects", "post"),
        ("/v2/subjects/{id}", "patch"),
    ] {
        let busy = &doc["paths"][path][method]["responses"]["503"];
        assert!(busy["headers"]["Retry-After"].is_object(), "{path}: {busy}");
    }
}

#[actix_web::test]
async fn a_screen_whose_client_hangs_up_is_dropped_and_leaves_the_line() {
    let s = TestStack::start().await;
    let (_, key) = s.api_key(&["watchlist:read"], "live", "unlimited").await;
    // No turn, and a wait longer than the test: only the client's leaving ends the screen.
    let (api, scoring) = api_with_scoring(&s, |c| {
        c.concurrency = 0;
        c.wait = Duration::from_secs(600);
    })
    .await;
    let addr = api.trim_start_matches("http://").to_owned();
    let body = json!({"name": "Viktor Bout"}).to_string();
    let request = format!(
        "POST /v2/watchlist/screen HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut client = std::net::TcpStream::connect(&addr).unwrap();
    client.write_all(request.as_bytes()).unwrap();
    eventually(Duration::from_secs(20), || async {
        scoring.counts().waiting == 1
    })
    .await;

    drop(client);
    eventually(Duration::from_secs(20), || async {
        scoring.counts().abandoned == 1
    })
    .await;
    let counts = scoring.counts();
    assert_eq!((counts.waiting, counts.refused), (0, 0), "{counts:?}");
}
