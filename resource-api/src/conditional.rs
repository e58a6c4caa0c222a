//! Optimistic concurrency over HTTP (RFC 9110): the `ETag` of a single record and the
//! `If-Match` precondition of the writes that change one.
//!
//! A record's entity tag is its version, which every write bumps, as a strong tag: `"3"`.
//! `If-Match` is evaluated against the version read inside the write's own transaction
//! (`service::records::update`), so a precondition that held when it was checked still holds when
//! the row is written.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;
use shared::ApiError;

/// A record as one response shows it, with the version its `ETag` is made from.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

impl<T> Versioned<T> {
    pub fn new(value: T, version: i64) -> Self {
        Versioned { value, version }
    }
}

/// The strong entity tag of a version: `"<version>"` with the quotes.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `status` with the record as JSON and its `ETag`.
pub fn respond<T: Serialize>(status: StatusCode, record: &Versioned<T>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(record.version)))
        .json(&record.value)
}

/// The `If-Match` precondition of a write. Absent means unconditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IfMatch {
    #[default]
    Absent,
    /// `*`: any current representation, i.e. the record exists.
    Any,
    /// The entity tags listed, weak ones marked: they never match (§13.1.1 uses the strong
    /// comparison).
    Tags(Vec<EntityTag>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// The opaque tag without its quotes.
    pub tag: String,
}

impl IfMatch {
    /// Whether a record at `version` satisfies the precondition (strong comparison).
    pub fn matches(&self, version: i64) -> bool {
        match self {
            IfMatch::Absent | IfMatch::Any => true,
            IfMatch::Tags(tags) => {
                let current = version.to_string();
                tags.iter().any(|t| !t.weak && t.tag == current)
            }
        }
    }

    /// Parses every `If-Match` field line of a request (lines combine into one list,
    /// RFC 9110 §5.3). `None` when the field is not `*` or a list of entity tags.
    pub fn parse(headers: &HeaderMap) -> Option<IfMatch> {
        let mut lines = headers.get_all(header::IF_MATCH).peekable();
        if lines.peek().is_none() {
            return Some(IfMatch::Absent);
        }
        let mut tags = Vec::new();
        let mut any = false;
        for line in lines {
            let line = line.to_str().ok()?.trim();
            if line == "*" {
                any = true;
            } else {
                tags.extend(parse_tag_list(line)?);
            }
        }
        match (any, tags.is_empty()) {
            (true, true) => Some(IfMatch::Any),
            // `*` is the whole field value or nothing (§13.1.1).
            (true, false) | (false, true) => None,
            (false, false) => Some(IfMatch::Tags(tags)),
        }
    }
}

/// `#entity-tag`: a comma-separated list, empty elements allowed (§5.6.1), at least one tag.
fn parse_tag_list(s: &str) -> Option<Vec<EntityTag>> {
    let mut tags = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let body = rest.strip_prefix('"')?;
        let end = body.find('"')?;
        let tag = &body[..end];
        // etagc = %x21 / %x23-7E (obs-text is not accepted: the tags this API issues are ASCII).
        if !tag.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)) {
            return None;
        }
        tags.push(EntityTag {
            weak,
            tag: tag.to_owned(),
        });
        rest = body[end + 1..].trim_start_matches([' ', '\t']);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// A malformed `If-Match` is refused rather than ignored: a client that sent one expects
/// the write to be conditional, and dropping the condition could overwrite a newer version.
fn malformed() -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        "`If-Match` must be `*` or a list of entity tags such as `\"3\"`.",
    )
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(IfMatch::parse(req.headers()).ok_or_else(malformed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn parse(lines: &[&str]) -> Option<IfMatch> {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(header::IF_MATCH, HeaderValue::from_str(l).unwrap());
        }
        IfMatch::parse(&h)
    }

    fn strong(tag: &str) -> EntityTag {
        EntityTag {
            weak: false,
            tag: tag.into(),
        }
    }

    #[test]
    fn an_absent_field_is_unconditional() {
        assert_eq!(parse(&[]), Some(IfMatch::Absent));
        assert!(IfMatch::Absent.matches(7));
    }

    #[test]
    fn a_star_matches_any_version() {
        assert_eq!(parse(&["*"]), Some(IfMatch::Any));
        assert!(IfMatch::Any.matches(1) && IfMatch::Any.matches(99));
    }

    #[test]
    fn lists_and_repeated_lines_combine() {
        let m = parse(&[r#""1", W/"2""#, r#" "3" ,"#]).unwrap();
        assert_eq!(
            m,
            IfMatch::Tags(vec![
                strong("1"),
                EntityTag {
                    weak: true,
                    tag: "2".into()
                },
                strong("3"),
            ])
        );
        assert!(m.matches(1) && m.matches(3));
        assert!(!m.matches(4));
    }

    #[test]
    fn weak_tags_never_match_under_the_strong_comparison() {
        assert!(!parse(&[r#"W/"5""#]).unwrap().matches(5));
    }

    #[test]
    fn the_tag_is_compared_exactly() {
        let m = parse(&[r#""05""#]).unwrap();
        assert!(!m.matches(5));
        assert!(parse(&[r#""5""#]).unwrap().matches(5));
    }

    #[test]
    fn malformed_fields_are_refused() {
        for bad in [
            "5",
            "\"5",
            "\"5\" \"6\"",
            "*, \"5\"",
            ",",
            "",
            "W/5",
            "\"a b\"",
            "\"5\"x",
        ] {
            assert_eq!(parse(&[bad]), None, "{bad:?}");
        }
        assert_eq!(parse(&["*", "\"5\""]), None);
    }

    #[test]
    fn etags_are_strong_quoted_versions() {
        assert_eq!(etag(12), "\"12\"");
    }
}
