//! Concurrency: no lost updates under racing writes, optimistic concurrency with
//! `ETag`/`If-Match`, and idempotent creates with `Idempotency-Key`.

use serde_json::{json, Map, Value};

use crate::helpers::{assert_error, TestStack};

/// Trials per race test: each trial races one transition against seven PATCHes.
const TRIALS: usize = 20;

/// Sends `method path` with `body` from a spawned task, so that all requests of a trial are in
/// flight together. Returns (status, body).
fn spawn_call(
    s: &TestStack,
    method: reqwest::Method,
    path: String,
    credential: &str,
    body: Value,
) -> actix_web::rt::task::JoinHandle<(u16, Value)> {
    let (http, url, credential) = (
        s.http.clone(),
        format!("{}{path}", s.api),
        credential.to_owned(),
    );
    actix_web::rt::spawn(async move {
        let resp = http
            .request(method, url)
            .bearer_auth(credential)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

/// Replays a case's history from nothing: every event's `to` values, oldest first.
fn fold_history(events: &[Value]) -> Map<String, Value> {
    let mut state = Map::new();
    for e in events {
        for (field, change) in e["changes"].as_object().unwrap() {
            state.insert(field.clone(), change["to"].clone());
        }
    }
    state
}

#[actix_web::test]
async fn a_close_racing_seven_patches_is_never_lost_and_history_agrees() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    for trial in 0..TRIALS {
        let case: Value = s
            .post(
                "/v2/cases",
                &token,
                json!({"title": format!("race {trial}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
        let mut patches = Vec::new();
        let close = spawn_call(
            &s,
            reqwest::Method::POST,
            format!("{path}/close"),
            &token,
            json!({"resolution": format!("closed in trial {trial}")}),
        );
        for i in 0..7 {
            let body = match i % 3 {
                0 => json!({"status": if i % 2 == 0 { "in_review" } else { "escalated" }}),
                1 => json!({"title": format!("title {trial}.{i}"), "priority": "high"}),
                _ => json!({"status": "escalated", "priority": "critical"}),
            };
            patches.push(spawn_call(
                &s,
                reqwest::Method::PATCH,
                path.clone(),
                &token,
                body,
            ));
        }
        let (status, closed) = close.await.unwrap();
        assert_eq!(
            status, 200,
            "trial {trial}: close answered {status}: {closed}"
        );
        for p in patches {
            let (status, body) = p.await.unwrap();
            assert!(
                status == 200 || status == 409,
                "trial {trial}: patch answered {status}: {body}"
            );
        }

        // The close was the last write: every PATCH after it is refused, so the row is what the
        // close answered, field for field.
        let now: Value = s.get(&path, &token).await.json().await.unwrap();
        assert_eq!(
            now, closed,
            "trial {trial}: the row disagrees with the close's answer"
        );
        assert_eq!(now["status"], "closed", "trial {trial}");

        let history: Value = s
            .get(&format!("{path}/history?page_size=100"), &token)
            .await
            .json()
            .await
            .unwrap();
        let events = history["data"].as_array().unwrap();
        assert_eq!(events.last().unwrap()["action"], "closed", "trial {trial}");
        let replayed = fold_history(events);
        for field in ["title", "status", "priority", "resolution"] {
            assert_eq!(
                replayed.get(field).unwrap_or(&Value::Null),
                &now[field],
                "trial {trial}: history says {field} is {:?}, the row says {}",
                replayed.get(field),
                now[field]
            );
        }
    }
}

#[actix_web::test]
async fn a_sar_submit_racing_seven_patches_is_never_lost() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(
            &["cases:read", "cases:write", "sar:read", "sar:write"],
            "sandbox",
            "unlimited",
        )
        .await;
    let case: Value = s
        .post("/v2/cases", &token, json!({"title": "SAR race"}))
        .await
        .json()
        .await
        .unwrap();
    for trial in 0..TRIALS {
        let sar: Value = s
            .post(
                "/v2/sars",
                &token,
                json!({"case_id": case["id"], "narrative": "first draft", "amount": "100.00", "currency": "EUR"}),
            )
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/v2/sars/{}", sar["id"].as_str().unwrap());
        let submit = spawn_call(
            &s,
            reqwest::Method::POST,
            format!("{path}/submit"),
            &token,
            json!({}),
        );
        let patches: Vec<_> = (0..7)
            .map(|i| {
                spawn_call(
                    &s,
                    reqwest::Method::PATCH,
                    path.clone(),
                    &token,
                    json!({"amount": format!("{}{i}.50", trial + 1), "narrative": format!("draft {i}")}),
                )
            })
            .collect();
        let (status, submitted) = submit.await.unwrap();
        assert_eq!(
            status, 200,
            "trial {trial}: submit answered {status}: {submitted}"
        );
        for p in patches {
            let (status, body) = p.await.unwrap();
            assert!(
                status == 200 || status == 409,
                "trial {trial}: patch answered {status}: {body}"
            );
        }
        let now: Value = s.get(&path, &token).await.json().await.unwrap();
        assert_eq!(now["status"], "submitted", "trial {trial}");
        assert_eq!(
            now, submitted,
            "trial {trial}: the row disagrees with the submit's answer"
        );
    }
}

/// `method path` with extra headers.
async fn send(
    s: &TestStack,
    method: reqwest::Method,
    path: &str,
    credential: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.api))
        .bearer_auth(credential);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// An unlimited sandbox token that may read and write cases, SARs, watchlist entries and
/// subjects.
async fn record_writer(s: &TestStack) -> String {
    let scopes = [
        "cases:read",
        "cases:write",
        "sar:read",
        "sar:write",
        "watchlist:read",
        "watchlist:write",
        "subjects:read",
        "subjects:write",
    ];
    s.app_token(&scopes, "sandbox", "unlimited").await.2
}

fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn single_records_carry_an_etag_that_changes_with_every_write() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    let case_resp = s.post("/v2/cases", &token, json!({"title": "etag"})).await;
    assert_eq!(case_resp.status(), 201);
    let created_tag = etag_of(&case_resp);
    let case: Value = case_resp.json().await.unwrap();
    let sar: Value = s
        .post(
            "/v2/sars",
            &token,
            json!({"case_id": case["id"], "amount": "10.00", "currency": "EUR"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let entry: Value = s
        .post(
            "/v2/watchlist",
            &token,
            json!({"name": "Etag Person", "entry_type": "person", "list_source": "test"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let subject: Value = s
        .post(
            "/v2/subjects",
            &token,
            json!({"name": "Etag Subject", "subject_type": "person"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let records = [
        (
            format!("/v2/cases/{}", case["id"].as_str().unwrap()),
            json!({"title": "etag 2"}),
        ),
        (
            format!("/v2/sars/{}", sar["id"].as_str().unwrap()),
            json!({"narrative": "n"}),
        ),
        (
            format!("/v2/watchlist/{}", entry["id"].as_str().unwrap()),
            json!({"reason": "r"}),
        ),
        (
            format!("/v2/subjects/{}", subject["id"].as_str().unwrap()),
            json!({"country": "FR"}),
        ),
        // A seeded record, written before versions existed, has a version too.
        (
            "/v2/subjects/subj_sandbox0000000001".to_owned(),
            json!({"name": "Elena Varga-Kis"}),
        ),
    ];
    for (path, change) in records {
        let before = s.get(&path, &token).await;
        assert_eq!(before.status(), 200, "{path}");
        let tag = etag_of(&before);
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "{path}: strong tag {tag}"
        );
        let patched = s.patch(&path, &token, change).await;
        assert_eq!(patched.status(), 200, "{path}");
        let new_tag = etag_of(&patched);
        assert_ne!(new_tag, tag, "{path}: a write changes the ETag");
        let patched_body: Value = patched.json().await.unwrap();
        let after = s.get(&path, &token).await;
        assert_eq!(etag_of(&after), new_tag, "{path}");
        assert_eq!(after.json::<Value>().await.unwrap(), patched_body, "{path}");
    }
    // The case's first ETag was the one its creation answered.
    assert_ne!(created_tag, "");
    let tag_now = etag_of(
        &s.get(
            &format!("/v2/cases/{}", case["id"].as_str().unwrap()),
            &token,
        )
        .await,
    );
    assert_ne!(tag_now, created_tag);
}

#[actix_web::test]
async fn a_stale_if_match_is_412_and_writes_nothing() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    let created = s.post("/v2/cases", &token, json!({"title": "v1"})).await;
    let v1 = etag_of(&created);
    let case: Value = created.json().await.unwrap();
    let path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
    let v2 = etag_of(&s.patch(&path, &token, json!({"title": "v2"})).await);
    let current: Value = s.get(&path, &token).await.json().await.unwrap();
    let events = |s: &TestStack, token: String, path: String| {
        let (http, url) = (s.http.clone(), format!("{}{path}/history", s.api));
        async move {
            let h: Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            h["pagination"]["total"].as_i64().unwrap()
        }
    };
    let events_before = events(&s, token.clone(), path.clone()).await;
    assert_eq!(events_before, 2);

    // Stale: every write with the first version is refused and changes nothing.
    for (method, p, body) in [
        (
            reqwest::Method::PATCH,
            path.clone(),
            json!({"title": "lost"}),
        ),
        (
            reqwest::Method::POST,
            format!("{path}/assign"),
            json!({"assignee": "x"}),
        ),
        (
            reqwest::Method::POST,
            format!("{path}/close"),
            json!({"resolution": "r"}),
        ),
    ] {
        let resp = send(&s, method, &p, &token, &[("If-Match", &v1)], Some(body)).await;
        assert_error(resp, 412, "precondition_failed").await;
    }
    // A weak tag never matches (strong comparison), even with the current version.
    let weak = format!("W/{v2}");
    let resp = send(
        &s,
        reqwest::Method::PATCH,
        &path,
        &token,
        &[("If-Match", &weak)],
        Some(json!({"title": "weak"})),
    )
    .await;
    assert_error(resp, 412, "precondition_failed").await;
    let after: Value = s.get(&path, &token).await.json().await.unwrap();
    assert_eq!(after, current, "a refused write changed the case");
    assert_eq!(events(&s, token.clone(), path.clone()).await, events_before);

    // Malformed If-Match is a 400, not an unconditional write.
    for bad in ["3", "\"3", "*, \"3\""] {
        let resp = send(
            &s,
            reqwest::Method::PATCH,
            &path,
            &token,
            &[("If-Match", bad)],
            Some(json!({"title": "bad"})),
        )
        .await;
        assert_error(resp, 400, "invalid_request").await;
    }
    assert_eq!(
        s.get(&path, &token).await.json::<Value>().await.unwrap(),
        current
    );

    // Current, or one of a list, or `*`: the write goes through.
    let list = format!("{v1}, {v2}");
    let resp = send(
        &s,
        reqwest::Method::PATCH,
        &path,
        &token,
        &[("If-Match", &list)],
        Some(json!({"title": "v3"})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v3 = etag_of(&resp);
    assert_ne!(v3, v2);
    let resp = send(
        &s,
        reqwest::Method::POST,
        &format!("{path}/close"),
        &token,
        &[("If-Match", "*")],
        Some(json!({"resolution": "done"})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "closed");
    // `*` on a record that does not exist is still a 404.
    let resp = send(
        &s,
        reqwest::Method::PATCH,
        "/v2/cases/case_doesnotexist00000000",
        &token,
        &[("If-Match", "*")],
        Some(json!({"title": "x"})),
    )
    .await;
    assert_error(resp, 404, "not_found").await;
}

#[actix_web::test]
async fn if_match_guards_sar_submit_subject_patch_and_watchlist_delete() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    let case: Value = s
        .post("/v2/cases", &token, json!({"title": "c"}))
        .await
        .json()
        .await
        .unwrap();
    let sar = s
        .post(
            "/v2/sars",
            &token,
            json!({"case_id": case["id"], "narrative": "n", "amount": "1.00", "currency": "EUR"}),
        )
        .await;
    let stale = etag_of(&sar);
    let sar: Value = sar.json().await.unwrap();
    let sar_path = format!("/v2/sars/{}", sar["id"].as_str().unwrap());
    let fresh = etag_of(&s.patch(&sar_path, &token, json!({"amount": "2.00"})).await);
    let resp = send(
        &s,
        reqwest::Method::POST,
        &format!("{sar_path}/submit"),
        &token,
        &[("If-Match", &stale)],
        None,
    )
    .await;
    assert_error(resp, 412, "precondition_failed").await;
    assert_eq!(
        s.get(&sar_path, &token)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "draft"
    );
    let resp = send(
        &s,
        reqwest::Method::POST,
        &format!("{sar_path}/submit"),
        &token,
        &[("If-Match", &fresh)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);

    let subject_path = "/v2/subjects/subj_sandbox0000000002";
    let tag = etag_of(&s.get(subject_path, &token).await);
    s.patch(subject_path, &token, json!({"country": "DE"}))
        .await;
    let resp = send(
        &s,
        reqwest::Method::PATCH,
        subject_path,
        &token,
        &[("If-Match", &tag)],
        Some(json!({"country": "FR"})),
    )
    .await;
    assert_error(resp, 412, "precondition_failed").await;
    assert_eq!(
        s.get(subject_path, &token)
            .await
            .json::<Value>()
            .await
            .unwrap()["country"],
        "DE"
    );

    let entry = s
        .post(
            "/v2/watchlist",
            &token,
            json!({"name": "Del Me", "entry_type": "entity", "list_source": "t"}),
        )
        .await;
    let stale = etag_of(&entry);
    let entry: Value = entry.json().await.unwrap();
    let entry_path = format!("/v2/watchlist/{}", entry["id"].as_str().unwrap());
    let fresh = etag_of(
        &s.patch(&entry_path, &token, json!({"reason": "updated"}))
            .await,
    );
    let resp = send(
        &s,
        reqwest::Method::DELETE,
        &entry_path,
        &token,
        &[("If-Match", &stale)],
        None,
    )
    .await;
    assert_error(resp, 412, "precondition_failed").await;
    assert_eq!(s.get(&entry_path, &token).await.status(), 200);
    let resp = send(
        &s,
        reqwest::Method::DELETE,
        &entry_path,
        &token,
        &[("If-Match", &fresh)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(s.get(&entry_path, &token).await.status(), 404);
}

async fn total(s: &TestStack, path: &str, credential: &str) -> i64 {
    let list: Value = s.get(path, credential).await.json().await.unwrap();
    list["pagination"]["total"].as_i64().unwrap()
}

#[actix_web::test]
async fn an_idempotent_create_is_answered_once_and_replayed() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    let key = [("Idempotency-Key", "create-case-7f3a")];
    let body = json!({"title": "Wire from a shell company", "priority": "high"});
    let first = send(
        &s,
        reqwest::Method::POST,
        "/v2/cases",
        &token,
        &key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_tag = etag_of(&first);
    let first: Value = first.json().await.unwrap();
    let path = format!("/v2/cases/{}", first["id"].as_str().unwrap());

    // The record changes; a retry still gets the first answer, and creates nothing.
    s.patch(&path, &token, json!({"title": "renamed"})).await;
    let again = send(
        &s,
        reqwest::Method::POST,
        "/v2/cases",
        &token,
        &key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(etag_of(&again), first_tag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(total(&s, "/v2/cases", &token).await, 1);

    // Same key, different body: 422, nothing created.
    let other = send(
        &s,
        reqwest::Method::POST,
        "/v2/cases",
        &token,
        &key,
        Some(json!({"title": "another"})),
    )
    .await;
    assert_error(other, 422, "idempotency_key_reused").await;
    assert_eq!(total(&s, "/v2/cases", &token).await, 1);

    // Another credential with the same key is independent.
    let (key_id, api_key) = s
        .api_key(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    assert!(!key_id.is_empty());
    let theirs = send(
        &s,
        reqwest::Method::POST,
        "/v2/cases",
        &api_key,
        &key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(total(&s, "/v2/cases", &token).await, 2);

    // Malformed keys are refused before anything is written.
    let long = "k".repeat(256);
    for bad in ["", "has space", long.as_str()] {
        let resp = send(
            &s,
            reqwest::Method::POST,
            "/v2/cases",
            &token,
            &[("Idempotency-Key", bad)],
            Some(body.clone()),
        )
        .await;
        assert_error(resp, 400, "invalid_request").await;
    }
    assert_eq!(total(&s, "/v2/cases", &token).await, 2);
}

#[actix_web::test]
async fn every_create_accepts_an_idempotency_key() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    let case: Value = s
        .post("/v2/cases", &token, json!({"title": "c"}))
        .await
        .json()
        .await
        .unwrap();
    let creates = [
        (
            "/v2/sars",
            json!({"case_id": case["id"], "amount": "5.00", "currency": "USD"}),
        ),
        (
            "/v2/watchlist",
            json!({"name": "Idem Entity", "entry_type": "entity", "list_source": "t"}),
        ),
        (
            "/v2/subjects",
            json!({"name": "Idem Subject", "subject_type": "entity"}),
        ),
    ];
    for (path, body) in &creates {
        let before = total(&s, path, &token).await;
        let key_value = format!("{path}-key");
        let key = [("Idempotency-Key", key_value.as_str())];
        let a = send(
            &s,
            reqwest::Method::POST,
            path,
            &token,
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(a.status(), 201, "{path}");
        assert!(a.headers().get("idempotent-replayed").is_none(), "{path}");
        let a: Value = a.json().await.unwrap();
        let b = send(
            &s,
            reqwest::Method::POST,
            path,
            &token,
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(b.status(), 201, "{path}");
        assert_eq!(
            b.headers().get("idempotent-replayed").unwrap(),
            "true",
            "{path}"
        );
        assert_eq!(b.json::<Value>().await.unwrap(), a, "{path}");
        assert_eq!(total(&s, path, &token).await, before + 1, "{path}");
    }
    // A key names one request: the same key on another route is a different request.
    let (path, body) = &creates[2];
    let key = [("Idempotency-Key", "/v2/sars-key")];
    let resp = send(
        &s,
        reqwest::Method::POST,
        path,
        &token,
        &key,
        Some(body.clone()),
    )
    .await;
    assert_error(resp, 422, "idempotency_key_reused").await;
}

#[actix_web::test]
async fn concurrent_creates_with_one_key_create_one_record() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    for trial in 0..5 {
        let key = format!("burst-{trial}");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (http, url, token, key) = (
                    s.http.clone(),
                    format!("{}/v2/cases", s.api),
                    token.clone(),
                    key.clone(),
                );
                actix_web::rt::spawn(async move {
                    let resp = http
                        .post(url)
                        .bearer_auth(token)
                        .header("Idempotency-Key", key)
                        .json(&json!({"title": "burst"}))
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status().as_u16();
                    (status, resp.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 201, "trial {trial}: {body}");
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            ids.len(),
            1,
            "trial {trial}: one key made {} cases",
            ids.len()
        );
        assert_eq!(total(&s, "/v2/cases", &token).await, trial + 1);
    }
}

/// A transition whose answer was lost: the retry with the same key gets the first answer
/// (status, body, `ETag`, `Idempotent-Replayed: true`), not 409 or 412; the same key with another
/// body, or on another record, is 422 like a create's; nothing is written twice.
#[actix_web::test]
async fn a_retried_close_assign_or_submit_with_its_key_gets_the_first_answer() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    let post = reqwest::Method::POST;
    let case: Value = s
        .post("/v2/cases", &token, json!({"title": "replayed close"}))
        .await
        .json()
        .await
        .unwrap();
    let case_path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
    let created_tag = etag_of(&s.get(&case_path, &token).await);

    // /assign, sent twice with one key and the first ETag: one history event.
    let assign_key = [
        ("Idempotency-Key", "assign-1"),
        ("If-Match", created_tag.as_str()),
    ];
    let assign = json!({"assignee": "inv-7"});
    let path = format!("{case_path}/assign");
    let first = send(
        &s,
        post.clone(),
        &path,
        &token,
        &assign_key,
        Some(assign.clone()),
    )
    .await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (first_tag, first) = (etag_of(&first), first.json::<Value>().await.unwrap());
    let again = send(
        &s,
        post.clone(),
        &path,
        &token,
        &assign_key,
        Some(assign.clone()),
    )
    .await;
    assert_eq!(again.status(), 200, "not 412 for the stale If-Match");
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(etag_of(&again), first_tag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    // /close, the issue's case: the retry is 200 with the first body, not 409.
    let close_key = [("Idempotency-Key", "close-1")];
    let close = json!({"resolution": "no further action"});
    let path = format!("{case_path}/close");
    let first = send(
        &s,
        post.clone(),
        &path,
        &token,
        &close_key,
        Some(close.clone()),
    )
    .await;
    assert_eq!(first.status(), 200);
    let (first_tag, first) = (etag_of(&first), first.json::<Value>().await.unwrap());
    assert_eq!(first["status"], "closed");
    let again = send(
        &s,
        post.clone(),
        &path,
        &token,
        &close_key,
        Some(close.clone()),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(etag_of(&again), first_tag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Without the key (or with a new one) the final state answers: 409 `conflict`.
    let fresh = [("Idempotency-Key", "close-2")];
    for headers in [&[][..], &fresh[..]] {
        let resp = send(
            &s,
            post.clone(),
            &path,
            &token,
            headers,
            Some(close.clone()),
        )
        .await;
        assert_error(resp, 409, "conflict").await;
    }
    // The same key with another body, or on the assign route: 422, as for creates.
    let other = json!({"resolution": "escalated to the regulator"});
    let resp = send(&s, post.clone(), &path, &token, &close_key, Some(other)).await;
    assert_error(resp, 422, "idempotency_key_reused").await;
    let resp = send(
        &s,
        post.clone(),
        &format!("{case_path}/assign"),
        &token,
        &close_key,
        Some(assign),
    )
    .await;
    assert_error(resp, 422, "idempotency_key_reused").await;
    let history: Value = s
        .get(&format!("{case_path}/history"), &token)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "assigned", "closed"]);

    // /submit (no body): the retry is the first 200; a second SAR under the same key is 422.
    let open: Value = s
        .post("/v2/cases", &token, json!({"title": "a SAR's case"}))
        .await
        .json()
        .await
        .unwrap();
    let sar = json!({"case_id": open["id"], "narrative": "Structured deposits.", "amount": "9500.00", "currency": "EUR"});
    let mut sars = Vec::new();
    for _ in 0..2 {
        let resp = s.post("/v2/sars", &token, sar.clone()).await;
        assert_eq!(resp.status(), 201);
        let v: Value = resp.json().await.unwrap();
        sars.push(format!("/v2/sars/{}/submit", v["id"].as_str().unwrap()));
    }
    let submit_key = [("Idempotency-Key", "submit-1")];
    let first = send(&s, post.clone(), &sars[0], &token, &submit_key, None).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "submitted");
    let again = send(&s, post.clone(), &sars[0], &token, &submit_key, None).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let resp = send(&s, post.clone(), &sars[0], &token, &[], None).await;
    assert_error(resp, 409, "conflict").await;
    let resp = send(&s, post.clone(), &sars[1], &token, &submit_key, None).await;
    assert_error(resp, 422, "idempotency_key_reused").await;
    let untouched: Value = s
        .get(sars[1].trim_end_matches("/submit"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(untouched["status"], "draft");
}

/// Retries that race the first attempt (a client that timed out and resent at once): every
/// request with the key answers the one close, none is 409, and the case is closed once.
#[actix_web::test]
async fn racing_closes_with_one_key_close_the_case_once_and_answer_alike() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    for trial in 0..5 {
        let case: Value = s
            .post(
                "/v2/cases",
                &token,
                json!({"title": format!("race {trial}")}),
            )
            .await
            .json()
            .await
            .unwrap();
        let url = format!("{}/v2/cases/{}/close", s.api, case["id"].as_str().unwrap());
        let key = format!("race-close-{trial}");
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let (http, url, token, key) =
                    (s.http.clone(), url.clone(), token.clone(), key.clone());
                actix_web::rt::spawn(async move {
                    let resp = http
                        .post(url)
                        .bearer_auth(token)
                        .header("Idempotency-Key", key)
                        .json(&json!({"resolution": "raced"}))
                        .send()
                        .await
                        .unwrap();
                    (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut bodies = Vec::new();
        for call in calls {
            let (status, body) = call.await.unwrap();
            assert_eq!(status, 200, "trial {trial}: {body}");
            bodies.push(body);
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "trial {trial}");
        let history: Value = s
            .get(
                &format!("/v2/cases/{}/history", case["id"].as_str().unwrap()),
                &token,
            )
            .await
            .json()
            .await
            .unwrap();
        let closes = history["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "closed")
            .count();
        assert_eq!(closes, 1, "trial {trial}");
    }
}

/// A retried DELETE with its key is the first 204 again, not 404.
#[actix_web::test]
async fn a_retried_delete_with_its_key_is_204_again() {
    let s = TestStack::start().await;
    let token = record_writer(&s).await;
    let entry: Value = s
        .post(
            "/v2/watchlist",
            &token,
            json!({"name": "Ivan Example", "entry_type": "person", "list_source": "OFAC"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v2/watchlist/{}", entry["id"].as_str().unwrap());
    let key = [("Idempotency-Key", "delete-1")];
    let delete = reqwest::Method::DELETE;
    let first = send(&s, delete.clone(), &path, &token, &key, None).await;
    assert_eq!(first.status(), 204);
    let again = send(&s, delete.clone(), &path, &token, &key, None).await;
    assert_eq!(again.status(), 204);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert!(again.bytes().await.unwrap().is_empty());
    let resp = send(&s, delete, &path, &token, &[], None).await;
    assert_error(resp, 404, "not_found").await;
}

#[actix_web::test]
async fn the_openapi_document_shows_etag_if_match_412_and_idempotency_key() {
    let s = TestStack::start().await;
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let param_names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .map(|ps| {
                // Shared headers are references to `components.parameters`.
                ps.iter()
                    .map(|p| match p["$ref"].as_str() {
                        Some(r) => doc["components"]["parameters"]
                            [r.trim_start_matches("#/components/parameters/")]
                        .clone(),
                        None => p.clone(),
                    })
                    .filter(|p| p["in"] == "header")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    for path in [
        "/v2/cases/{id}",
        "/v2/sars/{id}",
        "/v2/watchlist/{id}",
        "/v2/subjects/{id}",
    ] {
        let get = op(path, "get");
        assert!(
            get["responses"]["200"]["headers"]["ETag"].is_object(),
            "GET {path} ETag"
        );
    }
    let conditional = [
        ("/v2/cases/{id}", "patch"),
        ("/v2/cases/{id}/assign", "post"),
        ("/v2/cases/{id}/close", "post"),
        ("/v2/sars/{id}", "patch"),
        ("/v2/sars/{id}/submit", "post"),
        ("/v2/watchlist/{id}", "patch"),
        ("/v2/watchlist/{id}", "delete"),
        ("/v2/subjects/{id}", "patch"),
    ];
    for (path, method) in conditional {
        let o = op(path, method);
        assert!(
            param_names(&o).contains(&"If-Match".to_owned()),
            "{method} {path} If-Match"
        );
        assert!(o["responses"]["412"].is_object(), "{method} {path} 412");
        if method != "delete" {
            assert!(
                o["responses"]["200"]["headers"]["ETag"].is_object(),
                "{method} {path} ETag"
            );
        }
    }
    for path in ["/v2/cases", "/v2/sars", "/v2/watchlist", "/v2/subjects"] {
        let o = op(path, "post");
        assert!(
            param_names(&o).contains(&"Idempotency-Key".to_owned()),
            "POST {path}"
        );
        let headers = &o["responses"]["201"]["headers"];
        assert!(
            headers["ETag"].is_object() && headers["Idempotent-Replayed"].is_object(),
            "POST {path}"
        );
        assert!(o["responses"]["422"].is_object(), "POST {path} 422");
    }
}

/// The issue's scenario: a replica dies (SIGKILL) with creates in flight; the clients retry
/// every create with its key on another replica. Each key ends as exactly one case, and a
/// create that was answered before the kill is answered the same way again.
#[actix_web::test]
async fn creates_cut_off_by_kill_9_are_retried_without_duplicates() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_resource-api"))
        .env("DATABASE_URL", s.db.url())
        .env("API_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", &s.auth)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let doomed = format!("http://127.0.0.1:{port}");
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        s.http
            .get(format!("{doomed}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    const N: usize = 16;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (http, url, key) = (s.http.clone(), format!("{doomed}/v2/cases"), key.clone());
            actix_web::rt::spawn(async move {
                let resp = http
                    .post(url)
                    .bearer_auth(key)
                    .header("Idempotency-Key", format!("crash-{i}"))
                    .json(&json!({"title": format!("in flight {i}")}))
                    .send()
                    .await
                    .ok()?;
                let body: Value = resp.json().await.ok()?;
                body["id"].as_str().map(str::to_owned)
            })
        })
        .collect();
    // Kill as soon as the first case is committed, while the others are in flight.
    crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        total(&s, "/v2/cases", &key).await >= 1
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut first = Vec::new();
    for t in tasks {
        first.push(t.await.unwrap());
    }

    for (i, answered) in first.iter().enumerate() {
        let resp = send(
            &s,
            reqwest::Method::POST,
            "/v2/cases",
            &key,
            &[("Idempotency-Key", &format!("crash-{i}"))],
            Some(json!({"title": format!("in flight {i}")})),
        )
        .await;
        assert_eq!(resp.status(), 201, "retry {i}");
        let id = resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if let Some(answered) = answered {
            assert_eq!(&id, answered, "retry {i} answered another case");
        }
    }
    assert_eq!(total(&s, "/v2/cases?page_size=100", &key).await, N as i64);
}
