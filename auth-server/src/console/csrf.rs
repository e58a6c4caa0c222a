//! Cross-site request forgery: every request that changes something must come from the
//! console's own pages — an `Origin` equal to `AUTH_ISSUER`'s (or `Origin: null` with
//! `Sec-Fetch-Site: same-origin`) and, in the form, the session's CSRF token (before sign-in:
//! the double-submit cookie). See the module notes of [`super`].

use actix_web::{web, HttpRequest};

use super::cookies::login_csrf_cookie_name;
use super::errors::ConsoleError;
use super::signed::SignedIn;
use crate::routes::AppState;

/// A state-changing request of a signed-in operator: `Origin` must be the console's and
/// `form_token` the session's CSRF token (compared in constant time).
pub fn check_csrf(
    req: &HttpRequest,
    signed: &SignedIn,
    form_token: &str,
) -> Result<(), ConsoleError> {
    check_origin(req)?;
    if shared::secret::ct_eq(form_token.as_bytes(), signed.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "This form has expired or was not sent by the console. Reload the page and try again."
                .into(),
        ))
    }
}

/// A form sent before sign-in (login, setup link): `Origin` must be the console's and
/// `form_token` equal the pre-session cookie set with the form (double submit).
pub fn check_login_csrf(req: &HttpRequest, form_token: &str) -> Result<(), ConsoleError> {
    check_origin(req)?;
    let state = app_state(req)?;
    let cookie = req.cookie(login_csrf_cookie_name(&state.config.issuer));
    match cookie {
        Some(c)
            if !form_token.is_empty()
                && shared::secret::ct_eq(c.value().as_bytes(), form_token.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ConsoleError::Forbidden(
            "This form has expired or was not sent by the console. Reload the page and try again."
                .into(),
        )),
    }
}

/// `Origin` must equal the console's own origin (see the module notes).
pub fn check_origin(req: &HttpRequest) -> Result<(), ConsoleError> {
    let state = app_state(req)?;
    if origin_allowed(req, &state.config.issuer) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "This request did not come from the console's own pages.".into(),
        ))
    }
}

fn origin_allowed(req: &HttpRequest, issuer: &str) -> bool {
    let expected = console_origin(issuer);
    let single = |name: &str| {
        let mut values = req.headers().get_all(name);
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v.to_str().ok()),
            (None, None) => None,
            _ => Some(None),
        }
    };
    let same_origin_fetch = || single("sec-fetch-site") == Some(Some("same-origin"));
    match single("origin") {
        Some(Some(o)) if o.eq_ignore_ascii_case(&expected) => true,
        Some(Some("null")) | None => same_origin_fetch(),
        _ => false,
    }
}

/// `scheme://host[:port]` of the issuer URL, lowercased.
pub fn console_origin(issuer: &str) -> String {
    let lower = issuer.trim().to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or(("http", lower.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = match (scheme, authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host,
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

/// The auth server's state, which every console handler is registered with.
pub(crate) fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ConsoleError::Internal("no application state".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port_of_the_issuer() {
        assert_eq!(
            console_origin("https://auth.example.com"),
            "https://auth.example.com"
        );
        assert_eq!(
            console_origin("https://Auth.Example.com:443/x"),
            "https://auth.example.com"
        );
        assert_eq!(
            console_origin("http://localhost:8081/"),
            "http://localhost:8081"
        );
        assert_eq!(
            console_origin("http://caseforge.test"),
            "http://caseforge.test"
        );
    }
}
