//! A bare actix-web server: the baseline every benchmark in `bench/` is measured against in
//! the same run. `GET /` answers a small JSON body; `POST /` reads a form body and answers
//! JSON, the shape of the token endpoint without authentication or signing.

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BASELINE_BIND").unwrap_or_else(|_| "127.0.0.1:8089".to_owned());
    HttpServer::new(|| {
        App::new()
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().json(serde_json_stub()) }),
            )
            .route(
                "/",
                web::post().to(|body: web::Bytes| async move {
                    HttpResponse::Ok()
                        .insert_header(("Cache-Control", "no-store"))
                        .json(format!("{} bytes", body.len()))
                }),
            )
    })
    .bind(bind)?
    .run()
    .await
}

fn serde_json_stub() -> &'static str {
    "ok"
}
