//! Lists at scale: `?cursor=` walks, `Link: rel="next"`, cursors bound to their list and
//! environment, garbage cursors, `?page=` beside them, totals.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{assert_error, TestStack};

/// The `cursor` of a `Link: <…>; rel="next"` header.
fn link_cursor(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().unwrap().to_owned();
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    let url = &link[1..link.len() - ">; rel=\"next\"".len()];
    let query = url.split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    assert!(pairs.iter().all(|(k, _)| k != "page"), "{link}");
    pairs
        .into_iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v)
}

/// Walks `path` (with its query, `page_size` included) by cursor; `between` runs after each
/// page. Checks that the `Link` header and `next_cursor` agree and the page numbers count up.
async fn walk<F, Fut>(s: &TestStack, cred: &str, path: &str, mut between: F) -> Vec<Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen = Vec::new();
    let mut url = path.to_owned();
    for n in 1.. {
        let resp = s.get(&url, cred).await;
        assert_eq!(resp.status(), 200, "{url}");
        let from_link = link_cursor(&resp);
        let page: Value = resp.json().await.unwrap();
        assert_eq!(page["pagination"]["page"], n);
        seen.extend(page["data"].as_array().unwrap().iter().cloned());
        let next = page["pagination"]["next_cursor"]
            .as_str()
            .map(str::to_owned);
        assert_eq!(next, from_link);
        match next {
            None => break,
            Some(c) => {
                url = format!("{path}&cursor={c}");
                between().await;
            }
        }
        assert!(n < 1000, "the walk does not end");
    }
    seen
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_case(s: &TestStack, token: &str, title: &str) -> String {
    let resp = s.post("/v2/cases", token, json!({"title": title})).await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_cursor_walks_every_case_once_while_cases_are_added() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    let mut before = Vec::new();
    for i in 0..23 {
        let id = create_case(&s, &token, &format!("c{i}")).await;
        if i % 3 == 0 {
            let r = s
                .patch(
                    &format!("/v2/cases/{id}"),
                    &token,
                    json!({"status": "in_review"}),
                )
                .await;
            assert_eq!(r.status(), 200);
        }
        before.push((id, i % 3 != 0));
    }
    let mut added = 0;
    for (query, open_only) in [("page_size=4", false), ("status=open&page_size=3", true)] {
        let filter = query.split_once("page_size").unwrap().0;
        let snapshot: Value = s
            .get(&format!("/v2/cases?{filter}page_size=100"), &token)
            .await
            .json()
            .await
            .unwrap();
        let snapshot = ids(snapshot["data"].as_array().unwrap());
        let expected: Vec<&String> = before
            .iter()
            .rev()
            .filter(|(_, open)| *open || !open_only)
            .map(|(id, _)| id)
            .collect();
        assert!(expected.iter().all(|id| snapshot.contains(id)), "{query}");
        let walked = walk(&s, &token, &format!("/v2/cases?{query}"), || {
            added += 1;
            let (s, token) = (&s, &token);
            async move {
                create_case(s, token, &format!("added {added}")).await;
            }
        })
        .await;
        let walked = ids(&walked);
        let unique: HashSet<_> = walked.iter().cloned().collect();
        assert_eq!(unique.len(), walked.len(), "a row came twice: {query}");
        // Cases added during the walk are newer than every cursor: the walk is the list as
        // it was when it started, each row once.
        assert_eq!(walked, snapshot, "{query}");
    }

    // `?page=` still works beside cursors and reads the same order.
    let mut by_page = Vec::new();
    for page in 1..=4 {
        let p: Value = s
            .get(
                &format!("/v2/cases?status=open&page_size=7&page={page}"),
                &token,
            )
            .await
            .json()
            .await
            .unwrap();
        by_page.extend(ids(p["data"].as_array().unwrap()));
    }
    let open_now = walk(&s, &token, "/v2/cases?status=open&page_size=7", || async {}).await;
    assert_eq!(by_page, ids(&open_now));
    let all: Value = s
        .get("/v2/cases?page_size=100", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["pagination"]["total"], 23 + added);
    assert!(all["pagination"]["next_cursor"].is_null());
    let past_the_end = s.get("/v2/cases?page=40&page_size=100", &token).await;
    assert!(past_the_end.headers().get("link").is_none());
    let past_the_end: Value = past_the_end.json().await.unwrap();
    assert_eq!(past_the_end["data"], json!([]));
    assert!(past_the_end["pagination"]["next_cursor"].is_null());
}

#[actix_web::test]
async fn a_cursor_is_refused_on_another_list_filter_or_environment() {
    let s = TestStack::start().await;
    let (_, _, sandbox) = s
        .app_token(
            &[
                "cases:read",
                "cases:write",
                "transactions:read",
                "alerts:read",
            ],
            "sandbox",
            "unlimited",
        )
        .await;
    let (_, _, live) = s
        .app_token(
            &["cases:read", "cases:write", "transactions:read"],
            "live",
            "unlimited",
        )
        .await;
    for i in 0..3 {
        create_case(&s, &sandbox, &format!("sandbox {i}")).await;
        create_case(&s, &live, &format!("live {i}")).await;
    }
    let first: Value = s
        .get("/v2/cases?page_size=1", &sandbox)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same cursor in the other environment: refused, nothing of sandbox shown.
    let resp = assert_error(
        s.get(&format!("/v2/cases?page_size=1&cursor={cursor}"), &live)
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert!(!resp.to_string().contains("sandbox "));
    for other in [
        "/v2/cases?status=open&page_size=1",
        "/v2/cases?priority=high",
        "/v2/transactions?page_size=1",
    ] {
        assert_error(
            s.get(&format!("{other}&cursor={cursor}"), &sandbox).await,
            400,
            "invalid_query",
        )
        .await;
    }
    // `page_size` may change along a walk.
    let resp = s
        .get(&format!("/v2/cases?page_size=5&cursor={cursor}"), &sandbox)
        .await;
    assert_eq!(resp.status(), 200);
    let rest: Value = resp.json().await.unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert_eq!(rest["pagination"]["page"], 2);
    // The transactions of the sandbox seed, walked by cursor, are the listed ones.
    let walked = walk(&s, &sandbox, "/v2/transactions?page_size=3", || async {}).await;
    let listed: Value = s
        .get("/v2/transactions?page_size=100", &sandbox)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&walked), ids(listed["data"].as_array().unwrap()));
    assert_eq!(walked.len(), 10);
}

#[actix_web::test]
async fn garbage_cursors_are_400() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "subjects:read"], "sandbox", "unlimited")
        .await;
    let first: Value = s
        .get("/v2/subjects?page_size=1", &token)
        .await
        .json()
        .await
        .unwrap();
    let good = first["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = good.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let long = "A".repeat(500);
    for bad in [
        "",
        "x",
        "%00",
        "null",
        "MTIz",
        long.as_str(),
        tampered.as_str(),
    ] {
        for path in ["/v2/subjects", "/v2/cases"] {
            assert_error(
                s.get(&format!("{path}?cursor={bad}"), &token).await,
                400,
                "invalid_query",
            )
            .await;
        }
    }
    assert_error(
        s.get(&format!("/v2/subjects?page=2&cursor={good}"), &token)
            .await,
        400,
        "invalid_query",
    )
    .await;
    let resp = s.get(&format!("/v2/subjects?cursor={good}"), &token).await;
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn every_list_walks_by_cursor() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(
            &[
                "cases:read",
                "cases:write",
                "subjects:read",
                "watchlist:read",
                "alerts:read",
                "sar:read",
                "sar:write",
            ],
            "sandbox",
            "unlimited",
        )
        .await;
    let case = create_case(&s, &token, "with history").await;
    for i in 0..4 {
        let r = s
            .patch(
                &format!("/v2/cases/{case}"),
                &token,
                json!({"description": format!("step {i}")}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = s
            .post(
                "/v2/sars",
                &token,
                json!({"case_id": case, "amount": "100.00", "currency": "EUR"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
    }
    for (base, size, n) in [
        (format!("/v2/cases/{case}/history?"), 2, 5),
        ("/v2/sars?".to_owned(), 3, 4),
        ("/v2/subjects?".to_owned(), 3, 4),
        ("/v2/watchlist?".to_owned(), 2, 3),
        ("/v2/alerts?".to_owned(), 3, 4),
        ("/v2/alerts?status=open&".to_owned(), 2, 3),
    ] {
        let walked = walk(&s, &token, &format!("{base}page_size={size}"), || async {}).await;
        assert_eq!(walked.len(), n, "{base}");
        let all: Value = s
            .get(&format!("{base}page_size=100"), &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(&walked, all["data"].as_array().unwrap(), "{base}");
        assert_eq!(all["pagination"]["total"], n, "{base}");
    }
}

/// `?page=N` past the first anchor (every `ANCHOR_EVERY` = 100 rows) reads exactly the rows of
/// the same offsets in the cursor walk: from an anchor read from the start of the list, from one
/// derived from a cached anchor below it, with and without a filter, and past the end.
#[actix_web::test]
async fn deep_pages_read_the_same_rows_as_the_walk_at_every_offset() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "sandbox", "unlimited")
        .await;
    for i in 0..230 {
        let resp = s
            .post(
                "/v2/cases",
                &token,
                json!({"title": format!("deep {i}"), "priority": if i % 3 == 0 { "high" } else { "low" }}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    for filter in ["", "priority=high&"] {
        let all = ids(&walk(
            &s,
            &token,
            &format!("/v2/cases?{filter}page_size=100"),
            || async {},
        )
        .await);
        let size = 7;
        let pages = all.len().div_ceil(size);
        // Page 16 (offset 105) finds the anchor at 100 from the start of the list; the last
        // page (offset 224) then finds the one at 200 from it; then every page in turn, and
        // one past the end.
        let mut order = vec![16, pages];
        order.extend(1..=pages + 1);
        for page in order {
            let resp = s
                .get(
                    &format!("/v2/cases?{filter}page_size={size}&page={page}"),
                    &token,
                )
                .await;
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.unwrap();
            let got = ids(body["data"].as_array().unwrap());
            let from = ((page - 1) * size).min(all.len());
            let want = &all[from..(from + size).min(all.len())];
            assert_eq!(got, want, "{filter}page {page}");
        }
    }
}

/// A cursor carries its walk's `page_size`: `?cursor=…` alone continues with it (a generated
/// client that sends only the cursor does not fall back to 20); a `page_size` beside the cursor
/// replaces it, and the next cursor carries the new size.
#[actix_web::test]
async fn a_cursor_alone_continues_with_the_page_size_of_its_walk() {
    let s = TestStack::start().await;
    let (_, _, token) = s
        .app_token(&["cases:read", "cases:write"], "live", "unlimited")
        .await;
    for i in 0..12 {
        create_case(&s, &token, &format!("sized {i}")).await;
    }
    let page = |path: String| {
        let (s, token) = (&s, &token);
        async move {
            let resp = s.get(&path, token).await;
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };
    let first = page("/v2/cases?page_size=3".into()).await;
    let cursor = first["pagination"]["next_cursor"].as_str().unwrap();
    let second = page(format!("/v2/cases?cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 3);
    assert_eq!(second["pagination"]["page_size"], 3);
    assert_eq!(second["pagination"]["page"], 2);
    // Overridden on one request: that page and the next cursor's walk use the new size.
    let cursor = second["pagination"]["next_cursor"].as_str().unwrap();
    let third = page(format!("/v2/cases?cursor={cursor}&page_size=5")).await;
    assert_eq!(third["data"].as_array().unwrap().len(), 5);
    let cursor = third["pagination"]["next_cursor"].as_str().unwrap();
    let fourth = page(format!("/v2/cases?cursor={cursor}")).await;
    assert_eq!(fourth["pagination"]["page_size"], 5);
    assert_eq!(fourth["data"].as_array().unwrap().len(), 1);
    let walked: Vec<Value> = [&first, &second, &third, &fourth]
        .iter()
        .flat_map(|p| p["data"].as_array().unwrap().clone())
        .collect();
    let mut seen = ids(&walked);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 12, "every case once");
}
