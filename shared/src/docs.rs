//! `/docs`: interactive documentation (Swagger UI) of the service's own `/openapi.json`, for
//! both services.
//!
//! Every asset is compiled into the binary (`shared/assets/`), so the page works on a network
//! that reaches no CDN, and it is served with a Content-Security-Policy that lets the page load
//! nothing from anywhere but this service: no inline script, no other origin.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::routing::Endpoint;

/// The policy of every `/docs` response. `data:` images are the icons inside Swagger UI's own
/// stylesheet; they are part of the page, not fetched from anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../assets/docs/index.html");
const INIT: &str = include_str!("../assets/docs/init.js");
const BUNDLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");

/// The assets the page references (`docs/…` relative to `/docs`) and their content types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/docs/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        BUNDLE,
    ),
    ("/docs/swagger-ui.css", "text/css; charset=utf-8", CSS),
    (
        "/docs/init.js",
        "text/javascript; charset=utf-8",
        INIT.as_bytes(),
    ),
];

/// Registers `/docs` and its assets, each an [`Endpoint`] (GET and HEAD; other methods 405).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/docs").get(|| async { page("text/html; charset=utf-8", INDEX.as_bytes()) }),
    );
    for &(path, content_type, body) in ASSETS {
        cfg.service(Endpoint::new(path).get(move || async move { page(content_type, body) }));
    }
}

fn page(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // The assets change only with the binary.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `src`/`href` in the page names one of [`ASSETS`]; none is absolute.
    #[test]
    fn the_page_references_only_bundled_assets() {
        let refs: Vec<&str> = INDEX
            .split(['"', '\''])
            .filter(|s| s.starts_with("docs/") || s.contains("://"))
            .collect();
        assert_eq!(refs.len(), ASSETS.len(), "{refs:?}");
        for r in refs {
            assert!(
                ASSETS.iter().any(|(path, _, _)| path[1..] == *r),
                "{r} is not bundled"
            );
        }
        assert!(
            !INIT.contains("://"),
            "init.js must not name another origin"
        );
    }
}
