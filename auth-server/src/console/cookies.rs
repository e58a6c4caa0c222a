//! The console's cookies: the session, the pre-session CSRF cookie of the login and setup
//! forms, and the known-device cookie. `__Host-` prefixed and `Secure` over an https issuer,
//! `Path=/console` over http; always `HttpOnly; SameSite=Strict`.

use actix_web::cookie::{Cookie, SameSite};

fn is_https(issuer: &str) -> bool {
    issuer.trim().to_ascii_lowercase().starts_with("https://")
}

/// `__Host-cf_session` over https, `cf_session` over http.
pub fn session_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_session"
    } else {
        "cf_session"
    }
}

/// The pre-session CSRF cookie of the login and setup forms.
pub fn login_csrf_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_login_csrf"
    } else {
        "cf_login_csrf"
    }
}

/// The known-device cookie (`service::devices`): `__Host-cf_device` over https, `cf_device`
/// over http.
pub fn device_cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) {
        "__Host-cf_device"
    } else {
        "cf_device"
    }
}

/// The known-device cookie: a console cookie that outlives the browser session, for as long
/// as the server honours it.
pub fn device_cookie(issuer: &str, value: String) -> Cookie<'static> {
    let mut c = console_cookie(issuer, device_cookie_name(issuer), value);
    c.set_max_age(actix_web::cookie::time::Duration::seconds(
        crate::service::devices::DEVICE_LIFETIME_SECS,
    ));
    c
}

/// A console cookie: `HttpOnly; SameSite=Strict`; over https `Secure; Path=/` (what the
/// `__Host-` prefix demands), over http `Path=/console` without `Secure`. No `Max-Age`: it
/// ends with the browser; the server ends the session itself.
pub fn console_cookie(issuer: &str, name: &'static str, value: String) -> Cookie<'static> {
    let https = is_https(issuer);
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .path(if https { "/" } else { "/console" })
        .finish()
}

/// The session cookie for `session_id`.
pub fn session_cookie(issuer: &str, session_id: &str) -> Cookie<'static> {
    console_cookie(issuer, session_cookie_name(issuer), session_id.to_owned())
}

/// A cookie that removes `name` (same attributes, expired).
pub fn removal_cookie(issuer: &str, name: &'static str) -> Cookie<'static> {
    let mut c = console_cookie(issuer, name, String::new());
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_over_https_are_host_prefixed_and_secure() {
        let c = session_cookie("https://auth.example.com", "abc");
        let s = c.to_string();
        assert_eq!(c.name(), "__Host-cf_session");
        assert!(s.contains("HttpOnly") && s.contains("Secure"), "{s}");
        assert!(s.contains("SameSite=Strict") && s.contains("Path=/"), "{s}");
        assert!(!s.contains("Path=/console") && !s.contains("Domain"), "{s}");
    }

    #[test]
    fn cookies_over_http_are_scoped_to_the_console_without_secure() {
        let s = session_cookie("http://localhost:8081", "abc").to_string();
        assert!(s.starts_with("cf_session=abc"), "{s}");
        assert!(
            s.contains("HttpOnly") && s.contains("SameSite=Strict"),
            "{s}"
        );
        assert!(s.contains("Path=/console") && !s.contains("Secure"), "{s}");
        let gone = removal_cookie("http://localhost:8081", "cf_session").to_string();
        assert!(
            gone.contains("Max-Age=0") || gone.contains("Expires"),
            "{gone}"
        );
    }
}
