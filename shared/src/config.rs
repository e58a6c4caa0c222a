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
}
