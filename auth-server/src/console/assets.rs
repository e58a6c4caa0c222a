//! The console's stylesheet and script, compiled into the binary (`include_str!`): no CDN, no
//! inline code, so the CSP can say `'self'` and nothing else.

use actix_web::HttpResponse;

pub const CSS: &str = include_str!("static/console.css");
pub const JS: &str = include_str!("static/console.js");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(CSS)
}

pub async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(JS)
}
