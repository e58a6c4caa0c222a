//! The baseline every benchmark in `bench/` is measured against in the same run: what a user
//! would write by hand without this project — actix-web, plain diesel with an r2d2 pool, one
//! `web::block` per request — using **none of the workspace's crates**, so that the cost of our
//! shared layers (database wrapper, middleware, rendering) shows up in the ratio instead of
//! vanishing from both sides.
//!
//! - `GET /cases/{id}` reads every column of the case by id and environment and renders the same
//!   JSON as `GET /v2/cases/{id}` (RFC 3339 times, `subject_ids` as an array) with its `ETag`.
//! - `POST /token` (form field `client_id`) does one primary-key read of the application and
//!   one Ed25519 signature of an RFC 9068-shaped claim set, and answers a token response.
//!
//! The reads are written the way diesel's guide writes them (`.first()`), which on SQLite
//! recompiles the statement on every call; the workspace forbids that form for itself
//! (`clippy.toml`), the baseline keeps it on purpose: it is what a user writes by hand.
//! `GET /cases-tuned/{id}` is the same read written as the services write theirs (no bound
//! `LIMIT`), for the second ratio in docs/PERFORMANCE.md.
//!
//! It runs on the services' global allocator (mimalloc) and the workspace's bundled SQLite (built
//! as `.cargo/config.toml` says, read through a memory map of the same size as the services'),
//! so that none of these shows up as a difference between the two.
//!
//! `DATABASE_URL` names SQLite (a path or `sqlite://path`) or PostgreSQL (`postgres://…`).

#![allow(clippy::disallowed_methods)]

use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The services' allocator, so that the comparison is of the code, not of the allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The two tables as the migrations create them (only the columns read here).
diesel::table! {
    cases (id) {
        id -> Text,
        environment -> Text,
        reference -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        priority -> Text,
        assignee -> Nullable<Text>,
        subject_ids -> Text,
        resolution -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        version -> BigInt,
    }
}

diesel::table! {
    applications (client_id) {
        client_id -> Text,
        scopes -> Text,
        environment -> Text,
        deleted_at -> Nullable<BigInt>,
    }
}

#[derive(Queryable)]
struct CaseRow {
    id: String,
    reference: String,
    title: String,
    description: String,
    status: String,
    priority: String,
    assignee: Option<String>,
    subject_ids: String,
    resolution: Option<String>,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    version: i64,
}

#[derive(serde::Serialize)]
struct CaseJson {
    id: String,
    reference: String,
    title: String,
    description: String,
    status: String,
    priority: String,
    assignee: Option<String>,
    subject_ids: Vec<String>,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    resolution: Option<String>,
}

fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The pool of whichever backend `DATABASE_URL` names. `test_on_check_out(false)`: r2d2's
/// default runs a `SELECT 1` on every checkout, which a performance-minded hand-written server
/// turns off — the baseline should be the strongest plain version, not a strawman.
#[derive(Clone)]
enum Db {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Pg(Pool<ConnectionManager<PgConnection>>),
}

/// One pooled connection; each query below is written once for both.
enum Conn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Sqlite(mut $c) => $body,
            Conn::Pg(mut $c) => $body,
        }
    };
}

/// SQLite reads through a memory map as the services' connections do (`PRAGMA mmap_size`, the
/// same size as `shared::db::SQLITE_MMAP_BYTES`, written out because the baseline uses none of
/// the workspace's crates), so that the page reads are not a difference between the two either.
#[derive(Debug)]
struct MemoryMapped;

impl diesel::r2d2::CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for MemoryMapped {
    fn on_acquire(&self, c: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA mmap_size = 1073741824;")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Db {
    fn connect(url: &str) -> Result<Db, String> {
        let size = 8;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = Pool::builder()
                .max_size(size)
                .test_on_check_out(false)
                .build(ConnectionManager::<PgConnection>::new(url))
                .map_err(|e| e.to_string())?;
            Ok(Db::Pg(pool))
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url).to_owned();
            let pool = Pool::builder()
                .max_size(size)
                .test_on_check_out(false)
                .connection_customizer(Box::new(MemoryMapped))
                .build(ConnectionManager::<SqliteConnection>::new(path))
                .map_err(|e| e.to_string())?;
            Ok(Db::Sqlite(pool))
        }
    }

    fn get(&self) -> Result<Conn, String> {
        match self {
            Db::Sqlite(p) => p.get().map(Conn::Sqlite).map_err(|e| e.to_string()),
            Db::Pg(p) => p.get().map(Conn::Pg).map_err(|e| e.to_string()),
        }
    }
}

async fn case(db: web::Data<Db>, id: web::Path<String>) -> HttpResponse {
    read_case(db, id.into_inner(), false).await
}

/// The same read without `first`'s bound `LIMIT 1`, so SQLite keeps the compiled statement.
async fn case_tuned(db: web::Data<Db>, id: web::Path<String>) -> HttpResponse {
    read_case(db, id.into_inner(), true).await
}

async fn read_case(db: web::Data<Db>, id: String, tuned: bool) -> HttpResponse {
    let row = web::block(move || -> Result<Option<CaseRow>, String> {
        let query = cases::table
            .filter(cases::id.eq(id))
            .filter(cases::environment.eq("sandbox"))
            .select((
                cases::id,
                cases::reference,
                cases::title,
                cases::description,
                cases::status,
                cases::priority,
                cases::assignee,
                cases::subject_ids,
                cases::resolution,
                cases::created_at,
                cases::updated_at,
                cases::closed_at,
                cases::version,
            ));
        if tuned {
            on_conn!(db.get()?, |c| query
                .get_result::<CaseRow>(&mut c)
                .optional()
                .map_err(|e| e.to_string()))
        } else {
            on_conn!(db.get()?, |c| query
                .first::<CaseRow>(&mut c)
                .optional()
                .map_err(|e| e.to_string()))
        }
    })
    .await;
    match row {
        Ok(Ok(Some(r))) => {
            let etag = format!("\"{}\"", r.version);
            HttpResponse::Ok()
                .insert_header(("ETag", etag))
                .insert_header(("Cache-Control", "no-store"))
                .json(CaseJson {
                    subject_ids: serde_json::from_str(&r.subject_ids).unwrap_or_default(),
                    created_at: rfc3339(r.created_at),
                    updated_at: rfc3339(r.updated_at),
                    closed_at: r.closed_at.map(rfc3339),
                    id: r.id,
                    reference: r.reference,
                    title: r.title,
                    description: r.description,
                    status: r.status,
                    priority: r.priority,
                    assignee: r.assignee,
                    resolution: r.resolution,
                })
        }
        Ok(Ok(None)) => HttpResponse::NotFound().finish(),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

#[derive(serde::Deserialize)]
struct TokenForm {
    client_id: String,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    scope: &'a str,
    env: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

struct Signer {
    key: EncodingKey,
    header: Header,
}

async fn token(
    db: web::Data<Db>,
    signer: web::Data<Signer>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let client_id = form.into_inner().client_id;
    let row = web::block(
        move || -> Result<Option<(String, String, String)>, String> {
            let query = applications::table
                .filter(applications::client_id.eq(client_id))
                .filter(applications::deleted_at.is_null())
                .select((
                    applications::client_id,
                    applications::scopes,
                    applications::environment,
                ));
            on_conn!(db.get()?, |c| query
                .first::<(String, String, String)>(&mut c)
                .optional()
                .map_err(|e| e.to_string()))
        },
    )
    .await;
    let Ok(Ok(Some((client_id, scopes, env)))) = row else {
        return HttpResponse::Unauthorized().finish();
    };
    let scope = scopes
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(" ");
    let iat = Utc::now().timestamp();
    let claims = Claims {
        iss: "http://baseline",
        sub: &client_id,
        aud: "caseforge-api",
        client_id: &client_id,
        scope: &scope,
        env: &env,
        iat,
        exp: iat + 3600,
        jti: format!("{:032x}", rand::random::<u128>()),
    };
    match jsonwebtoken::encode(&signer.header, &claims, &signer.key) {
        Ok(access_token) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": scope,
            })),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BASELINE_BIND").unwrap_or_else(|_| "127.0.0.1:8089".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "caseforge.db".to_owned());
    let db = web::Data::new(Db::connect(&url).map_err(std::io::Error::other)?);
    let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&signing)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some("baseline".to_owned());
    let signer = web::Data::new(Signer {
        key: EncodingKey::from_ed_der(der.as_bytes()),
        header,
    });
    HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .app_data(signer.clone())
            .route("/token", web::post().to(token))
            .route("/cases/{id}", web::get().to(case))
            .route("/cases-tuned/{id}", web::get().to(case_tuned))
    })
    .bind(bind)?
    .run()
    .await
}
