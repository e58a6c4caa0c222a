//! The two worlds a credential and a record can live in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `live` holds real customer data; `sandbox` holds test data. A credential only ever sees
/// records of its own environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Sandbox,
}

impl Environment {
    /// Where a credential is created when no environment is named — by the admin API, the CLI
    /// and the console alike. `sandbox`, as Stripe's test mode: a credential made in passing
    /// never reaches live data; `live` is always asked for by name.
    pub const DEFAULT_FOR_NEW_CREDENTIALS: Environment = Environment::Sandbox;

    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Sandbox => "sandbox",
        }
    }

    /// The prefix every API key of this environment starts with.
    pub const fn api_key_prefix(self) -> &'static str {
        match self {
            Environment::Live => "cf_live_",
            Environment::Sandbox => "cf_sand_",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment (expected `live` or `sandbox`)")]
pub struct UnknownEnvironment;

impl FromStr for Environment {
    type Err = UnknownEnvironment;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Environment::Live),
            "sandbox" => Ok(Environment::Sandbox),
            _ => Err(UnknownEnvironment),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_others() {
        for env in [Environment::Live, Environment::Sandbox] {
            assert_eq!(env.as_str().parse::<Environment>().unwrap(), env);
            let json = serde_json::to_string(&env).unwrap();
            assert_eq!(serde_json::from_str::<Environment>(&json).unwrap(), env);
        }
        assert!("production".parse::<Environment>().is_err());
        assert!("Live".parse::<Environment>().is_err());
    }
}
