//! SARs, watchlist and screening, subjects and risk, transactions and alerts.

use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

#[actix_web::test]
async fn sars_are_drafted_edited_submitted_and_then_frozen() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(
            &["cases:write", "sar:read", "sar:write"],
            "sandbox",
            "unlimited",
        )
        .await;
    let case: Value = s
        .post("/v2/cases", &key, json!({"title": "c"}))
        .await
        .json()
        .await
        .unwrap();
    let resp = s
        .post("/v2/sars", &key, json!({"case_id": case["id"], "amount": "125000.50", "currency": "USD", "subject_ids": ["subj_sandbox0000000003"]}))
        .await;
    assert_eq!(resp.status(), 201);
    let sar: Value = resp.json().await.unwrap();
    assert_eq!(sar["status"], "draft");
    assert_eq!(sar["amount"], "125000.50");
    let path = format!("/v2/sars/{}", sar["id"].as_str().unwrap());

    // Submitting needs a narrative.
    assert_error(
        s.post(&format!("{path}/submit"), &key, json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    let edited: Value = s
        .patch(
            &path,
            &key,
            json!({"narrative": "Layering through a shipping company.", "amount": "130000"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["amount"], "130000");
    let submitted: Value = s
        .post(&format!("{path}/submit"), &key, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["status"], "submitted");
    assert!(submitted["submitted_at"].is_string());
    assert_error(
        s.patch(&path, &key, json!({"narrative": "changed"})).await,
        409,
        "conflict",
    )
    .await;
    assert_error(
        s.post(&format!("{path}/submit"), &key, json!({})).await,
        409,
        "conflict",
    )
    .await;
    let got: Value = s.get(&path, &key).await.json().await.unwrap();
    assert_eq!(got["narrative"], "Layering through a shipping company.");

    for (body, field) in [
        (
            json!({"case_id": case["id"], "amount": 125000.5, "currency": "USD"}),
            None,
        ),
        (
            json!({"case_id": case["id"], "amount": "1e6", "currency": "USD"}),
            Some("amount"),
        ),
        (
            json!({"case_id": case["id"], "amount": "10.00", "currency": "usd"}),
            Some("currency"),
        ),
        (
            json!({"case_id": "case_doesnotexist", "amount": "10.00", "currency": "USD"}),
            Some("case_id"),
        ),
    ] {
        let err = assert_error(
            s.post("/v2/sars", &key, body).await,
            422,
            "validation_failed",
        )
        .await;
        if let Some(f) = field {
            assert_eq!(err["details"]["field"], f);
        }
    }
    let list: Value = s.get("/v2/sars", &key).await.json().await.unwrap();
    assert_eq!(list["pagination"]["total"], 1);
}

#[actix_web::test]
async fn screening_tolerates_case_accents_order_and_misspellings() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["watchlist:read", "watchlist:write"], "live", "unlimited")
        .await;
    let created = s
        .post("/v2/watchlist", &key, json!({"name": "José Müller-Ramírez", "aliases": ["Pepe Muller"], "entry_type": "person",
                                           "country": "es", "date_of_birth": "1970-05-01", "list_source": "test-list", "reason": "test"}))
        .await;
    assert_eq!(created.status(), 201);
    let entry: Value = created.json().await.unwrap();
    assert_eq!(entry["country"], "ES");
    s.post(
        "/v2/watchlist",
        &key,
        json!({"name": "Acme Holdings", "entry_type": "entity", "list_source": "test-list"}),
    )
    .await;

    for query in [
        "jose muller ramirez",
        "RAMIREZ JOSE MULLER",
        "Jose Muler-Ramirez",
        "pepe muller",
    ] {
        let r: Value = s
            .post("/v2/watchlist/screen", &key, json!({"name": query}))
            .await
            .json()
            .await
            .unwrap();
        let matches = r["matches"].as_array().unwrap();
        assert!(!matches.is_empty(), "{query} should match");
        assert_eq!(matches[0]["entry"]["id"], entry["id"], "{query}");
        let score = matches[0]["score"].as_f64().unwrap();
        assert!((0.8..=1.0).contains(&score), "{query}: {score}");
    }
    let none: Value = s
        .post(
            "/v2/watchlist/screen",
            &key,
            json!({"name": "Completely Different"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["matches"], json!([]));
    assert_error(
        s.post("/v2/watchlist/screen", &key, json!({"name": ""}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        s.post(
            "/v2/watchlist",
            &key,
            json!({"name": "x", "entry_type": "ship", "list_source": "l"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    // A bidi override or a zero-width space would make a name read differently from what it
    // is (in the console, exports and tables).
    for name in ["evil\u{202e}name", "evil\u{200b}name"] {
        let err = assert_error(
            s.post(
                "/v2/watchlist",
                &key,
                json!({"name": name, "entry_type": "person", "list_source": "l"}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert!(
            err["error_description"]
                .as_str()
                .unwrap()
                .contains("invisible"),
            "{err}"
        );
    }

    let path = format!("/v2/watchlist/{}", entry["id"].as_str().unwrap());
    let patched: Value = s
        .patch(&path, &key, json!({"reason": "updated"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["reason"], "updated");
    assert_eq!(
        s.call(reqwest::Method::DELETE, &path, &key, None)
            .await
            .status(),
        204
    );
    assert_error(s.get(&path, &key).await, 404, "not_found").await;
}

#[actix_web::test]
async fn subjects_get_a_risk_score_from_country_and_watchlist() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(&["subjects:read", "subjects:write"], "sandbox", "unlimited")
        .await;
    let plain: Value = s
        .post(
            "/v2/subjects",
            &key,
            json!({"subject_type": "person", "name": "Anna Schmidt", "country": "DE"}),
        )
        .await
        .json()
        .await
        .unwrap();
    // The sandbox watchlist holds "Viktor Sokolov", VE, 1975-09-30.
    let listed: Value = s
        .post("/v2/subjects", &key, json!({"subject_type": "person", "name": "Victor Sokolov", "country": "VE", "date_of_birth": "1975-09-30"}))
        .await
        .json()
        .await
        .unwrap();
    let (p, l) = (
        plain["risk_score"].as_i64().unwrap(),
        listed["risk_score"].as_i64().unwrap(),
    );
    assert!((0..=100).contains(&p) && (0..=100).contains(&l));
    assert!(
        l > p,
        "a watchlisted name in a grey-list country scores higher ({l} vs {p})"
    );
    assert_eq!(plain["risk_level"], "low");
    assert_eq!(listed["risk_level"], "high");

    let path = format!("/v2/subjects/{}", plain["id"].as_str().unwrap());
    let moved: Value = s
        .patch(&path, &key, json!({"country": "KP"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(moved["risk_score"].as_i64().unwrap() > p);
    assert_error(
        s.post(
            "/v2/subjects",
            &key,
            json!({"subject_type": "person", "name": "x", "date_of_birth": "2999-01-01"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        s.post(
            "/v2/subjects",
            &key,
            json!({"subject_type": "person", "name": "x", "country": "Germany"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn sandbox_has_seeded_transactions_and_alerts_with_filters() {
    let s = TestStack::start().await;
    let (_, key) = s
        .api_key(
            &["transactions:read", "alerts:read"],
            "sandbox",
            "unlimited",
        )
        .await;
    let all: Value = s.get("/v2/transactions", &key).await.json().await.unwrap();
    assert_eq!(all["pagination"]["total"], 10);
    let one: Value = s
        .get("/v2/transactions?subject_id=subj_sandbox0000000001", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["pagination"]["total"], 4);
    let window: Value = s
        .get(
            "/v2/transactions?from=2026-01-03T00:00:00Z&to=2026-01-04T23:59:59Z",
            &key,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(window["pagination"]["total"], 2);
    assert_error(
        s.get("/v2/transactions?from=yesterday", &key).await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(
        s.get(
            "/v2/transactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &key,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;

    let alerts: Value = s
        .get("/v2/alerts?status=open", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alerts["pagination"]["total"], 3);
    assert_error(
        s.get("/v2/alerts?severity=extreme", &key).await,
        400,
        "invalid_query",
    )
    .await;

    let (_, live) = s
        .api_key(&["transactions:read", "alerts:read"], "live", "unlimited")
        .await;
    let empty: Value = s.get("/v2/transactions", &live).await.json().await.unwrap();
    assert_eq!(empty["pagination"]["total"], 0);
}
