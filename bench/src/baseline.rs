//! A bare actix-web server: the baseline every benchmark in `bench/` is measured against in
//! the same run.
//!
//! - `POST /token` reads a form body and answers a JSON body of a token response's size: the
//!   shape of the token endpoint without authentication, a database read or signing.
//! - `GET /cases/{id}` does the same database read as `GET /v2/cases/{id}` (through the same
//!   pool and blocking-thread hop) without authentication, rate limiting or scope checks.

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;
use shared::db::schema::cases;
use shared::db::Db;

#[derive(Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = cases)]
struct Case {
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
}

async fn case(db: web::Data<Db>, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let row = db
        .run(move |c| {
            cases::table
                .filter(cases::environment.eq("sandbox"))
                .filter(cases::id.eq(&id))
                .select(Case::as_select())
                .first(c)
                .optional()
        })
        .await;
    match row {
        Ok(Some(case)) => HttpResponse::Ok().json(case),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn token(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"access_token": "x".repeat(560), "token_type": "Bearer", "expires_in": 3600, "scope": format!("{}", body.len())}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BASELINE_BIND").unwrap_or_else(|_| "127.0.0.1:8089".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://caseforge.db".to_owned());
    let db = web::Data::new(Db::connect(&url, 8).map_err(std::io::Error::other)?);
    HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .route("/token", web::post().to(token))
            .route("/cases/{id}", web::get().to(case))
    })
    .bind(bind)?
    .run()
    .await
}
