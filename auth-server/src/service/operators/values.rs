//! The values of an operator account: its role, email and password (parsed at the edge), and
//! the view the console and the CLI show.

use super::*;

/// Passwords: at least this many characters, at most this many bytes.
pub const MIN_PASSWORD_CHARS: usize = 12;

pub const MAX_PASSWORD_BYTES: usize = 1024;

pub(super) const MAX_EMAIL_LEN: usize = 254;

/// What an operator may do in the console. One string mapping: `admin`, `developer`, `auditor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Developer,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Developer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| "must be admin, developer or auditor".to_owned())
    }
}

/// An operator's email: trimmed, lowercased, one `@` with text on both sides and a dot in the
/// domain, no spaces or control characters, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> std::result::Result<Email, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required".to_owned());
        }
        if email.len() > MAX_EMAIL_LEN {
            return Err(format!("must be at most {MAX_EMAIL_LEN} characters"));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || shared::validate::hidden(c))
        {
            return Err("must not contain spaces, control or invisible characters".to_owned());
        }
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        if !valid {
            return Err("must be an email address such as name@example.com".to_owned());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: at least 12 characters, at most 1024 bytes. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(pub(super) Secret);

impl Password {
    pub fn parse(raw: &str) -> std::result::Result<Password, String> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
        }
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        Ok(Password(Secret::new(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What pages and the CLI show of an operator. Never a hash, a setup digest or a TOTP secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub totp_enabled: bool,
    pub disabled: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl OperatorView {
    /// The view of a row; a role the code does not know is an internal error.
    pub fn from_row(row: &OperatorRow) -> Result<OperatorView> {
        Ok(OperatorView {
            id: row.id.clone(),
            email: row.email.clone(),
            role: row
                .role
                .parse()
                .map_err(|_| Error::Internal(format!("operator {} has an unknown role", row.id)))?,
            totp_enabled: row.totp_enabled,
            disabled: row.disabled,
            created_at: shared::time::rfc3339(row.created_at),
        })
    }
}

/// A created operator, with the one-time setup token when no password was given.
#[derive(Debug)]
pub struct Created {
    pub operator: OperatorView,
    /// Shown once, as `{AUTH_ISSUER}/console/setup?token=…`; only its digest is stored.
    pub setup_token: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_have_one_string_mapping() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::String(role.to_string())
            );
        }
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
            "ada@example.com.",
            "ad\u{202e}a@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_have_bounds_and_a_redacting_debug() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(11)).is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(p.expose(), "correct horse battery");
        assert!(!format!("{p:?}").contains("horse"));
        assert!(Password::parse(&"é".repeat(12)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
