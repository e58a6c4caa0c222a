//! Rate-limit tiers (contract §4.3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much traffic a credential may send. `standard` is the default.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Basic,
    #[default]
    Standard,
    Professional,
    Enterprise,
    Unlimited,
}

/// The limits of a tier: a sustained per-minute rate with a burst allowance, plus an hourly quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLimits {
    pub per_minute: u32,
    pub per_hour: u32,
    pub burst: u32,
}

impl Tier {
    pub const ALL: &'static [Tier] = &[
        Tier::Basic,
        Tier::Standard,
        Tier::Professional,
        Tier::Enterprise,
        Tier::Unlimited,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Basic => "basic",
            Tier::Standard => "standard",
            Tier::Professional => "professional",
            Tier::Enterprise => "enterprise",
            Tier::Unlimited => "unlimited",
        }
    }

    /// The contract's limits table; `None` means never limited.
    pub const fn limits(self) -> Option<TierLimits> {
        let (per_minute, per_hour, burst) = match self {
            Tier::Basic => (60, 1_000, 10),
            Tier::Standard => (300, 10_000, 50),
            Tier::Professional => (1_000, 50_000, 100),
            Tier::Enterprise => (5_000, 200_000, 500),
            Tier::Unlimited => return None,
        };
        Some(TierLimits {
            per_minute,
            per_hour,
            burst,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier (expected basic, standard, professional, enterprise or unlimited)")]
pub struct UnknownTier;

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or(UnknownTier)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_match_the_contract_table() {
        assert_eq!(
            Tier::Basic.limits(),
            Some(TierLimits {
                per_minute: 60,
                per_hour: 1_000,
                burst: 10
            })
        );
        assert_eq!(Tier::Standard.limits().unwrap().per_hour, 10_000);
        assert_eq!(Tier::Professional.limits().unwrap().burst, 100);
        assert_eq!(Tier::Enterprise.limits().unwrap().per_minute, 5_000);
        assert_eq!(Tier::Unlimited.limits(), None);
        assert_eq!(Tier::default(), Tier::Standard);
    }

    #[test]
    fn names_round_trip() {
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>().unwrap(), *tier);
            let json = serde_json::to_string(tier).unwrap();
            assert_eq!(serde_json::from_str::<Tier>(&json).unwrap(), *tier);
        }
        assert!("gold".parse::<Tier>().is_err());
    }
}
