//! Configuration values both services parse the same way.

/// A configuration value that cannot be used. The message names the variable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            var,
            message: message.into(),
        }
    }
}

/// Reads a variable, treating empty as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `AUTH_ISSUER` must be an absolute http(s) URL; a trailing slash is dropped so that `iss`
/// compares equal however it was written.
pub fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new(
                "AUTH_ISSUER",
                format!("`{raw}` is not an http:// or https:// URL"),
            )
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || s.contains(char::is_whitespace) || s.contains(['?', '#']) {
        return Err(ConfigError::new(
            "AUTH_ISSUER",
            format!("`{raw}` is not a valid issuer URL"),
        ));
    }
    Ok(s.to_owned())
}

/// Parses a listen address such as `127.0.0.1:8080`.
pub fn parse_bind(var: &'static str, raw: &str) -> Result<std::net::SocketAddr, ConfigError> {
    raw.trim().parse().map_err(|_| {
        ConfigError::new(
            var,
            format!("`{raw}` is not an address like 127.0.0.1:8080"),
        )
    })
}

/// Parses a whole number within `range`.
pub fn parse_number(
    var: &'static str,
    raw: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                var,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// `METRICS_BIND`: unset (or empty) keeps `/metrics` on the main port; an address moves it
/// there.
pub fn parse_metrics_bind() -> Result<Option<std::net::SocketAddr>, ConfigError> {
    var("METRICS_BIND")
        .map(|v| parse_bind("METRICS_BIND", &v))
        .transpose()
}

/// `CORS_ALLOWED_ORIGINS`, parsed by [`parse_origins`]; unset means none.
pub fn parse_cors_allowed_origins() -> Result<Vec<String>, ConfigError> {
    var("CORS_ALLOWED_ORIGINS")
        .map(|v| parse_origins("CORS_ALLOWED_ORIGINS", &v))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// A list of origins such as `CORS_ALLOWED_ORIGINS`: comma-separated exact origins (`https://app.example.com`,
/// `http://localhost:3000`). Each must be what a browser sends in `Origin`: an http(s) scheme,
/// a lower-case host, an optional port, and nothing else, so that a typo cannot silently match
/// nothing (a trailing slash) or everything (`*`).
pub fn parse_origins(var: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !is_origin(item) {
            let shown: String = item.chars().take(80).collect();
            return Err(ConfigError::new(
                var,
                format!("`{shown}` is not an origin like https://app.example.com (scheme, lower-case host, optional port; no path, no `*`)"),
            ));
        }
        if !origins.iter().any(|o| o == item) {
            origins.push(item.to_owned());
        }
    }
    Ok(origins)
}

fn is_origin(s: &str) -> bool {
    let Some(authority) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal, as browsers write it: lower-case hex inside brackets.
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        let ok = !inner.is_empty()
            && inner.bytes().all(|b| {
                b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':' || b == b'.'
            });
        (ok, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        (ok, port)
    };
    let port_ok = port.is_none_or(|p| {
        !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    });
    host_ok && port_ok
}

/// Loads `./.env` — the working directory's file only, never a parent directory's (where
/// `dotenvy::dotenv` would also look, picking up a stranger's settings). A missing file is
/// fine; one that cannot be read or parsed is an error naming the file. Variables already set
/// in the environment win.
pub fn load_dotenv() -> Result<(), String> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // The line itself is not shown: it may hold a password.
        Err(dotenvy::Error::LineParse(_, _)) => {
            Err(".env: a line is not KEY=value (its content is not shown)".to_owned())
        }
        Err(e) => Err(format!(".env: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_is_normalised_and_checked() {
        assert_eq!(
            parse_issuer("http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            parse_issuer("https://auth.example.com/cf").unwrap(),
            "https://auth.example.com/cf"
        );
        assert!(parse_issuer("auth.example.com").is_err());
        assert!(parse_issuer("http://").is_err());
        assert!(parse_issuer("http://a b").is_err());
        assert_eq!(parse_issuer("ftp://x").unwrap_err().var, "AUTH_ISSUER");
    }

    #[test]
    fn bind_and_numbers() {
        assert!(parse_bind("API_BIND", "127.0.0.1:0").is_ok());
        assert_eq!(
            parse_bind("API_BIND", "localhost").unwrap_err().var,
            "API_BIND"
        );
        assert_eq!(parse_number("N", "5", 1..=10).unwrap(), 5);
        assert!(parse_number("N", "50", 1..=10).is_err());
    }

    #[test]
    fn origins_are_exact_browser_origins() {
        assert_eq!(
            parse_origins(
                "CORS_ALLOWED_ORIGINS",
                " https://app.example.com, http://localhost:3000,,http://[::1]:8080 "
            )
            .unwrap(),
            [
                "https://app.example.com",
                "http://localhost:3000",
                "http://[::1]:8080"
            ]
        );
        assert!(parse_origins("CORS_ALLOWED_ORIGINS", "")
            .unwrap()
            .is_empty());
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "ftp://app.example.com",
            "https://",
            "https://a b",
            "https://user@app.example.com",
        ] {
            let err = parse_origins("CORS_ALLOWED_ORIGINS", bad).unwrap_err();
            assert_eq!(err.var, "CORS_ALLOWED_ORIGINS", "{bad}");
        }
    }
}
