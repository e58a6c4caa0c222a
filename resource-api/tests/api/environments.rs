//! Live and sandbox never see each other's records.

use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

#[actix_web::test]
async fn records_of_another_environment_are_404_both_ways() {
    let s = TestStack::start().await;
    let all = [
        "cases:read",
        "cases:write",
        "sar:read",
        "sar:write",
        "subjects:read",
        "subjects:write",
        "watchlist:read",
        "watchlist:write",
    ];
    let (_, live) = s.api_key(&all, "live", "unlimited").await;
    let (_, _, sandbox) = s.app_token(&all, "sandbox", "unlimited").await;

    let live_case: Value = s
        .post("/v2/cases", &live, json!({"title": "live"}))
        .await
        .json()
        .await
        .unwrap();
    let sand_case: Value = s
        .post("/v2/cases", &sandbox, json!({"title": "sandbox"}))
        .await
        .json()
        .await
        .unwrap();
    // References are per environment: both are number one.
    assert_eq!(live_case["reference"], sand_case["reference"]);
    for (cred, other) in [(&live, &sand_case), (&sandbox, &live_case)] {
        let path = format!("/v2/cases/{}", other["id"].as_str().unwrap());
        assert_error(s.get(&path, cred).await, 404, "not_found").await;
        assert_error(
            s.patch(&path, cred, json!({"title": "hijack"})).await,
            404,
            "not_found",
        )
        .await;
        assert_error(
            s.post(&format!("{path}/close"), cred, json!({"resolution": "x"}))
                .await,
            404,
            "not_found",
        )
        .await;
        assert_error(
            s.get(&format!("{path}/history"), cred).await,
            404,
            "not_found",
        )
        .await;
        // A SAR cannot point at the other environment's case.
        let resp = s
            .post(
                "/v2/sars",
                cred,
                json!({"case_id": other["id"], "amount": "1.00", "currency": "EUR"}),
            )
            .await;
        assert_error(resp, 422, "validation_failed").await;
    }
    let lists: Value = s.get("/v2/cases", &live).await.json().await.unwrap();
    assert_eq!(lists["pagination"]["total"], 1);
    assert_eq!(lists["data"][0]["title"], "live");

    // Sandbox seed data is invisible from live.
    assert_error(
        s.get("/v2/subjects/subj_sandbox0000000001", &live).await,
        404,
        "not_found",
    )
    .await;
    let live_subjects: Value = s.get("/v2/subjects", &live).await.json().await.unwrap();
    assert_eq!(live_subjects["pagination"]["total"], 0);
    let sandbox_subjects: Value = s.get("/v2/subjects", &sandbox).await.json().await.unwrap();
    assert!(sandbox_subjects["pagination"]["total"].as_i64().unwrap() >= 4);
}
