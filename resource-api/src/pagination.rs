//! Lists at scale: `page` (offset) and `cursor` (keyset) pagination, totals that do not scan
//! the table on every request, and the gate that keeps lists from taking the whole pool.
//!
//! Every `/v2` list has a stable order on `(sort key, id)` (`created_at DESC, id DESC`; the
//! history `at ASC, id ASC`) backed by a composite index per filter
//! (`migrations/2026-11-25-000040_list_indexes`). A page is read in at most two indexed steps:
//! - `?cursor=` (from `pagination.next_cursor` or the `Link: rel="next"` header): the rows after
//!   the cursor's `(key, id)`, a range scan of the index whatever the depth;
//! - `?page=N`: the `(key, id)` of row `(N-1)·page_size` through an index-only scan, then the
//!   rows from there as above.
//!
//! The cursor is opaque: base64url of `page.page_size.key.id` and a checksum over it and the
//! list it was issued for (route, environment, filters). It carries the page size, so
//! `?cursor=…` alone continues with the size the walk started with; a `page_size` sent beside
//! it wins (a keyset page may have any size), and the next cursor carries that one. Cursors
//! from before the size was carried (`page.key.id`) still decode, with the default size. A cursor of another list, environment or filter,
//! or anything else that does not decode, is a 400; it is not a secret (forging one only lets
//! a caller start a list where it could with a query), the query is environment-bound anyway.
//!
//! `total`: exact when the filtered list has fewer than [`EXACT_BELOW`] rows (a bounded,
//! index-only look at most that many entries); above, a full count of that list cached per
//! (route, environment, filters) for [`COUNT_TTL`]: at most that old (a stale value is served
//! while one request refreshes it), never estimated.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{ContentType, LINK};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::db::{Db, DbConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Below this many rows in a filtered list, `total` is counted on every request.
pub const EXACT_BELOW: i64 = 1_000;
/// How old a cached `total` of a larger list may be.
pub const COUNT_TTL: Duration = Duration::from_secs(10);
/// `?page=` offsets are reached from a cached anchor at each multiple of this many rows.
pub const ANCHOR_EVERY: i64 = 100;
/// A missing anchor is found from the nearest cached one at most this many anchors below it
/// (else from the start of the list).
const ANCHOR_REACH: i64 = 20;
/// How long a list request waits for its turn before a 503.
const GATE_WAIT: Duration = Duration::from_secs(5);
/// Longest cursor accepted (they are about 60 characters).
const MAX_CURSOR_LEN: usize = 200;
const CHECK_LEN: usize = 12;
/// `page_size` when none is sent (nor carried by a cursor).
pub const DEFAULT_PAGE_SIZE: i64 = 20;

/// `page` (from 1), `page_size` (1–100, default 20) and `cursor`, as the query string carries
/// them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// The page by number (1 when neither `page` nor `cursor` is sent). Not with `cursor`.
    pub page: Option<String>,
    /// Rows per page, 1–100: 20 when absent, or on a `cursor` request the size the cursor's
    /// walk used (a `page_size` sent with a cursor replaces it).
    pub page_size: Option<String>,
    /// `pagination.next_cursor` of the previous page: the next page, however deep, at the
    /// cost of the first, with the same `page_size`. Not with `page`; only for the list (and
    /// filters) it came from.
    pub cursor: Option<String>,
}

/// The position of a row in its list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub key: i64,
    pub id: String,
}

impl Keyset {
    pub fn new(key: i64, id: &str) -> Keyset {
        Keyset {
            key,
            id: id.to_owned(),
        }
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Skip this many rows (`?page=`).
    Offset(i64),
    /// After this row (`?cursor=`).
    After(Keyset),
}

/// A validated page request of one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub page_size: i64,
    pub start: Start,
    /// The list: route, environment and filters (cursor checksum, count cache key).
    pub list: String,
}

impl PageRequest {
    /// `list` names the list exactly: route, environment, validated filters.
    pub fn parse(q: &PageQuery, list: String) -> Result<PageRequest> {
        let num = |name: &str, v: &Option<String>, default: i64, max: i64| -> Result<i64> {
            match v {
                None => Ok(default),
                Some(s) => s
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        Error::Query(format!("`{name}` must be a whole number from 1 to {max}."))
                    }),
            }
        };
        match &q.cursor {
            Some(cursor) => {
                if q.page.is_some() {
                    return Err(Error::Query(
                        "`cursor` and `page` cannot be combined.".into(),
                    ));
                }
                let (page, carried, after) = decode(cursor, &list).ok_or_else(|| {
                    Error::Query(
                        "`cursor` is not a cursor of this list; start again without it.".into(),
                    )
                })?;
                let page_size = num("page_size", &q.page_size, carried, 100)?;
                Ok(PageRequest {
                    page,
                    page_size,
                    start: Start::After(after),
                    list,
                })
            }
            None => {
                let page_size = num("page_size", &q.page_size, DEFAULT_PAGE_SIZE, 100)?;
                let page = num("page", &q.page, 1, 1_000_000)?;
                Ok(PageRequest {
                    page,
                    page_size,
                    start: Start::Offset((page - 1) * page_size),
                    list,
                })
            }
        }
    }
}

/// The names a list is known by: `route|environment|filters`.
pub fn list_name(route: &str, env: &str, filters: impl std::fmt::Debug) -> String {
    format!("{route}|{env}|{filters:?}")
}

fn check(list: &str, payload: &str) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(b"caseforge list cursor v1\0");
    h.update(list.as_bytes());
    h.update(b"\0");
    h.update(payload.as_bytes());
    let d = h.finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&d[..CHECK_LEN]);
    out
}

/// The cursor of the page `page` of `list`, `page_size` rows long, that starts after `after`.
pub fn encode(page: i64, page_size: i64, after: &Keyset, list: &str) -> String {
    let payload = format!("{page}.{page_size}.{}.{}", after.key, after.id);
    let mut bytes = payload.clone().into_bytes();
    bytes.extend_from_slice(&check(list, &payload));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The page number, page size and position a cursor of `list` names; `None` for anything else.
pub fn decode(cursor: &str, list: &str) -> Option<(i64, i64, Keyset)> {
    if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if bytes.len() <= CHECK_LEN {
        return None;
    }
    let (payload, sum) = bytes.split_at(bytes.len() - CHECK_LEN);
    let payload = std::str::from_utf8(payload).ok()?;
    if check(list, payload) != sum {
        return None;
    }
    // `page.page_size.key.id`, or `page.key.id` from before the size was carried (ids hold no
    // dot, so the number of parts tells them apart).
    let parts: Vec<&str> = payload.split('.').collect();
    let (page, page_size, key, id) = match parts[..] {
        [page, size, key, id] => (page, size.parse().ok()?, key, id),
        [page, key, id] => (page, DEFAULT_PAGE_SIZE, key, id),
        _ => return None,
    };
    let page: i64 = page.parse().ok()?;
    let key: i64 = key.parse().ok()?;
    if !(1..=100).contains(&page_size) {
        return None;
    }
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (page >= 2 && id_ok).then(|| {
        (
            page,
            page_size,
            Keyset {
                key,
                id: id.to_owned(),
            },
        )
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pagination {
    pub page: i64,
    pub page_size: i64,
    /// Rows in the list: exact below 1,000; above, counted at most 10 seconds ago.
    pub total: i64,
    pub total_pages: i64,
    /// The next page as `?cursor=` (also in the `Link: rel="next"` header); `null` on the
    /// last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Page<T> {
    /// A page from the rows a list query read: at most `page_size + 1`, the extra one only
    /// saying there is a next page. `key` is a row's position in the list's order.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        req: &PageRequest,
        total: i64,
        key: impl Fn(&R) -> Keyset,
        view: impl Fn(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > req.page_size;
        rows.truncate(req.page_size as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(encode(req.page + 1, req.page_size, &key(last), &req.list)),
            _ => None,
        };
        Page {
            data: rows.into_iter().map(view).collect(),
            pagination: Pagination {
                page: req.page,
                page_size: req.page_size,
                total,
                total_pages: (total + req.page_size - 1) / req.page_size,
                next_cursor,
            },
        }
    }

    /// 200 with the page, and `Link: <…>; rel="next"` (RFC 8288) when there is a next page:
    /// this request's URL with `cursor` in place of `page`.
    pub fn respond(&self, req: &HttpRequest, lists: &Lists) -> HttpResponse
    where
        T: Serialize,
    {
        let mut r = HttpResponse::Ok();
        if let Some(cursor) = &self.pagination.next_cursor {
            let mut pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
            pairs.retain(|(k, _)| k != "page" && k != "cursor");
            pairs.push(("cursor".into(), cursor.clone()));
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            r.insert_header((
                LINK,
                format!("<{}{}?{query}>; rel=\"next\"", lists.public_url, req.path()),
            ));
        }
        // One buffer sized for the page (a record renders to a few hundred bytes) instead of
        // one grown by doubling from empty.
        let mut body = Vec::with_capacity(256 + 512 * self.data.len());
        match serde_json::to_writer(&mut body, self) {
            Ok(()) => r.content_type(ContentType::json()).body(body),
            Err(e) => actix_web::ResponseError::error_response(&Error::Internal(e.to_string())),
        }
    }
}

struct Count {
    total: i64,
    at: Instant,
    refreshing: AtomicBool,
}

/// The `(key, id)` of a row of a list, `None` past its end.
type Anchor = Option<(i64, String)>;

/// What every list shares: the cached totals and offset anchors, the gate, the public URL for
/// `Link`.
#[derive(Clone)]
pub struct Lists {
    counts: moka::sync::Cache<String, Arc<Count>>,
    anchors: moka::sync::Cache<(String, i64), Anchor>,
    gate: Arc<Semaphore>,
    public_url: Arc<str>,
}

impl Lists {
    /// At most half the pool (at least one connection) serves lists at once, so that other
    /// requests always find a connection; the others wait their turn (503 after 5 s).
    pub fn new(pool_size: u32, public_url: &str) -> Lists {
        Lists {
            counts: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            anchors: moka::sync::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(COUNT_TTL)
                .build(),
            gate: Arc::new(Semaphore::new((pool_size as usize / 2).max(1))),
            public_url: public_url.trim_end_matches('/').into(),
        }
    }

    /// A turn to read a list.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(GATE_WAIT, self.gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Busy),
        }
    }

    /// Runs a list query in its turn (see [`Lists::new`]) on the blocking pool.
    pub async fn read<R, F>(&self, db: &Db, f: F) -> Result<(Vec<R>, i64)>
    where
        F: Fn(&mut DbConnection, &Lists) -> QueryResult<(Vec<R>, i64)> + Send + 'static,
        R: Send + 'static,
    {
        let turn = self.enter().await?;
        let lists = self.clone();
        // The turn moves into the job, which is dropped on the blocking thread as soon as its
        // connection is back in the pool: a turn is not held, its connection idle, while the
        // answer travels back to this task and the task is woken (at 4 turns that wait cost
        // lists 12% of their throughput; docs/PERFORMANCE.md).
        Ok(db
            .run(move |c| {
                let _turn = &turn;
                f(c, &lists)
            })
            .await?)
    }

    /// The total of `list`: `bounded(conn, n)` counts at most `n` rows, `full` all of them.
    pub fn total(
        &self,
        conn: &mut DbConnection,
        list: &str,
        bounded: impl Fn(&mut DbConnection, i64) -> QueryResult<i64>,
        full: impl Fn(&mut DbConnection) -> QueryResult<i64>,
    ) -> QueryResult<i64> {
        if let Some(c) = self.counts.get(list) {
            if c.at.elapsed() < COUNT_TTL
                || c.refreshing
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                return Ok(c.total);
            }
            // This request refreshes it; the others meanwhile answer the previous count.
            return match full(conn) {
                Ok(total) => {
                    self.store(list, total);
                    Ok(total)
                }
                Err(e) => {
                    c.refreshing.store(false, Ordering::Release);
                    Err(e)
                }
            };
        }
        let n = bounded(conn, EXACT_BELOW)?;
        if n < EXACT_BELOW {
            return Ok(n);
        }
        let total = full(conn)?;
        self.store(list, total);
        Ok(total)
    }

    /// The row at `offset` of `list` (a multiple of [`ANCHOR_EVERY`]), remembered for
    /// [`COUNT_TTL`]: `?page=N` of a large list then skips fewer than `ANCHOR_EVERY` index
    /// entries instead of `(N-1)·page_size`. A missing anchor is read by `find(from, skip)`:
    /// `skip` index entries past `from`, the nearest cached anchor below (within
    /// [`ANCHOR_REACH`] anchors; `None`: from the start of the list), so a client paging forward
    /// finds each new anchor `ANCHOR_EVERY` entries past the last. Within that time a page
    /// number means the same rows as when the anchor was read (rows added since then shift
    /// later pages once it expires), as `total` does.
    pub fn anchor(
        &self,
        conn: &mut DbConnection,
        list: &str,
        offset: i64,
        find: impl Fn(&mut DbConnection, Option<&(i64, String)>, i64) -> QueryResult<Anchor>,
    ) -> QueryResult<Anchor> {
        let key = (list.to_owned(), offset);
        if let Some(a) = self.anchors.get(&key) {
            return Ok(a);
        }
        let below = (1..=ANCHOR_REACH)
            .map(|k| offset - k * ANCHOR_EVERY)
            .take_while(|m| *m > 0)
            .find_map(|m| match self.anchors.get(&(list.to_owned(), m)) {
                Some(Some(at)) => Some((m, at)),
                _ => None,
            });
        let a = match &below {
            Some((m, at)) => find(conn, Some(at), offset - m)?,
            None => find(conn, None, offset)?,
        };
        self.anchors.insert(key, a.clone());
        Ok(a)
    }

    fn store(&self, list: &str, total: i64) {
        self.counts.insert(
            list.to_owned(),
            Arc::new(Count {
                total,
                at: Instant::now(),
                refreshing: AtomicBool::new(false),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(page: Option<&str>, size: Option<&str>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            page: page.map(Into::into),
            page_size: size.map(Into::into),
            cursor: cursor.map(Into::into),
        }
    }

    #[test]
    fn pages_are_bounded() {
        let r = PageRequest::parse(&PageQuery::default(), "l".into()).unwrap();
        assert_eq!((r.page, r.page_size, r.start), (1, 20, Start::Offset(0)));
        assert!(PageRequest::parse(&q(Some("0"), Some("10"), None), "l".into()).is_err());
        assert!(PageRequest::parse(&q(Some("1"), Some("101"), None), "l".into()).is_err());
        assert!(PageRequest::parse(&q(Some("x"), Some("10"), None), "l".into()).is_err());
        let r = PageRequest::parse(&q(Some("3"), Some("10"), None), "l".into()).unwrap();
        assert_eq!(r.start, Start::Offset(20));
        let rows: Vec<i64> = (0..21).collect();
        let page = Page::from_rows(
            rows,
            &PageRequest::parse(&PageQuery::default(), "l".into()).unwrap(),
            41,
            |r| Keyset {
                key: *r,
                id: format!("x_{r}"),
            },
            |r| r,
        );
        assert_eq!(page.pagination.total_pages, 3);
        assert_eq!(page.data.len(), 20);
        let next = page.pagination.next_cursor.unwrap();
        assert_eq!(
            decode(&next, "l"),
            Some((
                2,
                20,
                Keyset {
                    key: 19,
                    id: "x_19".into()
                }
            ))
        );
    }

    #[test]
    fn a_cursor_is_valid_only_for_its_own_list() {
        let at = Keyset {
            key: 1_767_225_600_000_000,
            id: "case_abcDEF123".into(),
        };
        let c = encode(7, 50, &at, "cases|live|f");
        assert_eq!(decode(&c, "cases|live|f"), Some((7, 50, at.clone())));
        assert_eq!(decode(&c, "cases|sandbox|f"), None);
        assert_eq!(decode(&c, "cases|live|g"), None);
        let r = PageRequest::parse(&q(None, None, Some(&c)), "cases|live|f".into()).unwrap();
        assert_eq!((r.page, r.page_size), (7, 50));
        assert_eq!(r.start, Start::After(at.clone()));
        // A page_size beside the cursor replaces the carried one.
        let r = PageRequest::parse(&q(None, Some("5"), Some(&c)), "cases|live|f".into()).unwrap();
        assert_eq!((r.page, r.page_size), (7, 5));
        // A cursor from before the size was carried continues with the default size.
        let payload = format!("7.{}.{}", at.key, at.id);
        let mut legacy = payload.clone().into_bytes();
        legacy.extend_from_slice(&check("cases|live|f", &payload));
        let legacy = URL_SAFE_NO_PAD.encode(legacy);
        assert_eq!(decode(&legacy, "cases|live|f"), Some((7, 20, at)));
        assert!(PageRequest::parse(&q(Some("1"), None, Some(&c)), "cases|live|f".into()).is_err());
    }

    #[test]
    fn garbage_cursors_are_refused() {
        let good = encode(
            2,
            20,
            &Keyset {
                key: 5,
                id: "a_b".into(),
            },
            "l",
        );
        let mut flipped = good.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(b"2.5.a_b\0\0\0\0\0\0\0\0\0\0\0\0");
        for bad in [
            "",
            "x",
            "!!!!",
            "null",
            &flipped,
            &forged,
            &"A".repeat(300),
            &URL_SAFE_NO_PAD.encode("2.5.a_b"),
        ] {
            assert_eq!(decode(bad, "l"), None, "{bad}");
        }
        // Well-formed payloads with bad fields are refused even with a right checksum.
        for payload in [
            "1.5.a_b",
            "2.x.a_b",
            "2.5.",
            "2.5.a/b",
            "2.5",
            "2.0.5.a_b",
            "2.101.5.a_b",
            "2.x.5.a_b",
            "2.20.5.a.b",
        ] {
            let mut bytes = payload.as_bytes().to_vec();
            bytes.extend_from_slice(&check("l", payload));
            assert_eq!(
                decode(&URL_SAFE_NO_PAD.encode(bytes), "l"),
                None,
                "{payload}"
            );
        }
    }

    #[test]
    fn large_totals_are_cached_small_ones_counted() {
        let test_db = shared::testing::TestDb::create();
        let db = Db::connect(test_db.url(), 1).unwrap();
        let lists = Lists::new(8, "http://x/");
        let full_counts = std::cell::Cell::new(0);
        let total = |list: &str, bounded: i64, full: i64| {
            db.run_blocking(|c| {
                lists.total(
                    c,
                    list,
                    |_, n| Ok(bounded.min(n)),
                    |_| {
                        full_counts.set(full_counts.get() + 1);
                        Ok(full)
                    },
                )
            })
            .unwrap()
        };
        assert_eq!(total("small", 5, 0), 5);
        assert_eq!(
            total("small", 7, 0),
            7,
            "small lists are counted every time"
        );
        assert_eq!(full_counts.get(), 0);
        assert_eq!(total("large", EXACT_BELOW, 123_456), 123_456);
        assert_eq!(total("large", EXACT_BELOW, 999_999), 123_456, "cached");
        assert_eq!(full_counts.get(), 1);
        assert_eq!(total("other", 3, 0), 3, "cached per list");
        assert_eq!(&*lists.public_url, "http://x");
    }

    #[test]
    fn lists_take_at_most_half_the_pool() {
        assert_eq!(Lists::new(8, "").gate.available_permits(), 4);
        assert_eq!(Lists::new(5, "").gate.available_permits(), 2);
        assert_eq!(Lists::new(1, "").gate.available_permits(), 1);
    }
}
