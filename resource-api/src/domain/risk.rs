//! Risk score and risk level of a subject (a person or entity under investigation).
//!
//! The score is a whole number from 0 to 100, built from a fixed base and additive points, so
//! that an analyst can always say why a subject scored what it did. Points are added for every
//! rule that applies, and the total is capped at 100.
//!
//! | Rule                                                              | Points |
//! |-------------------------------------------------------------------|-------:|
//! | Base, for every subject                                           |    +10 |
//! | Country on the FATF black list ("call for action")                |    +50 |
//! | Country on the FATF grey list ("increased monitoring")            |    +25 |
//! | Country missing (unknown jurisdiction)                            |     +5 |
//! | Subject is an entity rather than a person                         |     +5 |
//! | Best watchlist match score ≥ 0.95                                 |    +50 |
//! | Best watchlist match score ≥ 0.85 (and < 0.95)                    |    +35 |
//! | Best watchlist match score ≥ 0.80 (and < 0.85)                    |    +20 |
//! | Total above 100                                                   | capped at 100 |
//!
//! Only one country rule and one watchlist rule can apply. Countries are ISO 3166-1 alpha-2
//! codes compared case-insensitively; a blank country counts as missing.
//!
//! - FATF black list: KP, IR, MM.
//! - FATF grey list: DZ, AO, BG, BF, CM, CI, HR, CD, HT, KE, LA, LB, ML, MC, MZ, NA, NP, NG,
//!   ZA, SS, SY, TZ, VE, VN, YE.
//!
//! These lists are as of the FATF publication the team last reviewed. FATF updates them after
//! each plenary (usually three times a year), so they must be reviewed, and this table with
//! them, whenever FATF publishes a new version.
//!
//! The level follows from the score: 0–39 is low, 40–69 medium and 70–100 high.

/// Jurisdictions subject to a FATF call for action ("black list").
const FATF_BLACK_LIST: &[&str] = &["KP", "IR", "MM"];

/// Jurisdictions under FATF increased monitoring ("grey list").
const FATF_GREY_LIST: &[&str] = &[
    "DZ", "AO", "BG", "BF", "CM", "CI", "HR", "CD", "HT", "KE", "LA", "LB", "ML", "MC", "MZ", "NA",
    "NP", "NG", "ZA", "SS", "SY", "TZ", "VE", "VN", "YE",
];

super::values::text_enum! {
    /// The banded level shown next to a risk score.
    pub enum RiskLevel {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

impl RiskLevel {
    /// The level of a score: 0–39 low, 40–69 medium, 70 and above high.
    pub fn from_score(score: u8) -> RiskLevel {
        match score {
            0..=39 => RiskLevel::Low,
            40..=69 => RiskLevel::Medium,
            _ => RiskLevel::High,
        }
    }
}

/// What the risk score of a subject depends on.
#[derive(Debug, Clone)]
pub struct RiskInputs<'a> {
    pub subject_type_is_entity: bool,
    pub country: Option<&'a str>,
    pub best_watchlist_score: Option<f64>,
}

/// Points for the subject's jurisdiction.
fn country_points(country: Option<&str>) -> u32 {
    let Some(code) = country.map(str::trim).filter(|c| !c.is_empty()) else {
        return 5;
    };
    let listed = |list: &[&str]| list.iter().any(|c| c.eq_ignore_ascii_case(code));
    if listed(FATF_BLACK_LIST) {
        50
    } else if listed(FATF_GREY_LIST) {
        25
    } else {
        0
    }
}

/// Points for the closeness of the best watchlist match.
///
/// A missing score, or one that is not a number, means there was no match and adds nothing.
fn watchlist_points(best: Option<f64>) -> u32 {
    match best {
        Some(s) if s >= 0.95 => 50,
        Some(s) if s >= 0.85 => 35,
        Some(s) if s >= 0.80 => 20,
        _ => 0,
    }
}

/// The risk score of a subject, from 0 to 100 (see the module documentation for the rules).
pub fn risk_score(inputs: &RiskInputs) -> u8 {
    let entity = if inputs.subject_type_is_entity { 5 } else { 0 };
    let total = 10
        + country_points(inputs.country)
        + entity
        + watchlist_points(inputs.best_watchlist_score);
    // The total is at most 115, so after the cap it always fits; 100 is the safe fallback.
    u8::try_from(total.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(country: Option<&str>, best: Option<f64>) -> u8 {
        risk_score(&RiskInputs {
            subject_type_is_entity: false,
            country,
            best_watchlist_score: best,
        })
    }

    #[test]
    fn a_person_in_an_unlisted_country_without_matches_scores_the_base() {
        assert_eq!(person(Some("GB"), None), 10);
    }

    #[test]
    fn black_listed_country_adds_fifty() {
        for code in ["KP", "IR", "MM"] {
            assert_eq!(person(Some(code), None), 60, "{code}");
        }
    }

    #[test]
    fn grey_listed_country_adds_twenty_five() {
        for code in FATF_GREY_LIST {
            assert_eq!(person(Some(code), None), 35, "{code}");
        }
        assert_eq!(person(Some("NG"), None), 35);
    }

    #[test]
    fn countries_are_compared_case_insensitively() {
        assert_eq!(person(Some("kp"), None), 60);
        assert_eq!(person(Some("Ng"), None), 35);
        assert_eq!(person(Some(" ir "), None), 60);
    }

    #[test]
    fn missing_country_adds_five() {
        assert_eq!(person(None, None), 15);
        assert_eq!(person(Some(""), None), 15);
        assert_eq!(person(Some("  "), None), 15);
    }

    #[test]
    fn entity_adds_five() {
        let entity = RiskInputs {
            subject_type_is_entity: true,
            country: Some("GB"),
            best_watchlist_score: None,
        };
        assert_eq!(risk_score(&entity), 15);
    }

    #[test]
    fn watchlist_match_adds_points_by_band() {
        assert_eq!(person(Some("GB"), Some(0.0)), 10);
        assert_eq!(person(Some("GB"), Some(0.7999)), 10);
        assert_eq!(person(Some("GB"), Some(0.80)), 30);
        assert_eq!(person(Some("GB"), Some(0.8499)), 30);
        assert_eq!(person(Some("GB"), Some(0.85)), 45);
        assert_eq!(person(Some("GB"), Some(0.9499)), 45);
        assert_eq!(person(Some("GB"), Some(0.95)), 60);
        assert_eq!(person(Some("GB"), Some(1.0)), 60);
        assert_eq!(person(Some("GB"), Some(f64::NAN)), 10);
    }

    #[test]
    fn rules_add_up_and_are_capped_at_one_hundred() {
        assert_eq!(person(Some("NG"), Some(0.86)), 70);
        assert_eq!(person(None, Some(0.81)), 35);
        let worst = RiskInputs {
            subject_type_is_entity: true,
            country: Some("KP"),
            best_watchlist_score: Some(1.0),
        };
        assert_eq!(risk_score(&worst), 100);
        assert_eq!(person(Some("IR"), Some(0.99)), 100);
    }

    #[test]
    fn levels_change_at_forty_and_seventy() {
        assert_eq!(RiskLevel::from_score(0), RiskLevel::Low);
        assert_eq!(RiskLevel::from_score(39), RiskLevel::Low);
        assert_eq!(RiskLevel::from_score(40), RiskLevel::Medium);
        assert_eq!(RiskLevel::from_score(69), RiskLevel::Medium);
        assert_eq!(RiskLevel::from_score(70), RiskLevel::High);
        assert_eq!(RiskLevel::from_score(100), RiskLevel::High);
        assert_eq!(RiskLevel::from_score(255), RiskLevel::High);
    }

    #[test]
    fn levels_are_spelled_in_lowercase() {
        assert_eq!(RiskLevel::Low.as_str(), "low");
        assert_eq!(RiskLevel::Medium.as_str(), "medium");
        assert_eq!(RiskLevel::High.as_str(), "high");
    }

    #[test]
    fn levels_deserialize_from_their_lowercase_names() {
        use serde::de::value::{Error, StrDeserializer};
        use serde::Deserialize;
        for level in [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High] {
            let parsed = RiskLevel::deserialize(StrDeserializer::<Error>::new(level.as_str()));
            assert_eq!(parsed.unwrap(), level);
        }
        assert!(RiskLevel::deserialize(StrDeserializer::<Error>::new("High")).is_err());
    }
}
