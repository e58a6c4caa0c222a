//! Which write of which record is which webhook event, and the outbox insert.
//!
//! `service::records` (its parent) calls [`emit`] inside the transaction of every create, change and
//! delete, after the row and its follow-up writes: a committed change always has its event in
//! the outbox, and a rolled-back one never does (the transactional outbox). The event's body
//! is fixed here, once — `{"type", "timestamp", "data"}`, `data` being the record's view, what
//! `GET` returns after the change — so every attempt sends the same bytes.

use serde_json::json;
use shared::db::DbConnection;

use super::Record;
use crate::db::cases::CaseRow;
use crate::db::sars::SarRow;
use crate::db::subjects::SubjectRow;
use crate::db::watchlist::WatchlistRow;
use crate::db::webhooks::{WebhookEndpointRow, WebhookEventRow};
use crate::db::{Scoped, VersionedRow};
use crate::domain::new_id;
use crate::domain::values::{CaseStatus, EventType, SarStatus};
use crate::error::Result;

/// A record whose writes are webhook events. Each method names the event of one kind of
/// write, or `None` when that write announces nothing.
pub trait Evented: Record + VersionedRow + Clone {
    fn created() -> Option<EventType>;
    /// The event of a change from `before` to `after`.
    fn changed(before: &Self, after: &Self) -> Option<EventType>;
    fn deleted() -> Option<EventType>;
}

impl Evented for CaseRow {
    fn created() -> Option<EventType> {
        Some(EventType::CaseCreated)
    }

    fn changed(before: &CaseRow, after: &CaseRow) -> Option<EventType> {
        Some(
            if after.status == CaseStatus::Closed && before.status != CaseStatus::Closed {
                EventType::CaseClosed
            } else if after.assignee != before.assignee {
                EventType::CaseAssigned
            } else {
                EventType::CaseUpdated
            },
        )
    }

    fn deleted() -> Option<EventType> {
        None
    }
}

impl Evented for SarRow {
    fn created() -> Option<EventType> {
        Some(EventType::SarCreated)
    }

    fn changed(before: &SarRow, after: &SarRow) -> Option<EventType> {
        Some(
            if after.status == SarStatus::Submitted && before.status != SarStatus::Submitted {
                EventType::SarSubmitted
            } else {
                EventType::SarUpdated
            },
        )
    }

    fn deleted() -> Option<EventType> {
        None
    }
}

impl Evented for WatchlistRow {
    fn created() -> Option<EventType> {
        Some(EventType::WatchlistEntryCreated)
    }

    fn changed(_: &WatchlistRow, _: &WatchlistRow) -> Option<EventType> {
        Some(EventType::WatchlistEntryUpdated)
    }

    fn deleted() -> Option<EventType> {
        Some(EventType::WatchlistEntryDeleted)
    }
}

impl Evented for SubjectRow {
    fn created() -> Option<EventType> {
        Some(EventType::SubjectCreated)
    }

    fn changed(_: &SubjectRow, _: &SubjectRow) -> Option<EventType> {
        Some(EventType::SubjectUpdated)
    }

    fn deleted() -> Option<EventType> {
        None
    }
}

/// Endpoints announce nothing about themselves.
impl Evented for WebhookEndpointRow {
    fn created() -> Option<EventType> {
        None
    }

    fn changed(_: &Self, _: &Self) -> Option<EventType> {
        None
    }

    fn deleted() -> Option<EventType> {
        None
    }
}

/// The body of an event: `{"type", "timestamp", "data"}`.
pub fn body<V: serde::Serialize>(event: EventType, at: i64, data: &V) -> String {
    json!({
        "type": event,
        "timestamp": shared::time::rfc3339(at),
        "data": data,
    })
    .to_string()
}

/// Writes `event` (if any) about `row` to the outbox, in the caller's transaction.
pub fn emit<R: Evented>(
    scoped: &Scoped,
    c: &mut DbConnection,
    event: Option<EventType>,
    row: &R,
    at: i64,
) -> Result<()> {
    let Some(event) = event else {
        return Ok(());
    };
    let outbox = WebhookEventRow {
        id: new_id("msg"),
        environment: scoped.env().to_owned(),
        event_type: event,
        payload: body(event, at, &row.view()),
        created_at: at,
        dispatched_at: None,
    };
    scoped.insert_webhook_event(c, &outbox)?;
    Ok(())
}
