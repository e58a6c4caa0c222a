//! Watchlist entries and name screening.

use serde::{Deserialize, Serialize};
use shared::db::Db;
use utoipa::ToSchema;

use super::idempotency::{self, Created, IdempotentRequest};
use super::versioned;
use crate::conditional::{IfMatch, Versioned};
use crate::db::records::WatchlistRow;
use crate::db::{ids_from_json, ids_to_json, Scoped};
use crate::domain::screening::{self, Candidate, Query};
use crate::domain::{self, new_id, plausible_id, Page, PageQuery, PageRequest};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    Person,
    Entity,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Person => "person",
            EntryType::Entity => "entity",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    pub name: String,
    pub aliases: Option<Vec<String>>,
    pub entry_type: EntryType,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// YYYY-MM-DD.
    pub date_of_birth: Option<String>,
    /// Where the entry comes from, e.g. `ofac-sdn`.
    pub list_source: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEntry {
    pub name: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub entry_type: Option<EntryType>,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    pub list_source: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenRequest {
    pub name: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub entry_type: String,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    pub list_source: String,
    pub reason: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenMatch {
    pub entry: EntryView,
    /// 0.0–1.0, higher is closer.
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenResponse {
    pub matches: Vec<ScreenMatch>,
}

impl From<&WatchlistRow> for EntryView {
    fn from(r: &WatchlistRow) -> Self {
        EntryView {
            id: r.id.clone(),
            name: r.name.clone(),
            aliases: ids_from_json(&r.aliases),
            entry_type: r.entry_type.clone(),
            country: r.country.clone(),
            date_of_birth: r.date_of_birth.clone(),
            list_source: r.list_source.clone(),
            reason: r.reason.clone(),
            created_at: shared::time::rfc3339(r.created_at),
            updated_at: shared::time::rfc3339(r.updated_at),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if plausible_id("wl", id) {
        Ok(())
    } else {
        Err(Error::NotFound("watchlist entry"))
    }
}

fn aliases(v: &[String]) -> Result<Vec<String>> {
    if v.len() > 50 {
        return Err(Error::validation(
            "aliases",
            "aliases may hold at most 50 names",
        ));
    }
    v.iter()
        .map(|a| domain::text("aliases", a, true, 300))
        .collect()
}

fn today(now: i64) -> chrono::NaiveDate {
    shared::time::from_micros(now).date_naive()
}

fn versioned_view(row: &WatchlistRow) -> Versioned<EntryView> {
    Versioned::new(EntryView::from(row), row.version)
}

pub async fn create(
    db: &Db,
    scoped: Scoped,
    input: CreateEntry,
    idem: Option<IdempotentRequest>,
    now: i64,
) -> Result<Created<EntryView>> {
    let row = WatchlistRow {
        id: new_id("wl"),
        environment: scoped.env().to_owned(),
        name: domain::text("name", &input.name, true, 300)?,
        aliases: ids_to_json(&aliases(input.aliases.as_deref().unwrap_or(&[]))?),
        entry_type: input.entry_type.as_str().to_owned(),
        country: input
            .country
            .as_deref()
            .map(|c| domain::country("country", c))
            .transpose()?,
        date_of_birth: input
            .date_of_birth
            .as_deref()
            .map(|d| domain::date_of_birth(d, today(now)))
            .transpose()?,
        list_source: domain::text("list_source", &input.list_source, true, 100)?,
        reason: domain::text("reason", input.reason.as_deref().unwrap_or(""), false, 2000)?,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    idempotency::create(db, idem, now, move |c| {
        scoped.insert_watchlist(c, &row)?;
        Ok(versioned_view(&row))
    })
    .await
}

pub async fn get(db: &Db, scoped: Scoped, id: &str) -> Result<Versioned<EntryView>> {
    check_id(id)?;
    let id = id.to_owned();
    let row = db
        .run(move |c| scoped.find_watchlist(c, &id))
        .await?
        .ok_or(Error::NotFound("watchlist entry"))?;
    Ok(versioned_view(&row))
}

pub async fn list(db: &Db, scoped: Scoped, q: PageQuery) -> Result<Page<EntryView>> {
    let page = PageRequest::parse(&q)?;
    let (rows, total) = db.run(move |c| scoped.list_watchlist(c, page)).await?;
    Ok(Page::new(
        rows.iter().map(EntryView::from).collect(),
        page,
        total,
    ))
}

pub async fn patch(
    db: &Db,
    scoped: Scoped,
    id: &str,
    input: PatchEntry,
    if_match: IfMatch,
    now: i64,
) -> Result<Versioned<EntryView>> {
    check_id(id)?;
    let name = input
        .name
        .as_deref()
        .map(|n| domain::text("name", n, true, 300))
        .transpose()?;
    let aliases = input.aliases.as_deref().map(aliases).transpose()?;
    let country = input
        .country
        .as_deref()
        .map(|c| domain::country("country", c))
        .transpose()?;
    let dob = input
        .date_of_birth
        .as_deref()
        .map(|d| domain::date_of_birth(d, today(now)))
        .transpose()?;
    let source = input
        .list_source
        .as_deref()
        .map(|s| domain::text("list_source", s, true, 100))
        .transpose()?;
    let reason = input
        .reason
        .as_deref()
        .map(|r| domain::text("reason", r, false, 2000))
        .transpose()?;
    let entry_type = input.entry_type;
    let row = versioned::update(
        db,
        scoped,
        id,
        if_match,
        now,
        move |row: &mut WatchlistRow, at, _| {
            if let Some(v) = &name {
                row.name = v.clone();
            }
            if let Some(v) = &aliases {
                row.aliases = ids_to_json(v);
            }
            if let Some(v) = entry_type {
                row.entry_type = v.as_str().to_owned();
            }
            if let Some(v) = &country {
                row.country = Some(v.clone());
            }
            if let Some(v) = &dob {
                row.date_of_birth = Some(v.clone());
            }
            if let Some(v) = &source {
                row.list_source = v.clone();
            }
            if let Some(v) = &reason {
                row.reason = v.clone();
            }
            row.updated_at = at;
            Ok(Some(()))
        },
        |_, (), _| Ok(()),
    )
    .await?;
    Ok(versioned_view(&row))
}

pub async fn delete(db: &Db, scoped: Scoped, id: &str, if_match: IfMatch) -> Result<()> {
    check_id(id)?;
    versioned::delete::<WatchlistRow, _>(db, scoped, id, if_match, |scoped, c, id, version| {
        scoped.delete_watchlist(c, id, version)
    })
    .await
}

/// Best matches first, scores ≥ the screening threshold, at most 25.
pub async fn screen(
    db: &Db,
    scoped: Scoped,
    input: ScreenRequest,
    now: i64,
) -> Result<ScreenResponse> {
    let name = domain::text("name", &input.name, true, 300)?;
    let country = input
        .country
        .as_deref()
        .map(|c| domain::country("country", c))
        .transpose()?;
    let dob = input
        .date_of_birth
        .as_deref()
        .map(|d| domain::date_of_birth(d, today(now)))
        .transpose()?;
    let rows = db.run(move |c| scoped.all_watchlist(c)).await?;
    let matches = actix_web::web::block(move || {
        best_matches(&rows, &name, country.as_deref(), dob.as_deref(), 25)
    })
    .await
    .map_err(|_| Error::Internal("screening task cancelled".into()))?;
    Ok(ScreenResponse { matches })
}

/// Screens `name` against `rows`; shared with subject risk scoring.
pub fn best_matches(
    rows: &[WatchlistRow],
    name: &str,
    country: Option<&str>,
    dob: Option<&str>,
    limit: usize,
) -> Vec<ScreenMatch> {
    let aliases: Vec<Vec<String>> = rows.iter().map(|r| ids_from_json(&r.aliases)).collect();
    let candidates: Vec<Candidate> = rows
        .iter()
        .zip(&aliases)
        .map(|(r, a)| Candidate {
            name: &r.name,
            aliases: a,
            country: r.country.as_deref(),
            date_of_birth: r.date_of_birth.as_deref(),
        })
        .collect();
    let query = Query {
        name,
        country,
        date_of_birth: dob,
    };
    screening::screen(&query, &candidates, screening::DEFAULT_THRESHOLD, limit)
        .into_iter()
        .map(|(i, score)| ScreenMatch {
            entry: EntryView::from(&rows[i]),
            score,
        })
        .collect()
}
