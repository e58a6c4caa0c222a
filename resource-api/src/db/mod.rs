//! Row structs and queries. Every query on `/v2` data goes through [`Scoped`], which can only
//! be made from a verified principal and filters every read and write by its environment:
//! forgetting the environment filter is not expressible.

pub mod cases;
pub mod credentials;
pub mod records;

use shared::Environment;

use crate::auth::Principal;

/// The environment a request may see. Built from a principal, never from input.
#[derive(Debug, Clone, Copy)]
pub struct Scoped {
    env: Environment,
}

impl Scoped {
    pub fn of(principal: &Principal) -> Scoped {
        Scoped {
            env: principal.environment,
        }
    }

    /// The environment as stored.
    pub fn env(&self) -> &'static str {
        self.env.as_str()
    }
}

/// Encodes a list of ids for a TEXT column.
pub fn ids_to_json(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a TEXT column of ids; a corrupt value reads as empty rather than failing a list.
pub fn ids_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}
