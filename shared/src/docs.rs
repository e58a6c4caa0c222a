//! `/docs`: interactive documentation (Swagger UI) of the service's own `/openapi.json`, for
//! both services.
//!
//! Every asset is compiled into the binary (`shared/assets/`), so the page works on a network
//! that reaches no CDN, and it is served with a Content-Security-Policy that lets the page load
//! nothing from anywhere but this service: no inline script, no other origin. The one
//! exception is [`ConnectTo`]: origins the page's script may *call* (`connect-src`), which the
//! resource API sets to the issuer's, so that Swagger UI's "Authorize" (client credentials)
//! can fetch a token from the authorization server. That call is a CORS request: the auth
//! server answers it only for the origins in its `CORS_ALLOWED_ORIGINS`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use crate::routing::Endpoint;

/// The policy of every `/docs` response without [`ConnectTo`]. `data:` images are the icons
/// inside Swagger UI's own stylesheet; they are part of the page, not fetched from anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// App data: the origins `/docs` may send requests to besides its own, as its CSP's
/// `connect-src`. Scripts, styles and images still come from this service only.
#[derive(Debug, Clone)]
pub struct ConnectTo {
    policy: HeaderValue,
}

impl ConnectTo {
    /// The policy allowing requests to the origins of `urls` (e.g. the issuer). A URL whose
    /// origin cannot be written into a CSP is left out.
    pub fn origins_of(urls: &[&str]) -> ConnectTo {
        let mut sources = vec!["'self'".to_owned()];
        for origin in urls.iter().filter_map(|u| origin_of(u)) {
            if !sources.contains(&origin) {
                sources.push(origin);
            }
        }
        let policy = format!(
            "default-src 'self'; connect-src {}; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            sources.join(" ")
        );
        ConnectTo {
            policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        }
    }

    /// The `Content-Security-Policy` value.
    pub fn policy(&self) -> &HeaderValue {
        &self.policy
    }
}

/// `scheme://host[:port]` of an `http(s)` URL, when it holds nothing a CSP source list could
/// misread (spaces, `;`, `,`, quotes).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_ok = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    host_ok.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

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
/// Their CSP is [`CONTENT_SECURITY_POLICY`], or that of the app's [`ConnectTo`] when it has one.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/docs").get(|c: Option<web::Data<ConnectTo>>| async move {
            page("text/html; charset=utf-8", INDEX.as_bytes(), c)
        }),
    );
    for &(path, content_type, body) in ASSETS {
        cfg.service(
            Endpoint::new(path).get(move |c: Option<web::Data<ConnectTo>>| async move {
                page(content_type, body, c)
            }),
        );
    }
}

fn page(
    content_type: &'static str,
    body: &'static [u8],
    connect_to: Option<web::Data<ConnectTo>>,
) -> HttpResponse {
    let policy = connect_to.map_or_else(
        || HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        |c| c.policy().clone(),
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // The assets change only with the binary.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_src_names_the_issuer_origin_only() {
        let c = ConnectTo::origins_of(&["https://Auth.Example.com:8443/tenant/x"]);
        let policy = c.policy().to_str().unwrap();
        assert!(
            policy.contains("connect-src 'self' https://auth.example.com:8443;"),
            "{policy}"
        );
        assert!(policy.contains("default-src 'self';"), "{policy}");
        for bad in [
            "ftp://x",
            "http://a b",
            "http://x;script-src *",
            "http://u@h",
            "nope",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
    }

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
