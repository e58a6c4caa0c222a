//! Edge validation both services apply the same way.

/// A value that failed validation, naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Free text: trimmed, non-empty when `required`, at most `max` characters, no control
/// characters other than newline and tab (NUL in particular, which PostgreSQL refuses and
/// which breaks logs and terminals), and no invisible format characters (see [`hidden`]).
pub fn text(
    field: &'static str,
    value: &str,
    required: bool,
    max: usize,
) -> Result<String, FieldError> {
    let err = |message: String| FieldError { field, message };
    let v = value.trim();
    if required && v.is_empty() {
        return Err(err(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(err(format!("{field} must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(err(format!("{field} must not contain control characters")));
    }
    if let Some(c) = v.chars().find(|c| hidden(*c)) {
        return Err(err(format!(
            "{field} must not contain invisible formatting characters (found U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(v.to_owned())
}

/// A Unicode format character (general category `Cf`) other than the zero-width joiner and
/// non-joiner: bidirectional overrides and isolates (`"evil\u{202e}name"` shows reversed in
/// every table), zero-width spaces, word joiners, byte-order marks, soft hyphens, tag
/// characters. They change how text looks without being seen, so that two names that read the
/// same can differ. ZWJ and ZWNJ (U+200D, U+200C) are kept: Persian and Indic names and emoji
/// sequences are spelled with them.
pub fn hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format && c != '\u{200c}' && c != '\u{200d}'
}

/// Whether `id` has the shape of an id with this prefix: `prefix_` then base62, at most 64
/// characters. Anything else (traversal, NUL, SQL, absurd lengths) names no record and never
/// reaches the database.
pub fn plausible_id(prefix: &str, id: &str) -> bool {
    id.len() <= 64
        && id.len() > prefix.len() + 1
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && id[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// Client ids are `app_` + base62. Anything else (control characters, NUL, which PostgreSQL
/// refuses in text, or absurd lengths) names no client and never reaches the database.
pub fn plausible_client_id(id: &str) -> bool {
    plausible_id("app", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_and_clean() {
        assert_eq!(text("name", "  a b ", true, 10).unwrap(), "a b");
        assert_eq!(text("name", " ", true, 10).unwrap_err().field, "name");
        assert!(text("name", "", false, 10).is_ok());
        assert!(text("name", "abcdefghijk", true, 10).is_err());
        assert!(text("name", "a\u{0}b", true, 10).is_err());
        assert!(text("name", "line\nnext", true, 10).is_ok());
    }

    #[test]
    fn invisible_format_characters_are_refused_but_joiners_kept() {
        for bad in [
            "evil\u{202e}name",
            "a\u{202a}b",
            "a\u{2066}b",
            "a\u{200b}b",
            "a\u{200e}b",
            "a\u{2060}b",
            "\u{feff}name",
            "soft\u{ad}hyphen",
            "tag\u{e0041}",
        ] {
            let e = text("name", bad, true, 100).unwrap_err();
            assert!(e.message.contains("invisible"), "{bad:?}: {}", e.message);
        }
        // Persian (ZWNJ), an emoji family (ZWJ), accents and other scripts are names.
        for good in [
            "می\u{200c}خواهم",
            "👨\u{200d}👩\u{200d}👧",
            "Zoë Ångström",
            "李小龍",
        ] {
            assert!(text("name", good, true, 100).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn ids_are_checked_for_shape() {
        assert!(plausible_id("case", "case_abc123"));
        assert!(!plausible_id("case", "case_"));
        assert!(!plausible_id("case", "sar_abc"));
        assert!(!plausible_id("case", "caseXabc"));
        assert!(!plausible_id("case", "case_a/../b"));
        assert!(!plausible_id("case", "case_a\0"));
        assert!(!plausible_id("case", &format!("case_{}", "a".repeat(80))));
    }
}
