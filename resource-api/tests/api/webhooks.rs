//! Webhooks (issue 25): endpoints per environment and scope, signed events from the outbox,
//! retries with the same `webhook-id`, rotation, and no private targets by default. A tiny
//! receiver (actix-web on port 0) stands in for the customer's endpoint; signatures are checked
//! here with HMAC-SHA256 written out from the Standard Webhooks specification, not with the
//! server's code.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{assert_error, eventually, TestStack};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A receiver that answers 500 to its first `fail_first` requests, then 200 — and 503 to
/// every request while it is closed.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    open: Arc<AtomicBool>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        Receiver::start_with(fail_first, true)
    }

    fn start_with(fail_first: usize, open: bool) -> Receiver {
        let open = Arc::new(AtomicBool::new(open));
        let is_open = open.clone();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let server = HttpServer::new(move || {
            let (seen, is_open) = (seen.clone(), is_open.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: String| {
                let (seen, is_open) = (seen.clone(), is_open.clone());
                async move {
                    if !is_open.load(Ordering::SeqCst) {
                        return HttpResponse::ServiceUnavailable().body("closed");
                    }
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let mut seen = seen.lock().unwrap();
                    seen.push(Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body,
                    });
                    if seen.len() <= fail_first {
                        HttpResponse::InternalServerError().body("not now")
                    } else {
                        HttpResponse::Ok().body("ok")
                    }
                }
            }))
        })
        .workers(1)
        .listen(l)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Receiver { url, got, open }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(Duration::from_secs(15), || async { self.got().len() >= n }).await;
        self.got()
    }
}

/// The Standard Webhooks check, written from the specification: every `v1,` signature in the
/// header is base64(HMAC-SHA256(base64-decoded secret after `whsec_`, "id.timestamp.body")).
/// Returns how many of the header's signatures verify with `secret`.
fn verifying_signatures(r: &Received, secret: &str) -> usize {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').filter(|s| *s == expected).count()
}

const ALL: &[&str] = &[
    "cases:read",
    "cases:write",
    "sar:read",
    "sar:write",
    "watchlist:read",
    "watchlist:write",
    "subjects:read",
    "subjects:write",
    "webhooks:read",
    "webhooks:write",
];

async fn endpoint(s: &TestStack, cred: &str, url: &str, events: &[&str]) -> Value {
    let resp = s
        .post(
            "/v2/webhook-endpoints",
            cred,
            json!({"url": url, "events": events, "description": "test"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// The deliveries page once its newest delivery has `status` (within 5 s).
async fn first_delivery_in(s: &TestStack, token: &str, path: &str, status: &str) -> Value {
    for _ in 0..50 {
        let page = json_of(s.get(path, token).await, 200).await;
        if page["data"][0]["status"] == status {
            return page;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery reached {status}");
}

async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status);
    resp.json().await.unwrap()
}

#[actix_web::test]
async fn signed_events_arrive_for_subscribed_types_only_and_verify() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(0);
    let ep = endpoint(&s, &token, &rx.url, &["case.created", "case.closed"]).await;
    let secret = ep["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    // The secret is shown once: never in a read or a list.
    let id = ep["id"].as_str().unwrap();
    let read = json_of(
        s.get(&format!("/v2/webhook-endpoints/{id}"), &token).await,
        200,
    )
    .await;
    assert!(read.get("secret").is_none());
    assert_eq!(read["events"], json!(["case.created", "case.closed"]));
    let list = json_of(s.get("/v2/webhook-endpoints", &token).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("whsec_"));

    let case = json_of(
        s.post("/v2/cases", &token, json!({"title": "hooked"}))
            .await,
        201,
    )
    .await;
    let case_path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
    // Not subscribed: case.updated and sar.created.
    json_of(
        s.patch(&case_path, &token, json!({"title": "renamed"}))
            .await,
        200,
    )
    .await;
    json_of(
        s.post(
            "/v2/sars",
            &token,
            json!({"case_id": case["id"], "narrative": "n", "amount": "1.00", "currency": "EUR"}),
        )
        .await,
        201,
    )
    .await;
    json_of(
        s.post(
            &format!("{case_path}/close"),
            &token,
            json!({"resolution": "done"}),
        )
        .await,
        200,
    )
    .await;
    let got = rx.wait_for(2).await;
    // Nothing else arrives.
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    let got_after = rx.got();
    assert_eq!(got_after.len(), 2, "{got_after:?}");
    let bodies: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"case.created") && types.contains(&"case.closed"),
        "{types:?}"
    );
    let now = chrono::Utc::now().timestamp();
    for (r, b) in got.iter().zip(&bodies) {
        assert_eq!(verifying_signatures(r, secret), 1, "{r:?}");
        assert!(r.id.starts_with("msg_"));
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!((now - ts).abs() < 300);
        assert!(b["timestamp"].as_str().unwrap().ends_with('Z'));
        // A tampered body does not verify.
        let tampered = Received {
            body: format!("{} ", r.body),
            ..r.clone()
        };
        assert_eq!(verifying_signatures(&tampered, secret), 0);
    }
    // `data` is the record as GET returns it after the change.
    let closed = bodies.iter().find(|b| b["type"] == "case.closed").unwrap();
    let current = json_of(s.get(&case_path, &token).await, 200).await;
    assert_eq!(closed["data"], current);
    let created = bodies.iter().find(|b| b["type"] == "case.created").unwrap();
    assert_eq!(created["data"]["title"], "hooked");
    assert_eq!(created["data"]["status"], "open");
}

#[actix_web::test]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt_with_the_same_id() {
    // The test configuration retries on the schedule `0,0`: three attempts in all.
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(2);
    let ep = endpoint(&s, &token, &rx.url, &["subject.created"]).await;
    let id = ep["id"].as_str().unwrap();
    json_of(
        s.post(
            "/v2/subjects",
            &token,
            json!({"subject_type": "person", "name": "Ada Lovelace", "country": "GB"}),
        )
        .await,
        201,
    )
    .await;
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.id == got[0].id && r.body == got[0].body));
    let deliveries_path = format!("/v2/webhook-endpoints/{id}/deliveries");
    let page = first_delivery_in(&s, &token, &deliveries_path, "succeeded").await;
    let d = &page["data"][0];
    assert_eq!(d["attempts"], 3, "{d}");
    assert_eq!(d["event_id"], got[0].id.as_str());
    assert_eq!(d["event_type"], "subject.created");
    assert_eq!(d["response_status"], 200);
    let statuses: Vec<&Value> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["response_status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    assert_eq!(d["response_excerpt"], "ok");

    // A retry by hand sends the same event again, with the same id.
    let retry = format!("{deliveries_path}/{}/retry", d["id"].as_str().unwrap());
    json_of(s.post(&retry, &token, json!({})).await, 202).await;
    let got = rx.wait_for(4).await;
    assert_eq!(got[3].id, got[0].id);
    assert_error(
        s.post(
            &format!("{deliveries_path}/dlv_00000000000000000000/retry"),
            &token,
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let metrics = s
        .http
        .get(format!("{}/metrics", s.api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("caseforge_api_webhook_attempts_total{result=\"5xx\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("caseforge_api_webhook_deliveries_total{outcome=\"retrying\"} 2"));
    assert!(metrics.contains("caseforge_api_webhook_outbox_depth"));
}

#[actix_web::test]
async fn a_delivery_that_never_succeeds_fails_after_the_schedule_and_can_be_retried_by_hand() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(3);
    let ep = endpoint(
        &s,
        &token,
        &rx.url,
        &["watchlist_entry.created", "watchlist_entry.deleted"],
    )
    .await;
    let id = ep["id"].as_str().unwrap();
    let entry = json_of(
        s.post("/v2/watchlist", &token, json!({"name": "Ivan Example", "entry_type": "person", "list_source": "test", "reason": "r"}))
            .await,
        201,
    )
    .await;
    rx.wait_for(3).await;
    let deliveries_path = format!("/v2/webhook-endpoints/{id}/deliveries");
    let mut page = first_delivery_in(&s, &token, &deliveries_path, "failed").await;
    assert_eq!(page["data"][0]["attempts"], 3);
    let retry = format!(
        "{deliveries_path}/{}/retry",
        page["data"][0]["id"].as_str().unwrap()
    );
    json_of(s.post(&retry, &token, json!({})).await, 202).await;
    page = first_delivery_in(&s, &token, &deliveries_path, "succeeded").await;
    assert_eq!(page["data"][0]["attempts"], 4);
    // A delete is an event too, with the entry as it was.
    let entry_path = format!("/v2/watchlist/{}", entry["id"].as_str().unwrap());
    let resp = s
        .call(reqwest::Method::DELETE, &entry_path, &token, None)
        .await;
    assert_eq!(resp.status(), 204);
    let got = rx.wait_for(5).await;
    let last: Value = serde_json::from_str(&got[4].body).unwrap();
    assert_eq!(last["type"], "watchlist_entry.deleted");
    assert_eq!(last["data"]["id"], entry["id"]);
}

#[actix_web::test]
async fn endpoints_and_events_are_isolated_by_environment_and_scope() {
    let s = TestStack::start().await;
    let (_, _, sandbox) = s.app_token(ALL, "sandbox", "unlimited").await;
    let (_, live) = s.api_key(ALL, "live", "unlimited").await;
    let rx_sandbox = Receiver::start(0);
    let rx_live = Receiver::start(0);
    let ep = endpoint(&s, &sandbox, &rx_sandbox.url, &["case.created"]).await;
    endpoint(&s, &live, &rx_live.url, &["case.created"]).await;
    let path = format!("/v2/webhook-endpoints/{}", ep["id"].as_str().unwrap());
    assert_error(s.get(&path, &live).await, 404, "not_found").await;
    assert_error(
        s.patch(&path, &live, json!({"enabled": false})).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        s.call(reqwest::Method::DELETE, &path, &live, None).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        s.post(&format!("{path}/rotate-secret"), &live, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        s.get(&format!("{path}/deliveries"), &live).await,
        404,
        "not_found",
    )
    .await;
    let live_list = json_of(s.get("/v2/webhook-endpoints", &live).await, 200).await;
    assert_eq!(live_list["data"].as_array().unwrap().len(), 1);
    assert_ne!(live_list["data"][0]["id"], ep["id"]);

    // Each environment's event reaches only its own endpoint.
    let live_case = json_of(
        s.post("/v2/cases", &live, json!({"title": "live"})).await,
        201,
    )
    .await;
    let sandbox_case = json_of(
        s.post("/v2/cases", &sandbox, json!({"title": "sandbox"}))
            .await,
        201,
    )
    .await;
    rx_live.wait_for(1).await;
    rx_sandbox.wait_for(1).await;
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    let (l, sb) = (rx_live.got(), rx_sandbox.got());
    assert_eq!((l.len(), sb.len()), (1, 1));
    let lb: Value = serde_json::from_str(&l[0].body).unwrap();
    let sbb: Value = serde_json::from_str(&sb[0].body).unwrap();
    assert_eq!(lb["data"]["id"], live_case["id"]);
    assert_eq!(sbb["data"]["id"], sandbox_case["id"]);

    // Scope: without webhooks:* every route is 403.
    let (_, _, cases_only) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    assert_error(
        s.get("/v2/webhook-endpoints", &cases_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_error(s.get(&path, &cases_only).await, 403, "insufficient_scope").await;
    assert_error(
        s.post(
            "/v2/webhook-endpoints",
            &cases_only,
            json!({"url": rx_sandbox.url, "events": ["case.created"]}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let (_, _, read_only) = s
        .app_token(&["webhooks:read"], "sandbox", "unlimited")
        .await;
    json_of(s.get(&path, &read_only).await, 200).await;
    assert_error(
        s.patch(&path, &read_only, json!({"enabled": false})).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_error(
        s.post(&format!("{path}/rotate-secret"), &read_only, json!({}))
            .await,
        403,
        "insufficient_scope",
    )
    .await;
}

#[actix_web::test]
async fn private_targets_and_plain_http_for_live_are_refused_by_default() {
    let s = TestStack::start().await;
    let (api, _) = s
        .another_api_with(|c| c.webhooks.settings.allow_private_targets = false)
        .await;
    let (_, _, sandbox) = s.app_token(ALL, "sandbox", "unlimited").await;
    let (_, _, live) = s.app_token(ALL, "live", "unlimited").await;
    let create = |cred: &str, url: &str| {
        s.http
            .post(format!("{api}/v2/webhook-endpoints"))
            .bearer_auth(cred)
            .json(&json!({"url": url, "events": ["case.created"]}))
            .send()
    };
    for url in [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:9999/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",
        "http://0x7f000001/hook",
    ] {
        let body = assert_error(
            create(&sandbox, url).await.unwrap(),
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["details"]["field"], "url", "{url}: {body}");
    }
    // A public address is fine for sandbox over http, not for live.
    assert_eq!(
        create(&sandbox, "http://93.184.215.14/hook")
            .await
            .unwrap()
            .status(),
        201
    );
    let body = assert_error(
        create(&live, "http://93.184.215.14/hook").await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("https"),
        "{body}"
    );
    assert_eq!(
        create(&live, "https://93.184.215.14/hook")
            .await
            .unwrap()
            .status(),
        201
    );
    // A change to a private URL is refused the same way.
    let ep: Value = create(&sandbox, "http://93.184.215.14/other")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = s
        .http
        .patch(format!(
            "{api}/v2/webhook-endpoints/{}",
            ep["id"].as_str().unwrap()
        ))
        .bearer_auth(&sandbox)
        .json(&json!({"url": "http://127.0.0.1/x"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "validation_failed").await;
}

#[actix_web::test]
async fn bad_endpoint_input_is_a_4xx_envelope_and_writes_nothing() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let url = "http://127.0.0.1:9/hook";
    let long_url = format!("http://127.0.0.1:9/{}", "a".repeat(3000));
    for (body, field) in [
        (
            json!({"url": url, "events": ["case.exploded"]}),
            Some("events"),
        ),
        (json!({"url": url, "events": []}), Some("events")),
        (
            json!({"url": "not a url", "events": ["case.created"]}),
            Some("url"),
        ),
        (
            json!({"url": "ftp://example.com/x", "events": ["case.created"]}),
            Some("url"),
        ),
        (
            json!({"url": long_url, "events": ["case.created"]}),
            Some("url"),
        ),
        (
            json!({"url": url, "events": ["case.created"], "description": "d".repeat(600)}),
            Some("description"),
        ),
        (
            json!({"url": url, "events": ["case.created"], "secret": "mine"}),
            None,
        ),
        (json!({"url": url}), None),
        (json!({"url": 7, "events": ["case.created"]}), None),
    ] {
        let resp = s.post("/v2/webhook-endpoints", &token, body.clone()).await;
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{body}: {status}");
        let e: Value = resp.json().await.unwrap();
        assert!(e["error"].is_string(), "{e}");
        if let Some(f) = field {
            assert_eq!(e["details"]["field"], f, "{body}: {e}");
        }
    }
    let resp = s
        .http
        .post(format!("{}/v2/webhook-endpoints", s.api))
        .bearer_auth(&token)
        .body(vec![b'x'; 100 * 1024])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let list = json_of(s.get("/v2/webhook-endpoints", &token).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let ep = endpoint(&s, &token, url, &["case.created"]).await;
    let id = ep["id"].as_str().unwrap();
    let path = format!("/v2/webhook-endpoints/{id}");
    assert_error(
        s.patch(&path, &token, json!({"events": []})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        s.post(
            &format!("{path}/rotate-secret"),
            &token,
            json!({"grace_period_seconds": 99_999_999}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        s.get("/v2/webhook-endpoints/nope", &token).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        s.get("/v2/webhook-endpoints/whe_00000000000000000000", &token)
            .await,
        404,
        "not_found",
    )
    .await;
    // Unchanged by the refused writes.
    let read = json_of(s.get(&path, &token).await, 200).await;
    assert_eq!(read["events"], json!(["case.created"]));
}

#[actix_web::test]
async fn a_rotated_secret_signs_beside_the_previous_one_during_the_grace_period() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(0);
    let ep = endpoint(&s, &token, &rx.url, &["case.created"]).await;
    let (id, old) = (ep["id"].as_str().unwrap(), ep["secret"].as_str().unwrap());
    let rotated = json_of(
        s.post(
            &format!("/v2/webhook-endpoints/{id}/rotate-secret"),
            &token,
            json!({}),
        )
        .await,
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(old, new);
    assert!(rotated["previous_secret_expires_at"].is_string());
    json_of(
        s.post("/v2/cases", &token, json!({"title": "a"})).await,
        201,
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2);
    assert_eq!(verifying_signatures(&got[0], old), 1);
    assert_eq!(verifying_signatures(&got[0], new), 1);
    // Without a grace period the previous secret stops at once.
    let newest = json_of(
        s.post(
            &format!("/v2/webhook-endpoints/{id}/rotate-secret"),
            &token,
            json!({"grace_period_seconds": 0}),
        )
        .await,
        200,
    )
    .await;
    let newest = newest["secret"].as_str().unwrap();
    json_of(
        s.post("/v2/cases", &token, json!({"title": "b"})).await,
        201,
    )
    .await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].signature.split(' ').count(), 1);
    assert_eq!(verifying_signatures(&got[1], newest), 1);
    assert_eq!(verifying_signatures(&got[1], new), 0);
}

#[actix_web::test]
async fn a_refused_or_disabled_write_sends_nothing_and_a_disabled_endpoint_gets_nothing() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(0);
    let ep = endpoint(&s, &token, &rx.url, &["case.created", "case.updated"]).await;
    // A create refused inside its transaction (an unknown subject) writes no event.
    assert_error(
        s.post(
            "/v2/cases",
            &token,
            json!({"title": "x", "subject_ids": ["subj_00000000000000000000"]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let case = json_of(
        s.post("/v2/cases", &token, json!({"title": "ok"})).await,
        201,
    )
    .await;
    let case_path = format!("/v2/cases/{}", case["id"].as_str().unwrap());
    // A stale If-Match writes nothing, and no event.
    let resp = s
        .http
        .patch(format!("{}{case_path}", s.api))
        .bearer_auth(&token)
        .header("If-Match", "\"99\"")
        .json(&json!({"title": "stale"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 412, "precondition_failed").await;
    let got = rx.wait_for(1).await;
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.got().len(), 1, "{got:?}");
    // Disabled: nothing arrives; enabled again: the next event does.
    let path = format!("/v2/webhook-endpoints/{}", ep["id"].as_str().unwrap());
    let off = json_of(s.patch(&path, &token, json!({"enabled": false})).await, 200).await;
    assert_eq!(off["enabled"], false);
    json_of(
        s.patch(&case_path, &token, json!({"title": "quiet"})).await,
        200,
    )
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.got().len(), 1);
    json_of(s.patch(&path, &token, json!({"enabled": true})).await, 200).await;
    json_of(
        s.patch(&case_path, &token, json!({"title": "loud"})).await,
        200,
    )
    .await;
    let got = rx.wait_for(2).await;
    let b: Value = serde_json::from_str(&got.last().unwrap().body).unwrap();
    assert_eq!(b["type"], "case.updated");
    assert_eq!(b["data"]["title"], "loud");
    // Deleted: gone, with its log.
    let resp = s.call(reqwest::Method::DELETE, &path, &token, None).await;
    assert_eq!(resp.status(), 204);
    assert_error(s.get(&path, &token).await, 404, "not_found").await;
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `resource-api` binary on `port`, the stack's database and issuer, retrying every second.
fn spawn_api(s: &TestStack, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_resource-api"))
        .env("DATABASE_URL", s.db.url())
        .env("API_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", &s.auth)
        .env("RUST_LOG", "error")
        .env("WEBHOOK_SECRET_KEY", STANDARD.encode([9u8; 32]))
        .env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        .env("WEBHOOK_TIMEOUT_SECS", "1")
        .env("WEBHOOK_RETRY_SCHEDULE", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, api: &str) {
    eventually(Duration::from_secs(20), || async {
        http.get(format!("{api}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

/// Every create the API acknowledged (201) before a `kill -9` has its `case.created` delivered
/// once the API is back: the event was committed with the case, in the outbox, and deliveries
/// leased by the killed process are attempted again when their lease runs out.
#[actix_web::test]
async fn creates_acknowledged_before_a_kill_9_are_all_delivered_after_restart() {
    let s = TestStack::without_api().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    // Closed (503) until the API has been killed: nothing is delivered before.
    let rx = Receiver::start_with(0, false);
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let mut child = spawn_api(&s, port);
    wait_ready(&s.http, &api).await;
    let resp = s
        .http
        .post(format!("{api}/v2/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": rx.url, "events": ["case.created"]}))
        .send()
        .await
        .unwrap();
    let resp_id = json_of(resp, 201).await["id"].as_str().unwrap().to_owned();

    // Four writers create cases until the process is gone; it is killed mid-stream.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, api, token, acked) = (
            s.http.clone(),
            api.clone(),
            token.clone(),
            acknowledged.clone(),
        );
        writers.push(actix_web::rt::spawn(async move {
            for i in 0.. {
                let resp = http
                    .post(format!("{api}/v2/cases"))
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("w{w} #{i}")}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return,
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push(v["id"].as_str().unwrap().to_owned());
                    }
                    _ => return,
                }
            }
        }));
    }
    eventually(Duration::from_secs(20), || async {
        acknowledged.lock().unwrap().len() >= 30
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() >= 30);

    rx.open.store(true, Ordering::SeqCst);
    let mut child = spawn_api(&s, port);
    wait_ready(&s.http, &api).await;
    let delivered = || {
        let got = rx.got();
        let ids: std::collections::HashSet<String> = got
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter(|b| b["type"] == "case.created")
            .filter_map(|b| b["data"]["id"].as_str().map(str::to_owned))
            .collect();
        acked.iter().filter(|id| !ids.contains(*id)).count()
    };
    let limit = std::time::Instant::now() + Duration::from_secs(30);
    while delivered() > 0 && std::time::Instant::now() < limit {
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    if delivered() > 0 {
        let page: Value = s
            .http
            .get(format!(
                "{api}/v2/webhook-endpoints/{resp_id}/deliveries?page_size=100"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let all = page["data"].as_array().unwrap();
        let bad: Vec<&Value> = all.iter().filter(|d| d["status"] != "succeeded").collect();
        eprintln!("deliveries: {}, not succeeded: {bad:#?}", all.len());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        delivered(),
        0,
        "of {} acknowledged creates, these were never delivered",
        acked.len()
    );
}

/// Two replicas on one database both deliver, and between them each event arrives once: the
/// fan-out and the claims lock and mark their rows (SKIP LOCKED on PostgreSQL, a conditional
/// mark everywhere), so neither loses nor duplicates a delivery.
#[actix_web::test]
async fn two_replicas_deliver_every_event_once_between_them() {
    let s = TestStack::start().await;
    let second = s.another_api().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(0);
    endpoint(&s, &token, &rx.url, &["case.created"]).await;
    let mut created = Vec::new();
    for i in 0..40 {
        let api = if i % 2 == 0 { &s.api } else { &second };
        let resp = s
            .http
            .post(format!("{api}/v2/cases"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("r{i}")}))
            .send()
            .await
            .unwrap();
        let v = json_of(resp, 201).await;
        created.push(v["id"].as_str().unwrap().to_owned());
    }
    rx.wait_for(40).await;
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    let got = rx.got();
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        got.len(),
        40,
        "duplicates: {} deliveries of {} events",
        got.len(),
        ids.len()
    );
    let cases: std::collections::HashSet<String> = got
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(created.iter().all(|c| cases.contains(c)));
}

#[actix_web::test]
async fn a_retried_endpoint_delete_with_its_key_is_204_again() {
    let s = TestStack::start().await;
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    let rx = Receiver::start(0);
    let ep = endpoint(&s, &token, &rx.url, &["case.created"]).await;
    let path = format!("/v2/webhook-endpoints/{}", ep["id"].as_str().unwrap());
    let delete = |key: Option<&'static str>| {
        let mut req = s
            .http
            .delete(format!("{}{path}", s.api))
            .bearer_auth(&token);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req.send()
    };
    let first = delete(Some("endpoint-delete-1")).await.unwrap();
    assert_eq!(first.status(), 204);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let again = delete(Some("endpoint-delete-1")).await.unwrap();
    assert_eq!(again.status(), 204);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_error(delete(None).await.unwrap(), 404, "not_found").await;
}

/// The console's doors to the same endpoints (issue 25): an endpoint made by the auth server's
/// console service is delivered to and signed with the secret the operator was shown, and one
/// made through `/v2` by a developer's own API key is theirs in the console.
#[actix_web::test]
async fn console_endpoints_get_signed_events_and_api_endpoints_belong_to_the_keys_owner() {
    use auth_server::service::audit::{AuditContext, AuditKey};
    use auth_server::service::{api_keys, webhook_endpoints as console};

    let s = TestStack::start().await;
    let db = shared::db::Db::connect(s.db.url(), 2).unwrap();
    let ctx = AuditContext::system(&AuditKey::from_kek(&crate::helpers::test_kek()));
    let settings = auth_server::Config::for_tests(s.db.url(), &s.auth)
        .console
        .webhooks;
    let now = shared::time::now_micros();

    // Made in the console (as a developer would: owned, sandbox).
    let rx = Receiver::start(0);
    let made = console::create(
        &db,
        &ctx,
        &settings,
        console::NewEndpoint {
            environment: shared::Environment::Sandbox,
            url: rx.url.clone(),
            events: vec!["case.created".into()],
            description: "from the console".into(),
            owner_id: Some("op_dev".into()),
        },
        now,
    )
    .await
    .unwrap();
    let (_, _, token) = s.app_token(ALL, "sandbox", "unlimited").await;
    // The API sees it like any endpoint of its environment, never its secret.
    let read = json_of(
        s.get(
            &format!("/v2/webhook-endpoints/{}", made.endpoint.id),
            &token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(read["description"], "from the console");
    assert!(read.get("owner_id").is_none() && read.get("secret").is_none());
    json_of(
        s.post(
            "/v2/cases",
            &token,
            json!({"title": "seen by the console's endpoint"}),
        )
        .await,
        201,
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(verifying_signatures(&got[0], &made.secret), 1);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "case.created");
    // The console's page lists the delivery.
    let deliveries = console::deliveries(&db, &made.endpoint).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_type, "case.created");

    // Made through /v2 with an API key a developer owns: the developer's in the console.
    let key = api_keys::create(
        &db,
        &ctx,
        api_keys::NewApiKey {
            name: "dev key".into(),
            description: String::new(),
            environment: shared::Environment::Sandbox,
            scopes: shared::ScopeSet::parse_delimited("webhooks:write webhooks:read").unwrap(),
            tier: shared::Tier::default(),
            expires_at: None,
            owner_id: Some("op_dev".into()),
        },
        now,
    )
    .await
    .unwrap();
    let via_api = endpoint(&s, &key.key, "http://127.0.0.1:9/hook", &["sar.created"]).await;
    let via_app = endpoint(&s, &token, "http://127.0.0.1:9/ops", &["sar.created"]).await;
    let theirs = console::list(
        &db,
        auth_server::db::webhook_endpoints::EndpointFilter {
            environment: Some("sandbox".into()),
            owner_id: Some("op_dev".into()),
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = theirs.iter().map(|e| e.id.as_str()).collect();
    assert!(ids.contains(&via_api["id"].as_str().unwrap()), "{ids:?}");
    assert!(ids.contains(&made.endpoint.id.as_str()));
    assert!(
        !ids.contains(&via_app["id"].as_str().unwrap()),
        "an ownerless app's is ops-managed"
    );
}

/// Every write of an environment is fanned out to each of its endpoints, so their number is
/// capped per environment (both doors: this API and the console).
#[actix_web::test]
async fn an_environment_has_at_most_fifty_endpoints() {
    let s = TestStack::start().await;
    let (_, _, sandbox) = s.app_token(ALL, "sandbox", "unlimited").await;
    let (_, _, live) = s.app_token(ALL, "live", "unlimited").await;
    let max = shared::webhooks::MAX_ENDPOINTS_PER_ENVIRONMENT;
    let mut first = Value::Null;
    for i in 0..max {
        let ep = endpoint(
            &s,
            &sandbox,
            &format!("http://127.0.0.1:9/{i}"),
            &["case.created"],
        )
        .await;
        if i == 0 {
            first = ep;
        }
    }
    let resp = s
        .post(
            "/v2/webhook-endpoints",
            &sandbox,
            json!({"url": "http://127.0.0.1:9/one-more", "events": ["case.created"]}),
        )
        .await;
    let body = assert_error(resp, 422, "validation_failed").await;
    assert!(
        body.to_string().contains("already has 50 endpoints"),
        "{body}"
    );
    // The other environment is not affected; a delete makes room.
    endpoint(&s, &live, "http://127.0.0.1:9/live", &["case.created"]).await;
    let id = first["id"].as_str().unwrap();
    let resp = s
        .http
        .delete(format!("{}/v2/webhook-endpoints/{id}", s.api))
        .bearer_auth(&sandbox)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    endpoint(&s, &sandbox, "http://127.0.0.1:9/again", &["case.created"]).await;
    let page = json_of(
        s.get("/v2/webhook-endpoints?page_size=100", &sandbox).await,
        200,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len() as i64, max);
}
