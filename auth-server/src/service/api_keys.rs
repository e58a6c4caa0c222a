//! API keys: static bearer keys for developers, scripts and CI. The plaintext is returned once
//! at creation; the database holds its SHA-256 digest and a masked form.

use diesel::Connection;
use serde::{Deserialize, Serialize};
use shared::changes::ChangeKind;
use shared::db::Db;
use shared::{ApiKey, Environment, ScopeSet, Tier};
use utoipa::ToSchema;

use serde_json::json;

use super::applications::{parse_environment, parse_scopes, parse_tier};
use super::audit::{self, AuditContext, AuditEvent, Feed};
use super::{clean_text, random_base62};
use crate::db::api_keys::ApiKeyRow;
use crate::error::{Error, Result};

/// `POST /admin/api-keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub description: Option<String>,
    /// `sandbox` or `live` (required: contract §3.4).
    #[schema(value_type = Environment)]
    pub environment: String,
    #[schema(value_type = Vec<shared::Scope>)]
    pub scopes: Vec<String>,
    /// Rate-limit tier (default `standard`).
    #[schema(value_type = Option<Tier>)]
    pub tier: Option<String>,
    /// RFC 3339; must be in the future.
    pub expires_at: Option<String>,
}

/// An API key as the admin API shows it. Never the key or its digest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub environment: Environment,
    #[schema(value_type = Vec<shared::Scope>)]
    pub scopes: ScopeSet,
    pub tier: Tier,
    pub masked_token: String,
    #[schema(required = true)]
    pub expires_at: Option<String>,
    #[schema(required = true)]
    pub last_used_at: Option<String>,
    pub created_at: String,
    #[schema(required = true)]
    pub revoked_at: Option<String>,
    /// The console operator who owns it (a developer's own sandbox key); absent for
    /// ops-managed keys. An additive field beside the contract's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owner_id: Option<String>,
}

/// The answer to create: the view plus the plaintext key, shown this once. Its `Debug` redacts
/// the key.
#[derive(Clone, Serialize, ToSchema)]
pub struct ApiKeyWithSecret {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    pub key: String,
}

impl std::fmt::Debug for ApiKeyWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyWithSecret")
            .field("api_key", &self.api_key)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub description: String,
    pub environment: Environment,
    pub scopes: ScopeSet,
    pub tier: Tier,
    pub expires_at: Option<i64>,
    /// The operator who will own it: set by the console for a developer's key, never from the
    /// admin API's JSON (`None`: ops-managed).
    pub owner_id: Option<String>,
}

/// Which keys [`list`] returns; `None` leaves a dimension open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyFilter {
    pub environment: Option<Environment>,
    /// `Some(true)`: revoked keys only; `Some(false)`: unrevoked only.
    pub revoked: Option<bool>,
    pub owner_id: Option<String>,
}

/// The furthest ahead an API key may expire: 10 years (and every expiry then renders as a
/// four-digit-year RFC 3339 timestamp).
pub const MAX_KEY_LIFETIME_MICROS: i64 = 10 * 366 * 24 * 3600 * 1_000_000;

impl CreateApiKey {
    /// Validates into a [`NewApiKey`]; `now` decides whether `expires_at` is in the future.
    pub fn validate(self, now: i64) -> Result<NewApiKey> {
        let expires_at = match self.expires_at.as_deref() {
            None => None,
            Some(s) => {
                let t = shared::time::parse_rfc3339(s).ok_or_else(|| {
                    Error::validation("expires_at", "expires_at must be an RFC 3339 timestamp")
                })?;
                if t <= now {
                    return Err(Error::validation(
                        "expires_at",
                        "expires_at must be in the future",
                    ));
                }
                if t - now > MAX_KEY_LIFETIME_MICROS {
                    return Err(Error::validation(
                        "expires_at",
                        "expires_at must be at most 10 years ahead",
                    ));
                }
                Some(t)
            }
        };
        Ok(NewApiKey {
            name: clean_text("name", &self.name, true, 200)?,
            description: clean_text(
                "description",
                self.description.as_deref().unwrap_or(""),
                false,
                2000,
            )?,
            environment: parse_environment(&self.environment)?,
            scopes: parse_scopes("scopes", &self.scopes)?,
            tier: match self.tier.as_deref() {
                None => Tier::default(),
                Some(t) => parse_tier(t)?,
            },
            expires_at,
            owner_id: None,
        })
    }
}

impl ApiKeyView {
    pub fn from_row(row: &ApiKeyRow) -> Result<Self> {
        let corrupt =
            |what: &str| Error::Internal(format!("api key {} has a corrupt {what}", row.id));
        Ok(ApiKeyView {
            id: row.id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            environment: row
                .environment
                .parse()
                .map_err(|_| corrupt("environment"))?,
            scopes: ScopeSet::parse_delimited(&row.scopes).map_err(|_| corrupt("scope list"))?,
            tier: row.tier.parse().map_err(|_| corrupt("tier"))?,
            masked_token: row.masked_token.clone(),
            expires_at: row.expires_at.map(shared::time::rfc3339),
            last_used_at: row.last_used_at.map(shared::time::rfc3339),
            created_at: shared::time::rfc3339(row.created_at),
            revoked_at: row.revoked_at.map(shared::time::rfc3339),
            owner_id: row.owner_id.clone(),
        })
    }
}

/// Ids look like `key_` + base62; anything else names no key.
fn plausible_id(id: &str) -> bool {
    shared::validate::plausible_id("key", id)
}

pub async fn create(
    db: &Db,
    ctx: &AuditContext,
    new: NewApiKey,
    now: i64,
) -> Result<ApiKeyWithSecret> {
    let key = ApiKey::generate(new.environment);
    let row = ApiKeyRow {
        id: format!("key_{}", random_base62(20)),
        name: new.name,
        description: new.description,
        environment: new.environment.as_str().to_owned(),
        scopes: new.scopes.to_delimited(),
        tier: new.tier.as_str().to_owned(),
        key_digest: key.digest().into_string(),
        masked_token: key.masked(),
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
        created_at: now,
        updated_at: now,
        owner_id: new.owner_id,
    };
    let to_insert = row.clone();
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "api_key.create",
        &row.id,
        json!({"name": row.name, "environment": row.environment, "scopes": row.scopes,
               "tier": row.tier, "expires_at": row.expires_at.map(shared::time::rfc3339),
               "masked_token": row.masked_token, "owner_id": row.owner_id}),
    );
    // A resource API that saw this digest as unknown forgets that at once.
    db.run(move |c| {
        c.transaction(|c| {
            ApiKeyRow::insert(c, &to_insert)?;
            let feed = Feed::Credential(ChangeKind::ApiKey, &to_insert.key_digest);
            audit::change(c, &ctx, feed, &event, now)
        })
    })
    .await?;
    Ok(ApiKeyWithSecret {
        api_key: ApiKeyView::from_row(&row)?,
        key: key.expose().to_owned(),
    })
}

pub async fn get(db: &Db, id: &str) -> Result<ApiKeyView> {
    if !plausible_id(id) {
        return Err(Error::NotFound("API key"));
    }
    let id = id.to_owned();
    let row = db
        .run(move |c| ApiKeyRow::find(c, &id))
        .await?
        .ok_or(Error::NotFound("API key"))?;
    ApiKeyView::from_row(&row)
}

/// Keys matching `filter`, newest first.
pub async fn list(db: &Db, filter: &ApiKeyFilter) -> Result<Vec<ApiKeyView>> {
    let filter = crate::db::api_keys::ApiKeyFilter {
        environment: filter.environment.map(|e| e.as_str().to_owned()),
        revoked: filter.revoked,
        owner_id: filter.owner_id.clone(),
    };
    let rows = db.run(move |c| ApiKeyRow::list(c, &filter)).await?;
    rows.iter().map(ApiKeyView::from_row).collect()
}

/// Revokes a key. Revoking a revoked key is fine; an unknown id is `NotFound`.
pub async fn revoke(db: &Db, ctx: &AuditContext, id: &str, now: i64) -> Result<()> {
    get(db, id).await?;
    let id = id.to_owned();
    let ctx = ctx.clone();
    let event = AuditEvent::success("api_key.revoke", &id, json!({}));
    db.run(move |c| {
        c.transaction(|c| {
            if ApiKeyRow::revoke(c, &id, now)? > 0 {
                // The row was just updated in this transaction: it is there.
                if let Some(row) = ApiKeyRow::find(c, &id)? {
                    let feed = Feed::Credential(ChangeKind::ApiKey, &row.key_digest);
                    audit::change(c, &ctx, feed, &event, now)?;
                }
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_new_key_hides_the_key() {
        let created = ApiKeyWithSecret {
            api_key: ApiKeyView {
                id: "key_x".into(),
                name: "ci".into(),
                description: String::new(),
                environment: Environment::Sandbox,
                scopes: ScopeSet::new(),
                tier: Tier::default(),
                masked_token: "cf_sand_…".into(),
                expires_at: None,
                last_used_at: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                revoked_at: None,
                owner_id: None,
            },
            key: "cf_sand_plaintext".into(),
        };
        let printed = format!("{created:?}");
        assert!(
            printed.contains("key_x") && !printed.contains("plaintext"),
            "{printed}"
        );
    }

    fn req() -> CreateApiKey {
        CreateApiKey {
            name: "ci".into(),
            description: None,
            environment: "sandbox".into(),
            scopes: vec!["cases:read".into()],
            tier: None,
            expires_at: None,
        }
    }

    #[test]
    fn expiry_must_be_a_future_rfc3339_time() {
        let now = shared::time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let mut r = req();
        r.expires_at = Some("2025-01-01T00:00:00Z".into());
        assert!(matches!(
            r.validate(now),
            Err(Error::Validation {
                field: "expires_at",
                ..
            })
        ));
        let mut r = req();
        r.expires_at = Some("next week".into());
        assert!(matches!(
            r.validate(now),
            Err(Error::Validation {
                field: "expires_at",
                ..
            })
        ));
        let mut r = req();
        r.expires_at = Some("2027-01-01T00:00:00Z".into());
        assert!(r.clone().validate(now).unwrap().expires_at.is_some());
        r.expires_at = Some("9999-12-31T23:59:59Z".into());
        assert!(matches!(
            r.validate(now),
            Err(Error::Validation {
                field: "expires_at",
                ..
            })
        ));
    }

    #[test]
    fn empty_name_and_bad_environment_are_rejected() {
        let mut r = req();
        r.name = String::new();
        assert!(matches!(
            r.validate(0),
            Err(Error::Validation { field: "name", .. })
        ));
        let mut r = req();
        r.environment = "prod".into();
        assert!(matches!(
            r.validate(0),
            Err(Error::Validation {
                field: "environment",
                ..
            })
        ));
    }

    #[test]
    fn ids_are_checked_before_lookup() {
        assert!(plausible_id("key_abc123"));
        assert!(!plausible_id("../etc/passwd"));
        assert!(!plausible_id("key_'; DROP TABLE"));
    }
}
