//! Typed values parsed at the edge, and the rules of the `/v2` records.

pub mod risk;
pub mod screening;
pub mod values;

use crate::error::{Error, Result};

pub use shared::random::random_base62;

/// A new opaque id, e.g. `case_…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(20))
}

pub use shared::validate::plausible_id;

pub use crate::pagination::{Page, PageQuery, PageRequest, Pagination};

/// Checks free text (see [`shared::validate::text`]).
pub fn text(field: &'static str, value: &str, required: bool, max: usize) -> Result<String> {
    shared::validate::text(field, value, required, max)
        .map_err(|e| Error::validation(e.field, e.message))
}

/// ISO 3166-1 alpha-2 shape: two ASCII letters, stored upper-case.
pub fn country(value: &str) -> Result<CountryCode> {
    let v = value.trim();
    if v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(CountryCode(v.to_ascii_uppercase()))
    } else {
        Err(Error::validation(
            "country",
            "country must be an ISO 3166-1 alpha-2 code such as GB",
        ))
    }
}

/// The earliest date of birth accepted.
fn earliest_birth() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1850, 1, 1).unwrap_or(chrono::NaiveDate::MIN)
}

/// `YYYY-MM-DD`, a real date from 1850 on (the shape a stored or sent date must have; see
/// [`date_of_birth`] for the check of a new one).
pub fn birth_date(value: &str) -> Result<BirthDate> {
    parse_birth(value).map(|d| BirthDate(d.format("%Y-%m-%d").to_string()))
}

fn parse_birth(value: &str) -> Result<chrono::NaiveDate> {
    let d = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        Error::validation(
            "date_of_birth",
            "date_of_birth must be a date like 1980-04-12",
        )
    })?;
    if d < earliest_birth() {
        return Err(Error::validation(
            "date_of_birth",
            "date_of_birth is out of range",
        ));
    }
    Ok(d)
}

/// A new date of birth: [`birth_date`], and not after `today`.
pub fn date_of_birth(value: &str, today: chrono::NaiveDate) -> Result<BirthDate> {
    let d = parse_birth(value)?;
    if d > today {
        return Err(Error::validation(
            "date_of_birth",
            "date_of_birth is out of range",
        ));
    }
    Ok(BirthDate(d.format("%Y-%m-%d").to_string()))
}

/// The optional `country` and `date_of_birth` of a subject, a watchlist entry or a screen,
/// checked in that order by [`country`] and [`date_of_birth`] (no birth after `now`).
pub fn country_and_birth(
    country: Option<&str>,
    date_of_birth: Option<&str>,
    now: i64,
) -> Result<(Option<CountryCode>, Option<BirthDate>)> {
    let today = shared::time::from_micros(now).date_naive();
    Ok((
        country.map(self::country).transpose()?,
        date_of_birth
            .map(|d| self::date_of_birth(d, today))
            .transpose()?,
    ))
}

values::text_newtype! {
    /// An ISO 3166-1 alpha-2 country code, upper-case (see [`country`]).
    pub struct CountryCode;
    parse = country,
    pattern = "^[A-Z]{2}$"
}

values::text_newtype! {
    /// A date of birth, `YYYY-MM-DD`, from 1850 on (see [`birth_date`]).
    pub struct BirthDate;
    parse = birth_date,
    pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
}

values::text_newtype! {
    /// A money amount: a decimal string, never a float (see [`amount`]).
    pub struct Amount;
    parse = amount,
    pattern = "^[0-9]{1,15}(\\.[0-9]{1,2})?$"
}

values::text_newtype! {
    /// An ISO 4217 currency code in current use (see [`currency`]).
    pub struct Currency;
    parse = currency,
    pattern = "^[A-Z]{3}$"
}

/// A money amount as a decimal string: up to 15 integer digits and 2 decimals, non-negative.
/// Returned canonical (no leading zeros, two decimals are kept as given).
pub fn amount(value: &str) -> Result<Amount> {
    let v = value.trim();
    let err = || {
        Error::validation(
            "amount",
            "amount must be a decimal string such as \"125000.50\" (at most 2 decimals)",
        )
    };
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    if v.contains('.')
        && (frac.is_empty() || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err());
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Ok(Amount(if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }))
}

/// ISO 4217 currency codes in current use.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

pub fn currency(value: &str) -> Result<Currency> {
    let v = value.trim();
    if v.len() == 3 && CURRENCIES.split(' ').any(|c| c == v) {
        Ok(Currency(v.to_owned()))
    } else {
        Err(Error::validation(
            "currency",
            "currency must be an ISO 4217 code such as EUR or USD",
        ))
    }
}

/// A list of subject ids, each plausible, at most 100, deduplicated in order.
pub fn subject_ids(ids: &[String]) -> Result<Vec<String>> {
    if ids.len() > 100 {
        return Err(Error::validation(
            "subject_ids",
            "subject_ids may hold at most 100 ids",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !plausible_id("subj", id) {
            return Err(Error::validation(
                "subject_ids",
                "subject_ids must hold subject ids such as subj_…",
            ));
        }
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_for_shape() {
        assert!(plausible_id("case", "case_abc123"));
        assert!(!plausible_id("case", "case_"));
        assert!(!plausible_id("case", "sar_abc"));
        assert!(!plausible_id("case", "case_a/../b"));
        assert!(!plausible_id("case", "case_a\0"));
        assert!(new_id("case").starts_with("case_"));
        assert!(plausible_id("case", &new_id("case")));
    }

    #[test]
    fn amounts_are_decimal_strings() {
        assert_eq!(amount("125000.50").unwrap().as_str(), "125000.50");
        assert_eq!(amount("007").unwrap().as_str(), "7");
        assert_eq!(
            serde_json::to_value(amount("0.5").unwrap()).unwrap(),
            serde_json::json!("0.5")
        );
        assert!(serde_json::from_value::<Amount>(serde_json::json!("1e5")).is_err());
        assert!(serde_json::from_value::<Currency>(serde_json::json!("XXX")).is_err());
        assert!(amount("1e5").is_err());
        assert!(amount("-5").is_err());
        assert!(amount("1.234").is_err());
        assert!(amount("1.").is_err());
        assert!(amount("").is_err());
        assert!(amount("1234567890123456").is_err());
    }

    #[test]
    fn currencies_and_countries() {
        assert!(currency("EUR").is_ok());
        assert!(currency("eur").is_err());
        assert!(currency("XXX").is_err());
        assert_eq!(country("gb").unwrap().as_str(), "GB");
        assert!(country("GBR").is_err());
    }

    #[test]
    fn dates_of_birth() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(
            date_of_birth("1980-04-12", today).unwrap().as_str(),
            "1980-04-12"
        );
        assert!(date_of_birth("1980-02-30", today).is_err());
        assert!(date_of_birth("2030-01-01", today).is_err());
        assert!(date_of_birth("12/04/1980", today).is_err());
    }
}
