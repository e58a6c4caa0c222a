//! `audit_events`: the audit trail, one row per event. Numbering and the chain (`seq`,
//! `prev_hash`, `hash`) are `service::audit`'s; these are only the queries.

use diesel::prelude::*;
use shared::db::schema::audit_events;
use shared::db::{Backend, DbConnection};

/// One stored event. `prev_hash` and `hash` are the chain's links (hex): HMAC-SHA256 under the
/// audit key, or plain SHA-256 for events written before the chain was keyed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub seq: i64,
    pub at: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_label: String,
    pub action: String,
    pub target: String,
    pub source: Option<String>,
    pub outcome: String,
    pub fields: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Which events a list shows: every given field must match exactly; `from`/`to` bound `at`
/// (Unix microseconds, `from` inclusive, `to` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl AuditEventRow {
    pub fn insert(conn: &mut DbConnection, row: &AuditEventRow) -> QueryResult<usize> {
        diesel::insert_into(audit_events::table)
            .values(row)
            .execute(conn)
    }

    /// The newest event (the chain's head), if any.
    pub fn newest(conn: &mut DbConnection) -> QueryResult<Option<AuditEventRow>> {
        let newest: Option<i64> = audit_events::table
            .select(diesel::dsl::max(audit_events::seq))
            .get_result(conn)?;
        match newest {
            Some(seq) => Self::find(conn, seq),
            None => Ok(None),
        }
    }

    /// The oldest event, if any.
    pub fn oldest(conn: &mut DbConnection) -> QueryResult<Option<AuditEventRow>> {
        let oldest: Option<i64> = audit_events::table
            .select(diesel::dsl::min(audit_events::seq))
            .get_result(conn)?;
        match oldest {
            Some(seq) => Self::find(conn, seq),
            None => Ok(None),
        }
    }

    pub fn find(conn: &mut DbConnection, seq: i64) -> QueryResult<Option<AuditEventRow>> {
        audit_events::table
            .find(seq)
            .select(AuditEventRow::as_select())
            .get_result(conn)
            .optional()
    }

    /// The lowest `seq` of an event with this `action`.
    pub fn first_with_action(conn: &mut DbConnection, action: &str) -> QueryResult<Option<i64>> {
        audit_events::table
            .filter(audit_events::action.eq(action))
            .select(diesel::dsl::min(audit_events::seq))
            .get_result(conn)
    }

    /// At most `limit` events with `seq >= from_seq`, in order (the chain is read in batches).
    pub fn batch(
        conn: &mut DbConnection,
        from_seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<AuditEventRow>> {
        audit_events::table
            .filter(audit_events::seq.ge(from_seq))
            .order(audit_events::seq.asc())
            .limit(limit)
            .select(AuditEventRow::as_select())
            .load(conn)
    }

    /// Replaces an event's links (re-keying the chain after a KEK rotation).
    pub fn set_links(
        conn: &mut DbConnection,
        seq: i64,
        prev_hash: &str,
        hash: &str,
    ) -> QueryResult<usize> {
        diesel::update(audit_events::table.find(seq))
            .set((
                audit_events::prev_hash.eq(prev_hash),
                audit_events::hash.eq(hash),
            ))
            .execute(conn)
    }

    /// Newest first: at most `limit` events matching `filter` with `seq < before_seq`.
    pub fn list_back(
        conn: &mut DbConnection,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<AuditEventRow>> {
        let mut q = filtered(filter);
        if let Some(before) = before_seq {
            q = q.filter(audit_events::seq.lt(before));
        }
        q.order(audit_events::seq.desc()).limit(limit).load(conn)
    }

    /// Oldest first: at most `limit` events matching `filter` with `seq > after_seq`.
    pub fn list_forward(
        conn: &mut DbConnection,
        filter: &AuditFilter,
        after_seq: i64,
        limit: i64,
    ) -> QueryResult<Vec<AuditEventRow>> {
        filtered(filter)
            .filter(audit_events::seq.gt(after_seq))
            .order(audit_events::seq.asc())
            .limit(limit)
            .load(conn)
    }
}

fn filtered(
    filter: &AuditFilter,
) -> audit_events::BoxedQuery<'static, Backend, audit_events::SqlType> {
    let mut q = audit_events::table.into_boxed();
    if let Some(actor) = &filter.actor {
        q = q.filter(audit_events::actor_id.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(target) = &filter.target {
        q = q.filter(audit_events::target.eq(target.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_events::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_events::at.lt(to));
    }
    q
}
