//! Webhook endpoints as both services see them: the stored row ([`endpoint`]), the rules a new
//! or changed endpoint must meet (event names, description, URL — [`target`]), its secret and
//! signatures ([`secret`]), and the variables that configure them.
//!
//! The resource API registers endpoints through `/v2/webhook-endpoints` and delivers events;
//! the auth server's console manages the same rows for operators (issue 25: admins every
//! endpoint, developers their own sandbox ones). Both apply these rules, so an endpoint is
//! valid whichever door it came through.

pub mod endpoint;
pub mod secret;
pub mod target;

use crate::config::{parse_flag, secret_var, var, ConfigError, ConfigErrors};
use crate::validate::FieldError;

/// Every event type, as sent and stored (the resource API's `EventType` lists the same, in the
/// same order; a test holds them equal).
pub const EVENT_TYPES: &[&str] = &[
    "case.created",
    "case.updated",
    "case.assigned",
    "case.closed",
    "sar.created",
    "sar.updated",
    "sar.submitted",
    "watchlist_entry.created",
    "watchlist_entry.updated",
    "watchlist_entry.deleted",
    "subject.created",
    "subject.updated",
];

/// The most endpoints one environment may have: every write of the environment is fanned out
/// to each of them, so the number bounds what one write can cost (Stripe allows 16, GitHub 20
/// per event). Checked in the create's transaction: creates racing on PostgreSQL may pass it by
/// the number in flight, never more.
pub const MAX_ENDPOINTS_PER_ENVIRONMENT: i64 = 50;

/// The refusal of a create past [`MAX_ENDPOINTS_PER_ENVIRONMENT`].
pub fn too_many() -> FieldError {
    FieldError {
        field: "url",
        message: format!(
            "cannot be added: this environment already has {MAX_ENDPOINTS_PER_ENVIRONMENT} endpoints (the most allowed); delete one, or subscribe an existing endpoint to more events"
        ),
    }
}

/// The longest description of an endpoint.
pub const MAX_DESCRIPTION: usize = 500;
/// The longest grace period a rotation may give the previous secret.
pub const MAX_GRACE_SECS: u64 = 7 * 86_400;
/// The grace period of a rotation that names none.
pub const DEFAULT_GRACE_SECS: u64 = 86_400;

/// `events`: a non-empty list of known event types; duplicates collapse. The stored form (a
/// JSON array, in the order given).
pub fn parse_events(events: &[String]) -> Result<String, FieldError> {
    let err = |message: String| FieldError {
        field: "events",
        message,
    };
    if events.is_empty() {
        return Err(err("must name at least one event type".into()));
    }
    if events.len() > 2 * EVENT_TYPES.len() {
        return Err(err("lists too many event types".into()));
    }
    let mut parsed: Vec<&'static str> = Vec::new();
    for e in events {
        let Some(t) = EVENT_TYPES.iter().find(|t| **t == e.as_str()) else {
            return Err(err(format!(
                "every event type must be one of: {}",
                EVENT_TYPES.join(", ")
            )));
        };
        if !parsed.contains(t) {
            parsed.push(t);
        }
    }
    Ok(serde_json::to_string(&parsed).unwrap_or_else(|_| "[]".to_owned()))
}

/// An endpoint's description: free text of at most [`MAX_DESCRIPTION`] characters.
pub fn description(d: &str) -> Result<String, FieldError> {
    crate::validate::text("description", d, false, MAX_DESCRIPTION)
}

/// An endpoint URL for `environment` ([`target::check_url`]), normalised, or why not (`url`).
pub async fn url(raw: &str, environment: &str, allow_private: bool) -> Result<String, FieldError> {
    target::check_url(raw, environment, allow_private)
        .await
        .map(|u| u.to_string())
        .map_err(|r| FieldError {
            field: "url",
            message: r.0,
        })
}

/// The grace period of a rotation: `None` is [`DEFAULT_GRACE_SECS`]; more than
/// [`MAX_GRACE_SECS`] is refused.
pub fn grace_period(secs: Option<u64>) -> Result<u64, FieldError> {
    let grace = secs.unwrap_or(DEFAULT_GRACE_SECS);
    if grace > MAX_GRACE_SECS {
        return Err(FieldError {
            field: "grace_period_seconds",
            message: "must be 0 to 604800 (7 days)".into(),
        });
    }
    Ok(grace)
}

/// What registering or rotating an endpoint needs from the environment, read the same way by
/// both services.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `WEBHOOK_SECRET_KEY` (or `_FILE`): 32 bytes, base64, that seal endpoint secrets at rest.
    /// Without it, endpoints can be listed and changed but not created or rotated (503).
    pub secret_key: Option<[u8; 32]>,
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS` (default false): lift the https-for-live and the
    /// private-address rules (development, tests).
    pub allow_private_targets: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("secret_key", &self.secret_key.map(|_| "<redacted>"))
            .field("allow_private_targets", &self.allow_private_targets)
            .finish()
    }
}

impl Settings {
    pub fn from_env(errors: &mut ConfigErrors) -> Settings {
        let secret_key = errors
            .check(secret_var("WEBHOOK_SECRET_KEY", "WEBHOOK_SECRET_KEY_FILE"))
            .flatten()
            .and_then(|raw| errors.check(parse_secret_key(&raw)));
        let allow_private_targets = match var("WEBHOOK_ALLOW_PRIVATE_TARGETS") {
            Some(raw) => errors.or(parse_flag("WEBHOOK_ALLOW_PRIVATE_TARGETS", &raw), false),
            None => false,
        };
        Settings {
            secret_key,
            allow_private_targets,
        }
    }

    /// Both services' test settings: one fixed key (a secret sealed by one opens in the other)
    /// and private targets allowed (receivers on 127.0.0.1).
    pub fn for_tests() -> Settings {
        Settings {
            secret_key: Some([7; 32]),
            allow_private_targets: true,
        }
    }

    /// The sealer of endpoint secrets, when the key is set.
    pub fn sealer(&self) -> Option<secret::Sealer> {
        self.secret_key.map(secret::Sealer::new)
    }
}

/// `WEBHOOK_SECRET_KEY`: exactly 32 bytes, standard base64.
pub fn parse_secret_key(raw: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| {
            ConfigError::new(
                "WEBHOOK_SECRET_KEY",
                "is not standard base64 (generate one with `openssl rand -base64 32`)",
            )
        })?;
    bytes.try_into().map_err(|_| {
        ConfigError::new(
            "WEBHOOK_SECRET_KEY",
            "must be exactly 32 bytes, base64-encoded (generate one with `openssl rand -base64 32`)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_known_non_empty_and_deduplicated() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&names(&["case.created", "sar.submitted", "case.created"])).unwrap(),
            r#"["case.created","sar.submitted"]"#
        );
        assert_eq!(parse_events(&[]).unwrap_err().field, "events");
        assert!(parse_events(&names(&["case.exploded"])).is_err());
        assert!(parse_events(&names(&["Case.Created"])).is_err());
        assert!(parse_events(&vec!["case.created".to_string(); 25]).is_err());
    }

    #[test]
    fn grace_periods_are_bounded() {
        assert_eq!(grace_period(None).unwrap(), DEFAULT_GRACE_SECS);
        assert_eq!(grace_period(Some(0)).unwrap(), 0);
        assert_eq!(grace_period(Some(MAX_GRACE_SECS)).unwrap(), MAX_GRACE_SECS);
        assert!(grace_period(Some(MAX_GRACE_SECS + 1)).is_err());
    }

    #[test]
    fn secret_keys_are_32_bytes_of_base64() {
        assert!(parse_secret_key("c2hvcnQ=").is_err());
        assert!(parse_secret_key(&"A".repeat(43)).is_err());
        parse_secret_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    }
}
