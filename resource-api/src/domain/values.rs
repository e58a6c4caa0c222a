//! The closed sets of `/v2` records: case status and priority, SAR status, watchlist entry and
//! subject type, transaction direction, alert status and severity (risk level is in
//! [`super::risk`], with its rule). Each is one enum with one string mapping, used by the
//! request, the row, the view and the list filter alike: the JSON value (serde), the stored
//! TEXT value (diesel, on SQLite and PostgreSQL) and the OpenAPI `enum` (utoipa) are the same
//! strings, written once in [`text_enum!`].

/// The diesel `Text` mapping (both backends, through `str` and `String`) of a type shown as a
/// string: `as_str` writes it, `$parse` reads it, and a stored value it refuses fails the read.
macro_rules! text_sql {
    ($name:ident, $parse:expr) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                use diesel::deserialize::FromSql;
                let s = <String as FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                ($parse)(s.as_str()).ok_or_else(|| {
                    format!("`{s}` is not a stored {} value", stringify!($name)).into()
                })
            }
        }
    };
}
pub(crate) use text_sql;

/// Declares a closed set of strings: an enum with `as_str`, `ALL`, `FromStr`, `Display`, serde,
/// utoipa's `ToSchema` (an `enum:` of the strings) and diesel's `Text` mapping, which stores
/// exactly those strings on both backends and refuses any other when it reads one.
///
/// Its `Debug` is the quoted string, as `Option<String>` filters printed it before they were
/// typed: a list's name (`pagination::list_name`) carries its filters' `Debug`, so cursors
/// issued before keep working.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order the API lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every value as it is sent and stored, in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The value as it is sent and stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The values as the API lists them: `a, b, c`.
            pub fn listed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        // Written out rather than derived: utoipa's derive does not see a `rename` that comes
        // from a macro, and would list the variant names.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::str::FromStr for $name {
            type Err = $crate::domain::values::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::values::UnknownValue),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.as_str(), f)
            }
        }

        $crate::domain::values::text_sql!($name, |s: &str| s.parse::<$name>().ok());
    };
}
pub(crate) use text_enum;

/// Declares a validated string: a newtype whose private field only `$parse` (in the module
/// that invokes this) fills, shown as the string it holds (serde, the OpenAPI `pattern`) and
/// stored as TEXT; a stored value `$parse` refuses fails the read.
macro_rules! text_newtype {
    ($(#[$meta:meta])* pub struct $name:ident; parse = $parse:path, pattern = $pattern:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, serde::Serialize,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        $crate::domain::values::text_sql!($name, |s: &str| $parse(s).ok());
    };
}
pub(crate) use text_newtype;

/// A string outside a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue;

text_enum! {
    /// What a webhook announces: a record family and what happened to it.
    pub enum EventType {
        CaseCreated = "case.created",
        CaseUpdated = "case.updated",
        CaseAssigned = "case.assigned",
        CaseClosed = "case.closed",
        SarCreated = "sar.created",
        SarUpdated = "sar.updated",
        SarSubmitted = "sar.submitted",
        WatchlistEntryCreated = "watchlist_entry.created",
        WatchlistEntryUpdated = "watchlist_entry.updated",
        WatchlistEntryDeleted = "watchlist_entry.deleted",
        SubjectCreated = "subject.created",
        SubjectUpdated = "subject.updated",
    }
}

text_enum! {
    /// A webhook delivery is `pending` (due now or at `next_attempt_at`) until an attempt
    /// succeeds or the retry schedule is used up (`failed`; a retry by hand makes it pending).
    pub enum DeliveryStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

text_enum! {
    /// Where a case stands. `closed` is reached only through `/close`.
    pub enum CaseStatus {
        Open = "open",
        InReview = "in_review",
        Escalated = "escalated",
        Closed = "closed",
    }
}

text_enum! {
    pub enum CasePriority {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

text_enum! {
    /// A SAR is a `draft` (editable) until it is `submitted` (frozen).
    pub enum SarStatus {
        Draft = "draft",
        Submitted = "submitted",
    }
}

text_enum! {
    /// A watchlist entry's `entry_type` and a subject's `subject_type`.
    pub enum EntryType {
        Person = "person",
        Entity = "entity",
    }
}

text_enum! {
    /// What a case history event records.
    pub enum CaseAction {
        Created = "created",
        Updated = "updated",
        Assigned = "assigned",
        Closed = "closed",
    }
}

text_enum! {
    pub enum Direction {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

text_enum! {
    pub enum AlertStatus {
        Open = "open",
        Closed = "closed",
    }
}

text_enum! {
    pub enum AlertSeverity {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::risk::RiskLevel;
    use crate::domain::values::CaseAction;

    /// The auth server's console validates event names against `shared::webhooks`: the same
    /// set, in the same order.
    #[test]
    fn event_types_are_the_shared_list() {
        assert_eq!(EventType::NAMES, shared::webhooks::EVENT_TYPES);
    }

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr + std::fmt::Display,
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        for v in all {
            let text = v.to_string();
            assert_eq!(text.parse::<T>().ok(), Some(*v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
            assert_eq!(
                serde_json::from_value::<T>(text.clone().into()).unwrap(),
                *v
            );
            assert_eq!(format!("{v:?}"), format!("{text:?}"));
        }
        assert!("Open".parse::<T>().is_err());
        assert!("".parse::<T>().is_err());
        assert!(serde_json::from_value::<T>("nope".into()).is_err());
    }

    #[test]
    fn every_set_has_one_string_mapping() {
        round_trips(CaseStatus::ALL);
        round_trips(CasePriority::ALL);
        round_trips(CaseAction::ALL);
        round_trips(SarStatus::ALL);
        round_trips(EntryType::ALL);
        round_trips(Direction::ALL);
        round_trips(AlertStatus::ALL);
        round_trips(AlertSeverity::ALL);
        round_trips(RiskLevel::ALL);
        assert_eq!(CaseStatus::InReview.as_str(), "in_review");
        assert_eq!(AlertStatus::listed(), "open, closed");
    }
}
