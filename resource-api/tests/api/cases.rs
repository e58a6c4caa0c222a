//! Cases: references, lifecycle, history, filters, bad input.

use std::collections::HashSet;

use chrono::Datelike;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

#[actix_web::test]
async fn a_case_lives_from_open_to_closed_with_a_full_history() {
    let s = TestStack::start().await;
    let (client_id, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    let resp = s
        .post("/v2/cases", &token, json!({"title": "Structuring at branch 14", "priority": "high", "subject_ids": ["subj_sandbox0000000001"]}))
        .await;
    assert_eq!(resp.status(), 201);
    let case: Value = resp.json().await.unwrap();
    let year = chrono::Utc::now().year();
    assert_eq!(case["reference"], format!("CF-{year}-000001"));
    assert_eq!(case["status"], "open");
    assert_eq!(case["priority"], "high");
    assert_eq!(case["subject_ids"], json!(["subj_sandbox0000000001"]));
    assert!(case["closed_at"].is_null());
    let id = case["id"].as_str().unwrap();
    let path = format!("/v2/cases/{id}");

    let patched: Value = s
        .patch(
            &path,
            &token,
            json!({"status": "in_review", "description": "two deposits"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["status"], "in_review");
    let (key_id, key) = s
        .api_key(&["cases:write", "cases:read"], "sandbox", "unlimited")
        .await;
    let assigned: Value = s
        .post(
            &format!("{path}/assign"),
            &key,
            json!({"assignee": "analyst@bank.example"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned["assignee"], "analyst@bank.example");

    assert_error(
        s.post(
            &format!("{path}/close"),
            &token,
            json!({"resolution": "  "}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let closed: Value = s
        .post(
            &format!("{path}/close"),
            &token,
            json!({"resolution": "SAR filed"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["resolution"], "SAR filed");
    assert!(closed["closed_at"].is_string());
    assert_error(
        s.post(
            &format!("{path}/close"),
            &token,
            json!({"resolution": "again"}),
        )
        .await,
        409,
        "conflict",
    )
    .await;
    assert_error(
        s.patch(&path, &token, json!({"title": "x"})).await,
        409,
        "conflict",
    )
    .await;

    let history: Value = s
        .get(&format!("{path}/history"), &token)
        .await
        .json()
        .await
        .unwrap();
    let events = history["data"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["created", "updated", "assigned", "closed"]);
    assert_eq!(events[0]["actor"], client_id.as_str());
    assert_eq!(events[2]["actor"], key_id.as_str());
    assert_eq!(
        events[1]["changes"]["status"],
        json!({"from": "open", "to": "in_review"})
    );
    assert_eq!(events[3]["changes"]["resolution"]["to"], "SAR filed");
    assert_eq!(history["pagination"]["total"], 4);
}

#[actix_web::test]
async fn sixty_four_concurrent_creates_get_unique_references() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (http, url, token) = (s.http.clone(), format!("{}/v2/cases", s.api), token.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"title": format!("case {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201);
            let v: Value = resp.json().await.unwrap();
            v["reference"].as_str().unwrap().to_owned()
        }));
    }
    let mut refs = HashSet::new();
    for t in tasks {
        assert!(refs.insert(t.await.unwrap()), "duplicate reference");
    }
    assert_eq!(refs.len(), 64);
    let list: Value = s
        .get("/v2/cases?page_size=100", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["pagination"]["total"], 64);
}

#[actix_web::test]
async fn lists_filter_and_paginate() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    for (i, p) in ["low", "high", "high", "critical", "high"]
        .iter()
        .enumerate()
    {
        let c: Value = s
            .post(
                "/v2/cases",
                &token,
                json!({"title": format!("c{i}"), "priority": p}),
            )
            .await
            .json()
            .await
            .unwrap();
        if i == 0 {
            s.post(
                &format!("/v2/cases/{}/assign", c["id"].as_str().unwrap()),
                &token,
                json!({"assignee": "ana"}),
            )
            .await;
        }
    }
    let high: Value = s
        .get("/v2/cases?priority=high&page_size=2", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(high["data"].as_array().unwrap().len(), 2);
    let mut pagination = high["pagination"].clone();
    assert!(pagination["next_cursor"].is_string());
    pagination.as_object_mut().unwrap().remove("next_cursor");
    assert_eq!(
        pagination,
        json!({"page": 1, "page_size": 2, "total": 3, "total_pages": 2})
    );
    let page2: Value = s
        .get("/v2/cases?priority=high&page_size=2&page=2", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    let ana: Value = s
        .get("/v2/cases?assignee=ana", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ana["pagination"]["total"], 1);
    let open: Value = s
        .get("/v2/cases?status=open", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["pagination"]["total"], 5);
    for bad in [
        "status=pending",
        "priority=urgent",
        "page=0",
        "page_size=101",
        "page=abc",
    ] {
        assert_error(
            s.get(&format!("/v2/cases?{bad}"), &token).await,
            400,
            "invalid_query",
        )
        .await;
    }
}

#[actix_web::test]
async fn an_unknown_enum_value_in_the_query_lists_the_valid_ones() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(&["cases:read"], "sandbox", "unlimited").await;
    let body = assert_error(
        s.get("/v2/cases?status=pending", &token).await,
        400,
        "invalid_query",
    )
    .await;
    let description = body["error_description"].as_str().unwrap();
    for value in ["open", "in_review", "escalated", "closed"] {
        assert!(description.contains(value), "{description}");
    }
    assert_eq!(body["details"]["parameter"], "status");
    assert_eq!(
        body["details"]["allowed"],
        serde_json::json!(["open", "in_review", "escalated", "closed"])
    );
    let body = assert_error(
        s.get("/v2/cases?priority=urgent", &token).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(
        body["details"]["allowed"],
        serde_json::json!(["low", "medium", "high", "critical"])
    );
}

#[actix_web::test]
async fn bad_input_gets_4xx_and_writes_nothing() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    let cases = [
        (json!({"title": ""}), 422),
        (json!({"title": "x", "priority": "urgent"}), 422),
        (json!({"title": 5}), 422),
        (json!({"title": "x", "status": "closed", "bogus": 1}), 422),
        (
            json!({"title": "x", "subject_ids": ["subj_doesnotexist"]}),
            422,
        ),
        (json!({"title": "x", "subject_ids": ["../../etc"]}), 422),
        (json!({"title": "a\u{0}b"}), 422),
    ];
    for (body, status) in cases {
        let resp = s.post("/v2/cases", &token, body.clone()).await;
        assert_eq!(resp.status(), status, "{body}");
        assert_error(resp, status, "validation_failed").await;
    }
    let raw = |body: String, ct: &'static str| {
        s.http
            .post(format!("{}/v2/cases", s.api))
            .bearer_auth(&token)
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    assert_error(
        raw("{\"title\":".into(), "application/json").await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    assert_error(
        raw("title=x".into(), "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        raw(
            format!("{{\"title\": \"{}\"}}", "a".repeat(70_000)),
            "application/json",
        )
        .await
        .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    for hostile in [
        "..%2F..%2Fetc%2Fpasswd",
        "case_%00",
        "case_'%20OR%201=1",
        &"x".repeat(3000),
    ] {
        assert_error(
            s.get(&format!("/v2/cases/{hostile}"), &token).await,
            404,
            "not_found",
        )
        .await;
        assert_error(
            s.patch(
                &format!("/v2/cases/{hostile}"),
                &token,
                json!({"title": "x"}),
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }
    let list: Value = s.get("/v2/cases", &token).await.json().await.unwrap();
    assert_eq!(list["pagination"]["total"], 0, "nothing was written");
}

#[actix_web::test]
async fn data_survives_a_restart() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    let case: Value = s
        .post("/v2/cases", &token, json!({"title": "keep me"}))
        .await
        .json()
        .await
        .unwrap();
    let second = s.another_api().await;
    let got: Value = s
        .http
        .get(format!(
            "{second}/v2/cases/{}",
            case["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["title"], "keep me");
    assert_eq!(got["reference"], case["reference"]);
}
