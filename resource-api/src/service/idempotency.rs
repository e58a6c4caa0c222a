//! Idempotent writes: `POST` on any `/v2` collection, and the transitions (`/assign`, `/close`,
//! `/submit`, `DELETE`), accept an `Idempotency-Key` header.
//!
//! The first successful answer to (credential, key) is stored in the same transaction as the
//! write it describes, so a write can never be committed without its answer, even if the
//! process dies before replying. A transition's stored answer is looked up before `If-Match`
//! and before the record's state is checked: a retried close whose answer was lost gets the
//! first 200 again, not 412 or 409. The same key with the same request answers the stored
//! response again (same status, body and `ETag`, plus `Idempotent-Replayed: true`); with a
//! different request (another body or another route) it is 422 `idempotency_key_reused`.
//! Keys are per credential — an application's `client_id` or an API key's id — and kept
//! 24 hours. Two concurrent requests with the same key cannot both create: the primary key
//! of `idempotency_keys` lets one insert, the other waits for it (PostgreSQL) or is retried
//! (SQLite), then reads and answers the winner's stored response. An error answer is not
//! stored: nothing was created, so a retry is evaluated afresh.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::db::{Db, DbConnection, DbError};
use shared::ApiError;

use crate::auth::Principal;
use crate::conditional::{self, Versioned};
use crate::db::idempotency::IdempotencyRow;
use crate::error::{Error, Result};

/// How long a stored answer is replayed.
pub const RETENTION_MICROS: i64 = 24 * 60 * 60 * 1_000_000;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// The header name, also on replayed answers: `Idempotent-Replayed: true`.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The `Idempotency-Key` header of a create: absent, or 1–255 visible ASCII characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(Option<String>);

impl IdempotencyKey {
    /// `None` when the value is not 1–255 visible ASCII characters (`%x21-7E`).
    pub fn parse(value: &str) -> Option<IdempotencyKey> {
        let ok = (1..=MAX_KEY_LEN).contains(&value.len())
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
        ok.then(|| IdempotencyKey(Some(value.to_owned())))
    }

    /// The key bound to the caller and the request, or `None` when no key was sent.
    /// `route` names the operation (e.g. `POST /v2/cases`, or `POST /v2/cases/<id>/close` with
    /// the record's id, so a key reused on another record is refused); `input` is the parsed body, so
    /// that whitespace and field order do not make the same request look different.
    pub fn bind(
        &self,
        principal: &Principal,
        route: &str,
        input: &impl Serialize,
    ) -> Option<IdempotentRequest> {
        let key = self.0.clone()?;
        let mut h = Sha256::new();
        h.update(route.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(input).unwrap_or_default());
        Some(IdempotentRequest {
            credential_id: principal.credential_id(),
            key,
            request_hash: hex::encode(h.finalize()),
        })
    }
}

fn malformed() -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        "`Idempotency-Key` must be 1–255 visible ASCII characters, sent once.",
    )
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut values = req.headers().get_all("idempotency-key");
        let result = match (values.next(), values.next()) {
            (None, _) => Ok(IdempotencyKey(None)),
            (Some(v), None) => v
                .to_str()
                .ok()
                .and_then(IdempotencyKey::parse)
                .ok_or_else(malformed),
            (Some(_), Some(_)) => Err(malformed()),
        };
        ready(result)
    }
}

/// An `Idempotency-Key` bound to its credential and to a hash of the request.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    credential_id: String,
    key: String,
    request_hash: String,
}

/// What an idempotent write answers: the record as written, or the stored first answer to the
/// same request.
#[derive(Debug)]
pub enum Answer<V> {
    New(Versioned<V>),
    Replayed(StoredAnswer),
}

/// What a create answers.
pub type Created<V> = Answer<V>;

#[derive(Debug)]
pub struct StoredAnswer {
    status: u16,
    body: String,
    etag: Option<String>,
}

impl StoredAnswer {
    /// The stored answer replayed, with `Idempotent-Replayed: true`.
    pub fn respond(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut b = HttpResponse::build(status);
        b.insert_header((REPLAYED, "true"));
        if let Some(etag) = self.etag {
            b.insert_header((header::ETAG, etag));
        }
        if self.body.is_empty() {
            b.finish()
        } else {
            b.content_type("application/json").body(self.body)
        }
    }
}

impl<V: Serialize> Answer<V> {
    /// The HTTP answer of a create: 201 with the record and its `ETag`, or the stored answer
    /// replayed.
    pub fn respond(self) -> HttpResponse {
        self.respond_with(StatusCode::CREATED)
    }

    /// `status` with the record and its `ETag`, or the stored answer replayed.
    pub fn respond_with(self, status: StatusCode) -> HttpResponse {
        match self {
            Answer::New(record) => conditional::respond(status, &record),
            Answer::Replayed(a) => a.respond(),
        }
    }
}

/// Inside a write's transaction, before anything is read: the answer stored for `idem` in the
/// last 24 hours (422 `idempotency_key_reused` when it answered another request), or `None`.
pub(crate) fn stored(
    c: &mut DbConnection,
    idem: &IdempotentRequest,
    now: i64,
) -> Result<Option<StoredAnswer>> {
    let since = now - RETENTION_MICROS;
    match IdempotencyRow::find(c, &idem.credential_id, &idem.key, since)? {
        Some(row) => replay(row, idem).map(Some),
        None => Ok(None),
    }
}

/// Inside the write's transaction, after it: stores its answer (`status`, and the record with
/// its `ETag` unless the answer has no body).
pub(crate) fn store<V: Serialize>(
    c: &mut DbConnection,
    idem: &IdempotentRequest,
    now: i64,
    status: StatusCode,
    record: Option<&Versioned<V>>,
) -> Result<()> {
    let (body, etag) = match record {
        Some(r) => (
            serde_json::to_string(&r.value)
                .map_err(|e| Error::Internal(format!("serialising the answer: {e}")))?,
            Some(conditional::etag(r.version)),
        ),
        None => (String::new(), None),
    };
    IdempotencyRow {
        credential_id: idem.credential_id.clone(),
        idempotency_key: idem.key.clone(),
        request_hash: idem.request_hash.clone(),
        response_status: i32::from(status.as_u16()),
        response_body: body,
        response_etag: etag,
        created_at: now,
    }
    .insert(c)?;
    Ok(())
}

/// After a write with `idem` was refused by what it read (404, 412, 409 `conflict`): the answer a
/// concurrent request with the same key stored meanwhile, if any. On PostgreSQL each statement
/// of a transaction sees what committed before it, so a request may look for the stored answer
/// before the first request commits and read the record after: it then sees the first
/// request's effect (the case closed) and refuses. The first request stored its answer in the
/// transaction that made that effect, so looking again now finds it.
pub(crate) async fn stored_after_refusal(
    db: &Db,
    idem: &IdempotentRequest,
    now: i64,
    refusal: &Error,
) -> Result<Option<StoredAnswer>> {
    let refused_by_state = matches!(
        refusal,
        Error::NotFound(_) | Error::PreconditionFailed | Error::Conflict(_)
    );
    if !refused_by_state {
        return Ok(None);
    }
    let idem = idem.clone();
    db.transaction(move |c| stored(c, &idem, now)).await
}

/// Drops answers older than 24 hours (before a write looks for one).
pub(crate) async fn purge(db: &Db, now: i64) -> Result<()> {
    let since = now - RETENTION_MICROS;
    db.run(move |c| IdempotencyRow::purge(c, since)).await?;
    Ok(())
}

/// Whether `result` failed because a concurrent request with the same key stored its answer
/// first (everything of this attempt rolled back; the next one reads that answer).
pub(crate) fn lost_race<T>(result: &Result<T>) -> bool {
    matches!(
        result,
        Err(Error::Db(DbError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        ))))
    )
}

/// Attempts when a concurrent request with the same key committed first.
pub(crate) const MAX_ATTEMPTS: usize = 3;

/// Runs `insert` (which writes the record and returns it) in one transaction together with
/// storing its answer under `idem`; or answers the answer stored earlier for the same key.
pub(crate) async fn create<V, F>(
    db: &Db,
    idem: Option<IdempotentRequest>,
    now: i64,
    insert: F,
) -> Result<Created<V>>
where
    V: Serialize + Send + 'static,
    F: Fn(&mut DbConnection) -> Result<Versioned<V>> + Send + Sync + 'static,
{
    let Some(idem) = idem else {
        return db.transaction(insert).await.map(Created::New);
    };
    let (idem, insert) = (Arc::new(idem), Arc::new(insert));
    let mut attempt = 0;
    loop {
        attempt += 1;
        purge(db, now).await?;
        let (idem, insert) = (idem.clone(), insert.clone());
        let result = db
            .transaction(move |c| {
                if let Some(answer) = stored(c, &idem, now)? {
                    return Ok(Created::Replayed(answer));
                }
                let record = insert(c)?;
                store(c, &idem, now, StatusCode::CREATED, Some(&record))?;
                Ok(Created::New(record))
            })
            .await;
        // Another request with this key committed between our read and insert: everything
        // here rolled back; read its answer.
        if !(lost_race(&result) && attempt < MAX_ATTEMPTS) {
            return result;
        }
    }
}

fn replay(stored: IdempotencyRow, idem: &IdempotentRequest) -> Result<StoredAnswer> {
    if stored.request_hash != idem.request_hash {
        return Err(Error::IdempotencyKeyReused);
    }
    Ok(StoredAnswer {
        status: u16::try_from(stored.response_status).unwrap_or(201),
        body: stored.response_body,
        etag: stored.response_etag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_some());
        assert!(IdempotencyKey::parse("3f2b8c1e-retry-#1").is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("has space").is_none());
        assert!(IdempotencyKey::parse("tab\t").is_none());
        assert!(IdempotencyKey::parse("clé").is_none());
    }
}
