//! The one way outbound HTTP clients are built (feature `outbound`): the resource API's JWKS
//! and metadata fetches, and the `client` token source, all go through [`builder`].
//!
//! TLS is rustls (no OpenSSL). The trusted roots are the system store, read through
//! `rustls-native-certs`, which honours `SSL_CERT_FILE` (and `SSL_CERT_DIR`): when either is
//! set, the roots are read from there *instead of* the system store, as with OpenSSL. That is
//! how a deployment behind a private CA trusts it. [`check_trust_store`] turns a mistyped
//! `SSL_CERT_FILE` into a clear start-up error instead of every TLS handshake failing.
//! Redirects are never followed: neither a token endpoint (RFC 6749 §10) nor a key set may send
//! us somewhere else.

use std::time::Duration;

use crate::config::ConfigError;

/// How long establishing a connection (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client builder with rustls, the system roots (or `SSL_CERT_FILE`), no redirects, and
/// `timeout` for a whole request.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_native_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
}

/// The `healthcheck` command of both binaries, so that a container needs no curl: `GET /readyz`
/// on the service's own bind address (an unspecified one, `0.0.0.0` or `[::]`, is reached on
/// loopback). `Ok` only for a 2xx answer within 3 seconds.
pub async fn probe_ready(bind: std::net::SocketAddr) -> Result<(), String> {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/readyz");
    let http = builder(Duration::from_secs(3))
        .build()
        .map_err(|e| error_chain(&e))?;
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", error_chain(&e)))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", resp.status()))
    }
}

/// An error and its causes, so that a TLS failure shows as "…: invalid peer certificate:
/// UnknownIssuer" and not just "error sending request".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.ends_with(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

/// When `SSL_CERT_FILE` is set, it must be a readable file holding at least one PEM
/// certificate; unset is fine (the system store is used).
pub fn check_trust_store() -> Result<(), ConfigError> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    check_ca_file(std::path::Path::new(&path))
}

/// The check [`check_trust_store`] makes, on a given path.
pub fn check_ca_file(path: &std::path::Path) -> Result<(), ConfigError> {
    let shown = path.display();
    let text = std::fs::read(path)
        .map_err(|e| ConfigError::new("SSL_CERT_FILE", format!("cannot read {shown}: {e}")))?;
    if !String::from_utf8_lossy(&text).contains("-----BEGIN CERTIFICATE-----") {
        return Err(ConfigError::new(
            "SSL_CERT_FILE",
            format!("{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_exist_and_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = check_ca_file(&missing).unwrap_err();
        assert_eq!(e.var, "SSL_CERT_FILE");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(check_ca_file(&junk)
            .unwrap_err()
            .to_string()
            .contains("no PEM certificate"));
        let ok = dir.path().join("ca.pem");
        std::fs::write(
            &ok,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        check_ca_file(&ok).unwrap();
    }

    #[test]
    fn the_builder_builds_with_rustls_and_native_roots() {
        builder(Duration::from_secs(3)).build().unwrap();
    }
}
