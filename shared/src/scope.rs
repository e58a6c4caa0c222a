//! OAuth scopes: one enum, one string mapping, space-delimited sets (RFC 6749 §3.3).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! scopes {
    ($($variant:ident => $name:literal, $description:literal),+ $(,)?) => {
        /// A permission on the `/v2` API. The string form is the only one on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Scope { $($variant),+ }

        impl Scope {
            /// Every scope, in a stable order.
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),+];

            /// The wire name, e.g. `cases:read`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name),+ }
            }

            /// What the scope allows, for people (the OpenAPI documents' OAuth 2.0 scopes).
            pub const fn description(self) -> &'static str {
                match self { $(Scope::$variant => $description),+ }
            }
        }

        impl FromStr for Scope {
            type Err = UnknownScope;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Scope::$variant),)+
                    other => Err(UnknownScope(truncate_for_message(other))),
                }
            }
        }
    };
}

scopes! {
    CasesRead => "cases:read", "Read cases and their history.",
    CasesWrite => "cases:write", "Open, change, assign and close cases.",
    SarRead => "sar:read", "Read suspicious activity reports.",
    SarWrite => "sar:write", "Draft, change and submit suspicious activity reports.",
    WatchlistRead => "watchlist:read", "Read the watchlist and screen names against it.",
    WatchlistWrite => "watchlist:write", "Add, change and remove watchlist entries.",
    SubjectsRead => "subjects:read", "Read subjects and their risk profiles.",
    SubjectsWrite => "subjects:write", "Create and change subjects.",
    TransactionsRead => "transactions:read", "Read transactions.",
    AlertsRead => "alerts:read", "Read alerts.",
    WebhooksRead => "webhooks:read", "Read webhook endpoints and their delivery log.",
    WebhooksWrite => "webhooks:write", "Register, change, remove and retry webhook endpoints and rotate their secrets.",
}

/// A scope string that names no known scope. Carries the offending value (shortened) so the
/// error message can name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

/// Long attacker-supplied values are cut before they are echoed in an error message.
fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// The OpenAPI `Scope` component: a string enum of every wire name, so both documents (and
/// the clients generated from them) know the closed set.
impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A permission on the `/v2` API (see the OAuth 2.0 scheme's scopes).",
            ))
            .enum_values(Some(Scope::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for Scope {
    fn name() -> std::borrow::Cow<'static, str> {
        "Scope".into()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of scopes. On the wire it is a JSON array of scope names; inside tokens and in the
/// database it is the RFC 6749 space-delimited string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an RFC 6749 `scope` value: scope names separated by single spaces. Runs of
    /// spaces and surrounding whitespace are tolerated; any unknown name is an error.
    pub fn parse_delimited(s: &str) -> Result<Self, UnknownScope> {
        s.split(' ')
            .filter(|part| !part.is_empty())
            .map(Scope::from_str)
            .collect()
    }

    /// The space-delimited form, in a stable order.
    pub fn to_delimited(&self) -> String {
        let mut out = String::new();
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(scope.as_str());
        }
        out
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The scopes in both sets: what a token still grants once its application lost scopes.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.intersection(&other.0).copied().collect())
    }

    /// The scopes of `self` that `other` lacks, for error messages.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.difference(&other.0).copied().collect())
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_delimited())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let scopes = Vec::<Scope>::deserialize(d)?;
        Ok(scopes.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn there_are_exactly_the_twelve_contract_scopes() {
        assert_eq!(Scope::ALL.len(), 12);
        let names: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert!(names.contains(&"transactions:read"));
        assert!(names.contains(&"alerts:read"));
        assert!(names.contains(&"webhooks:read"));
        assert!(names.contains(&"webhooks:write"));
    }

    #[test]
    fn unknown_scope_is_a_typed_error_naming_it() {
        let err = "cases:delete".parse::<Scope>().unwrap_err();
        assert_eq!(err, UnknownScope("cases:delete".into()));
        assert!(ScopeSet::parse_delimited("cases:read admin").is_err());
    }

    #[test]
    fn scope_names_are_case_sensitive() {
        assert!("Cases:Read".parse::<Scope>().is_err());
    }

    #[test]
    fn delimited_parsing_tolerates_extra_spaces_and_dedupes() {
        let set = ScopeSet::parse_delimited("  sar:read  cases:read sar:read ").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_delimited(), "cases:read sar:read");
        assert!(ScopeSet::parse_delimited("").unwrap().is_empty());
    }

    #[test]
    fn json_form_is_an_array_and_rejects_unknown_names() {
        let set: ScopeSet = serde_json::from_str(r#"["cases:write","alerts:read"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["cases:write","alerts:read"]"#
        );
        assert!(serde_json::from_str::<ScopeSet>(r#"["nope"]"#).is_err());
        assert!(serde_json::from_str::<ScopeSet>(r#""cases:read""#).is_err());
    }

    #[test]
    fn very_long_unknown_scope_is_truncated_in_the_error() {
        let long = "x".repeat(10_000);
        let err = long.parse::<Scope>().unwrap_err();
        assert!(err.0.chars().count() <= 65);
    }

    proptest! {
        #[test]
        fn every_scope_round_trips(idx in 0..Scope::ALL.len()) {
            let scope = Scope::ALL[idx];
            prop_assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            prop_assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }

        #[test]
        fn every_scope_set_round_trips(mask in 0u16..1024) {
            let set: ScopeSet = Scope::ALL.iter().enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| *s).collect();
            prop_assert_eq!(ScopeSet::parse_delimited(&set.to_delimited()).unwrap(), set.clone());
            let json = serde_json::to_string(&set).unwrap();
            prop_assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), set);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,200}") {
            let _ = ScopeSet::parse_delimited(&s);
        }
    }
}
