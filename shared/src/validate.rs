//! Edge validation both services apply the same way.

/// A value that failed validation, naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Free text: trimmed, non-empty when `required`, at most `max` characters, and no control
/// characters other than newline and tab (NUL in particular, which PostgreSQL refuses and
/// which breaks logs and terminals).
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
    Ok(v.to_owned())
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
