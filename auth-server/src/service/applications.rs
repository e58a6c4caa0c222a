//! Applications (OAuth clients): validation of admin input and the operations the admin API
//! and the CLI share.

use diesel::Connection;
use serde::{Deserialize, Serialize};
use shared::changes::ChangeKind;

use serde_json::{json, Value};
use shared::jose::PublicJwkSet;

use super::audit::{self, AuditContext, AuditEvent, Feed};
use shared::db::Db;
use shared::{Environment, Scope, ScopeSet, Tier};
use utoipa::ToSchema;

use super::{clean_text, random_base62, secrets};
use crate::db::applications::{ApplicationChanges, ApplicationRow, Rotation, NO_SECRET};
use crate::error::{Error, Result};

/// The longest grace period a rotated secret may keep working.
pub const MAX_GRACE_PERIOD_SECS: i64 = 7 * 24 * 3600;

/// `POST /admin/applications`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    pub name: String,
    pub description: Option<String>,
    /// Scope names the application may request.
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
    /// `sandbox` (the default, `Environment::DEFAULT_FOR_NEW_CREDENTIALS`) or `live`.
    #[schema(value_type = Option<Environment>)]
    pub environment: Option<String>,
    /// Rate-limit tier (default `standard`).
    #[schema(value_type = Option<Tier>)]
    pub tier: Option<String>,
    /// May introspect tokens of other applications (RFC 7662 §4; default false).
    pub introspection: Option<bool>,
    /// RFC 7591: `client_secret_basic` (default), `client_secret_post` or `private_key_jwt`.
    pub token_endpoint_auth_method: Option<String>,
    /// RFC 7591 `jwks` (`{"keys": [...]}`, public keys only): required for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2; default false).
    pub dpop_bound_access_tokens: Option<bool>,
}

/// RFC 7591 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Every method, as metadata advertises them.
    pub const ALL: [&'static str; 3] = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(value: &str) -> Result<AuthMethod> {
        match value {
            "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
            _ => Err(Error::validation(
                "token_endpoint_auth_method",
                "token_endpoint_auth_method must be client_secret_basic, client_secret_post or private_key_jwt",
            )),
        }
    }
}

/// Parses a JWKS given by an admin (422 naming `jwks` and the key at fault).
pub fn parse_jwks(value: &Value) -> Result<PublicJwkSet> {
    PublicJwkSet::parse(value).map_err(|e| Error::validation("jwks", e.0))
}

/// A registered key as the admin API, the CLI and the console show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeySummary {
    pub kid: Option<String>,
    /// The one algorithm the key verifies: ES256, EdDSA or PS256.
    pub alg: String,
    /// RFC 7638 SHA-256 thumbprint (base64url).
    pub thumbprint: String,
}

/// `PATCH /admin/applications/{client_id}`: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchApplication {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Vec<String>>,
    #[schema(value_type = Option<Tier>)]
    pub tier: Option<String>,
    pub disabled: Option<bool>,
    pub introspection: Option<bool>,
    /// Replaces the registered keys of a `private_key_jwt` application (rotation: register
    /// the new key beside the old one, then remove the old one).
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// `client_secret_basic` ⇄ `client_secret_post` for an application with a secret.
    pub token_endpoint_auth_method: Option<String>,
    pub dpop_bound_access_tokens: Option<bool>,
}

/// `POST /admin/applications/{client_id}/rotate-secret`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps working, in seconds (at most 7 days); `0` ends it at once.
    /// Omitted: the old secret keeps working until the new one is first used (at most 7 days),
    /// so that a rotation whose answer was lost never locks the application out.
    pub grace_period_seconds: Option<i64>,
    /// Also refuse every token issued before now (as `revoke-tokens`).
    pub revoke_tokens: Option<bool>,
}

/// An application as the admin API shows it. Never a secret or a hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Application)]
pub struct ApplicationView {
    pub client_id: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: ScopeSet,
    pub environment: Environment,
    pub tier: Tier,
    pub grant_types: Vec<String>,
    pub disabled: bool,
    /// Disabled by an admin: only an admin may enable it (the console's rule; not part of the
    /// admin API's JSON).
    #[serde(skip)]
    pub disabled_by_admin: bool,
    /// May introspect tokens of other applications.
    pub introspection: bool,
    /// Tokens issued before this instant are refused (RFC 3339), if "revoke all tokens" was used.
    #[schema(format = DateTime, required = true)]
    pub tokens_not_before: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The console operator who owns it (a developer's own sandbox application); absent for
    /// ops-managed applications. An additive field beside the contract's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub owner_id: Option<String>,
    /// When it was last issued a token (RFC 3339; written in batches, so it may lag by
    /// `LAST_USED_FLUSH_SECS`); absent if never. An additive field beside the contract's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_token_at: Option<String>,
    /// RFC 7591: `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub token_endpoint_auth_method: String,
    /// The registered public keys of a `private_key_jwt` application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Key id, algorithm and thumbprint of each registered key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeySummary>,
    /// Every token request must carry a DPoP proof.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

/// The answer to create and rotate: the view plus the secret, shown this once (none for a
/// `private_key_jwt` application). Its `Debug` redacts the secret.
#[derive(Clone, Serialize, ToSchema)]
pub struct ApplicationWithSecret {
    #[serde(flatten)]
    pub application: ApplicationView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ApplicationWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationWithSecret")
            .field("application", &self.application)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

/// Parses a list of scope names, naming the first unknown one.
pub fn parse_scopes(field: &'static str, names: &[String]) -> Result<ScopeSet> {
    if names.len() > 64 {
        return Err(Error::validation(
            field,
            format!("{field} has too many entries"),
        ));
    }
    names
        .iter()
        .map(|n| {
            n.parse::<Scope>()
                .map_err(|e| Error::validation(field, format!("{field}: {e}")))
        })
        .collect()
}

pub fn parse_environment(value: &str) -> Result<Environment> {
    value
        .parse()
        .map_err(|_| Error::validation("environment", "environment must be `live` or `sandbox`"))
}

pub fn parse_tier(value: &str) -> Result<Tier> {
    value.parse().map_err(|_| {
        Error::validation(
            "tier",
            "tier must be one of basic, standard, professional, enterprise, unlimited",
        )
    })
}

/// An application must be able to ask for something: at least one scope, unless it is granted
/// introspection (a resource server that only introspects tokens needs none). Checked on
/// create and when a change empties the list, in the admin API, the CLI and the console alike.
pub fn require_a_scope(scopes: &ScopeSet, introspection: bool) -> Result<()> {
    if scopes.is_empty() && !introspection {
        return Err(Error::validation(
            "scopes",
            "choose at least one scope (an application without one cannot be granted anything)",
        ));
    }
    Ok(())
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub name: String,
    pub description: String,
    pub scopes: ScopeSet,
    pub environment: Environment,
    pub tier: Tier,
    pub introspection: bool,
    /// The operator who will own it: set by the console for a developer's application, never
    /// from the admin API's JSON (`None`: ops-managed).
    pub owner_id: Option<String>,
    pub auth_method: AuthMethod,
    /// The keys of a `private_key_jwt` application (always present for one, never otherwise).
    pub jwks: Option<PublicJwkSet>,
    pub dpop_bound_access_tokens: bool,
}

/// Which applications [`list`] returns; `None` leaves a dimension open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationFilter {
    pub environment: Option<Environment>,
    pub disabled: Option<bool>,
    pub owner_id: Option<String>,
}

impl CreateApplication {
    pub fn validate(self) -> Result<NewApplication> {
        let new = NewApplication {
            name: clean_text("name", &self.name, true, 200)?,
            description: clean_text(
                "description",
                self.description.as_deref().unwrap_or(""),
                false,
                2000,
            )?,
            scopes: parse_scopes("scopes", &self.scopes)?,
            environment: match self.environment.as_deref() {
                None => Environment::DEFAULT_FOR_NEW_CREDENTIALS,
                Some(e) => parse_environment(e)?,
            },
            tier: match self.tier.as_deref() {
                None => Tier::default(),
                Some(t) => parse_tier(t)?,
            },
            introspection: self.introspection.unwrap_or(false),
            owner_id: None,
            auth_method: match self.token_endpoint_auth_method.as_deref() {
                None => AuthMethod::ClientSecretBasic,
                Some(m) => AuthMethod::parse(m)?,
            },
            jwks: self.jwks.as_ref().map(parse_jwks).transpose()?,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
        };
        require_a_scope(&new.scopes, new.introspection)?;
        match (new.auth_method, &new.jwks) {
            (AuthMethod::PrivateKeyJwt, None) => {
                return Err(Error::validation(
                    "jwks",
                    "private_key_jwt needs jwks: the public keys the client signs with",
                ))
            }
            (AuthMethod::PrivateKeyJwt, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(Error::validation(
                    "jwks",
                    "jwks is for token_endpoint_auth_method private_key_jwt only",
                ))
            }
        }
        Ok(new)
    }
}

impl ApplicationView {
    pub fn from_row(row: &ApplicationRow) -> Result<Self> {
        let corrupt = |what: &str| {
            Error::Internal(format!(
                "application {} has a corrupt {what}",
                row.client_id
            ))
        };
        let jwks = match &row.jwks {
            None => None,
            Some(text) => Some(PublicJwkSet::from_stored(text).ok_or_else(|| corrupt("jwks"))?),
        };
        Ok(ApplicationView {
            client_id: row.client_id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            scopes: ScopeSet::parse_delimited(&row.scopes).map_err(|_| corrupt("scope list"))?,
            environment: row
                .environment
                .parse()
                .map_err(|_| corrupt("environment"))?,
            tier: row.tier.parse().map_err(|_| corrupt("tier"))?,
            grant_types: vec!["client_credentials".to_owned()],
            disabled: row.disabled,
            disabled_by_admin: row.disabled_by_admin,
            introspection: row.introspection,
            tokens_not_before: row.tokens_not_before.map(shared::time::rfc3339),
            created_at: shared::time::rfc3339(row.created_at),
            updated_at: shared::time::rfc3339(row.updated_at),
            owner_id: row.owner_id.clone(),
            last_token_at: row.last_token_at.map(shared::time::rfc3339),
            token_endpoint_auth_method: row.token_endpoint_auth_method.clone(),
            jwks: jwks.as_ref().map(PublicJwkSet::to_value),
            keys: jwks
                .iter()
                .flat_map(PublicJwkSet::keys)
                .map(|k| KeySummary {
                    kid: k.kid().map(str::to_owned),
                    alg: format!("{:?}", k.algorithm()),
                    thumbprint: k.thumbprint().to_owned(),
                })
                .collect(),
            dpop_bound_access_tokens: row.dpop_bound_access_tokens,
        })
    }
}

pub async fn create(
    db: &Db,
    ctx: &AuditContext,
    new: NewApplication,
    now: i64,
) -> Result<ApplicationWithSecret> {
    // A key-registered application has no secret: none is generated, shown or accepted.
    let (secret, hash) = match new.auth_method {
        AuthMethod::PrivateKeyJwt => (None, NO_SECRET.to_owned()),
        _ => {
            let (secret, hash) = secrets::generate_client_secret().into_parts();
            (Some(secret), hash.into_string())
        }
    };
    let jwks = new.jwks.as_ref().map(|j| j.to_value().to_string());
    let row = ApplicationRow {
        client_id: format!("app_{}", random_base62(24)),
        name: new.name,
        description: new.description,
        scopes: new.scopes.to_delimited(),
        environment: new.environment.as_str().to_owned(),
        tier: new.tier.as_str().to_owned(),
        secret_hash: hash,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        disabled: false,
        deleted_at: None,
        created_at: now,
        updated_at: now,
        tokens_not_before: None,
        previous_secret_until_used: false,
        introspection: new.introspection,
        owner_id: new.owner_id,
        last_token_at: None,
        disabled_by_admin: false,
        token_endpoint_auth_method: new.auth_method.as_str().to_owned(),
        jwks,
        dpop_bound_access_tokens: new.dpop_bound_access_tokens,
    };
    let to_insert = row.clone();
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "application.create",
        &row.client_id,
        json!({"name": row.name, "environment": row.environment, "scopes": row.scopes,
               "tier": row.tier, "introspection": row.introspection, "owner_id": row.owner_id,
               "token_endpoint_auth_method": row.token_endpoint_auth_method,
               "key_thumbprints": key_thumbprints(new.jwks.as_ref()),
               "dpop_bound_access_tokens": row.dpop_bound_access_tokens}),
    );
    db.run(move |c| {
        c.transaction(|c| {
            ApplicationRow::insert(c, &to_insert)?;
            let feed = Feed::Credential(ChangeKind::App, &to_insert.client_id);
            audit::change(c, &ctx, feed, &event, now)
        })
    })
    .await?;
    Ok(ApplicationWithSecret {
        application: ApplicationView::from_row(&row)?,
        client_secret: secret.map(|s| s.expose().to_owned()),
    })
}

/// The thumbprints of a key set, for the audit trail (public values, never key material).
fn key_thumbprints(jwks: Option<&PublicJwkSet>) -> Option<Vec<String>> {
    jwks.map(|j| j.keys().iter().map(|k| k.thumbprint().to_owned()).collect())
}

pub async fn get(db: &Db, client_id: &str) -> Result<ApplicationView> {
    if !shared::validate::plausible_client_id(client_id) {
        return Err(Error::NotFound("application"));
    }
    let id = client_id.to_owned();
    let row = db
        .run(move |c| ApplicationRow::find(c, &id))
        .await?
        .ok_or(Error::NotFound("application"))?;
    ApplicationView::from_row(&row)
}

/// Client ids whose stored secret is still bcrypt (rows from before digests). Each is replaced
/// by its digest at the client's next successful authentication; only the client knows the
/// secret, so nothing else can migrate it (`auth-server app migrate-secrets` reports them;
/// rotating the secret also replaces it).
pub async fn with_legacy_secrets(db: &Db) -> Result<Vec<String>> {
    Ok(db
        .run(|c| {
            ApplicationRow::with_legacy_secrets(c, shared::secret::CLIENT_SECRET_DIGEST_PREFIX)
        })
        .await?)
}

/// Applications matching `filter`, newest first.
pub async fn list(db: &Db, filter: &ApplicationFilter) -> Result<Vec<ApplicationView>> {
    let filter = crate::db::applications::ApplicationFilter {
        environment: filter.environment.map(|e| e.as_str().to_owned()),
        disabled: filter.disabled,
        owner_id: filter.owner_id.clone(),
    };
    let rows = db.run(move |c| ApplicationRow::list(c, &filter)).await?;
    rows.iter().map(ApplicationView::from_row).collect()
}

/// Who makes a change to an application: an admin (console admin, admin API, CLI) or the
/// developer who owns it (console). An admin's disable can be undone only by an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    Admin,
    Owner,
}

/// Changes an application. Disabling also ends every token issued before now (as
/// `revoke-tokens`), so that enabling it again does not revive them.
pub async fn patch(
    db: &Db,
    ctx: &AuditContext,
    client_id: &str,
    patch: PatchApplication,
    by: ChangedBy,
    now: i64,
) -> Result<ApplicationView> {
    if !shared::validate::plausible_client_id(client_id) {
        return Err(Error::NotFound("application"));
    }
    let new_jwks = patch.jwks.as_ref().map(parse_jwks).transpose()?;
    let new_method = patch
        .token_endpoint_auth_method
        .as_deref()
        .map(AuthMethod::parse)
        .transpose()?;
    if new_jwks.is_some() || new_method.is_some() {
        let current = AuthMethod::parse(&get(db, client_id).await?.token_endpoint_auth_method)
            .map_err(|_| Error::Internal("corrupt token_endpoint_auth_method".into()))?;
        let key_app = current == AuthMethod::PrivateKeyJwt;
        if new_jwks.is_some() && !key_app {
            return Err(Error::validation(
                "jwks",
                "jwks is for private_key_jwt applications only; create a new application to move from a secret to keys",
            ));
        }
        if new_method.is_some_and(|m| (m == AuthMethod::PrivateKeyJwt) != key_app) {
            return Err(Error::validation(
                "token_endpoint_auth_method",
                "an application cannot switch between a secret and private_key_jwt; create a new application",
            ));
        }
    }
    let thumbprints = key_thumbprints(new_jwks.as_ref());
    let changes = ApplicationChanges {
        name: patch
            .name
            .as_deref()
            .map(|n| clean_text("name", n, true, 200))
            .transpose()?,
        description: patch
            .description
            .as_deref()
            .map(|d| clean_text("description", d, false, 2000))
            .transpose()?,
        scopes: match patch.scopes.as_deref() {
            None => None,
            Some(names) => {
                let scopes = parse_scopes("scopes", names)?;
                if scopes.is_empty() {
                    let introspection = match patch.introspection {
                        Some(i) => i,
                        None => get(db, client_id).await?.introspection,
                    };
                    require_a_scope(&scopes, introspection)?;
                }
                Some(scopes.to_delimited())
            }
        },
        tier: patch
            .tier
            .as_deref()
            .map(|t| parse_tier(t).map(|t| t.as_str().to_owned()))
            .transpose()?,
        disabled: patch.disabled,
        disabled_by_admin: match patch.disabled {
            Some(true) => Some(by == ChangedBy::Admin),
            Some(false) => Some(false),
            None => None,
        },
        introspection: patch.introspection,
        tokens_not_before: (patch.disabled == Some(true)).then_some(Some(now)),
        jwks: new_jwks.map(|j| Some(j.to_value().to_string())),
        token_endpoint_auth_method: new_method.map(|m| m.as_str().to_owned()),
        dpop_bound_access_tokens: patch.dpop_bound_access_tokens,
        updated_at: now,
    };
    let id = client_id.to_owned();
    let ctx = ctx.clone();
    let action = match changes.disabled {
        Some(true) => "application.disable",
        Some(false) => "application.enable",
        None => "application.update",
    };
    let event = AuditEvent::success(
        action,
        client_id,
        json!({"name": changes.name, "description": changes.description,
               "scopes": changes.scopes, "tier": changes.tier, "disabled": changes.disabled,
               "introspection": changes.introspection, "key_thumbprints": thumbprints,
               "token_endpoint_auth_method": changes.token_endpoint_auth_method,
               "dpop_bound_access_tokens": changes.dpop_bound_access_tokens}),
    );
    let updated = db
        .run(move |c| {
            c.transaction(|c| {
                let n = ApplicationRow::update(c, &id, &changes, by == ChangedBy::Owner)?;
                if n > 0 {
                    audit::change(c, &ctx, Feed::Credential(ChangeKind::App, &id), &event, now)?;
                }
                Ok(n)
            })
        })
        .await?;
    if updated == 0 {
        let current = get(db, client_id).await?;
        if by == ChangedBy::Owner && current.disabled_by_admin {
            return Err(Error::Conflict(ADMIN_DISABLED.into()));
        }
        return Err(Error::NotFound("application"));
    }
    get(db, client_id).await
}

/// A developer's change of an application an admin disabled.
pub const ADMIN_DISABLED: &str =
    "An admin disabled this application; only an admin can change or enable it.";

/// Issues a new secret. Of two concurrent rotations the second answers 409: each secret
/// handed out is valid when it is shown.
pub async fn rotate_secret(
    db: &Db,
    ctx: &AuditContext,
    client_id: &str,
    options: RotateSecret,
    now: i64,
) -> Result<ApplicationWithSecret> {
    if !shared::validate::plausible_client_id(client_id) {
        return Err(Error::NotFound("application"));
    }
    let grace = match options.grace_period_seconds {
        None | Some(0) => None,
        Some(g) if (1..=MAX_GRACE_PERIOD_SECS).contains(&g) => Some(g),
        Some(_) => {
            return Err(Error::validation(
                "grace_period_seconds",
                format!("grace_period_seconds must be from 0 to {MAX_GRACE_PERIOD_SECS}"),
            ))
        }
    };
    let until_used = options.grace_period_seconds.is_none();
    let id = client_id.to_owned();
    let row = db
        .run(move |c| ApplicationRow::find(c, &id))
        .await?
        .ok_or(Error::NotFound("application"))?;
    if row.secret_hash == NO_SECRET {
        return Err(Error::Conflict(
            "This application authenticates with private_key_jwt and has no secret; rotate its keys by replacing its jwks (PATCH).".into(),
        ));
    }
    // Which secret keeps working. With an explicit grace period: the current one, for that long
    // (0: none). Without: the current one until the new one is first used — unless the current
    // one itself was never used (an earlier rotation whose answer was lost), in which case the
    // secret before it, which somebody may still hold, keeps working instead.
    let previous = match (until_used, grace) {
        (false, None) => None,
        (false, Some(g)) => Some((row.secret_hash.clone(), now + g * 1_000_000)),
        (true, _) => {
            let bound = now + MAX_GRACE_PERIOD_SECS * 1_000_000;
            match (&row.previous_secret_hash, row.previous_secret_expires_at) {
                (Some(prev), Some(until)) if row.previous_secret_until_used && until > now => {
                    Some((prev.clone(), until))
                }
                _ => Some((row.secret_hash.clone(), bound)),
            }
        }
    };
    let (secret, new_hash) = secrets::generate_client_secret().into_parts();
    let rotation = Rotation {
        expected: row.secret_hash.clone(),
        expected_until_used: row.previous_secret_until_used,
        new_hash: new_hash.into_string(),
        previous,
        until_used,
        revoke_tokens: options.revoke_tokens.unwrap_or(false),
        now,
    };
    let id = client_id.to_owned();
    let ctx = ctx.clone();
    let event = AuditEvent::success(
        "application.rotate_secret",
        client_id,
        json!({"grace_period_seconds": options.grace_period_seconds,
               "revoke_tokens": rotation.revoke_tokens}),
    );
    let updated = db
        .run(move |c| {
            c.transaction(|c| {
                let n = ApplicationRow::rotate_secret(c, &id, &rotation)?;
                if n > 0 {
                    let feed = Feed::Credential(ChangeKind::App, &id);
                    audit::change(c, &ctx, feed, &event, rotation.now)?;
                }
                Ok(n)
            })
        })
        .await?;
    if updated == 0 {
        return Err(Error::Conflict(
            "The secret was rotated concurrently by another request; nothing was changed by this one.".into(),
        ));
    }
    Ok(ApplicationWithSecret {
        application: get(db, client_id).await?,
        client_secret: Some(secret.expose().to_owned()),
    })
}

/// Refuses every token the application was issued before `now`.
pub async fn revoke_tokens(db: &Db, ctx: &AuditContext, client_id: &str, now: i64) -> Result<()> {
    if !shared::validate::plausible_client_id(client_id) {
        return Err(Error::NotFound("application"));
    }
    let id = client_id.to_owned();
    let ctx = ctx.clone();
    let event = AuditEvent::success("application.revoke_tokens", client_id, json!({}));
    let exists = db
        .run(move |c| {
            c.transaction(|c| {
                if ApplicationRow::set_tokens_not_before(c, &id, now)? > 0 {
                    audit::change(c, &ctx, Feed::Credential(ChangeKind::App, &id), &event, now)?;
                }
                Ok(ApplicationRow::find(c, &id)?.is_some())
            })
        })
        .await?;
    if !exists {
        return Err(Error::NotFound("application"));
    }
    Ok(())
}

pub async fn delete(db: &Db, ctx: &AuditContext, client_id: &str, now: i64) -> Result<()> {
    if !shared::validate::plausible_client_id(client_id) {
        return Err(Error::NotFound("application"));
    }
    let id = client_id.to_owned();
    let ctx = ctx.clone();
    let event = AuditEvent::success("application.delete", client_id, json!({}));
    let deleted = db
        .run(move |c| {
            c.transaction(|c| {
                let n = ApplicationRow::soft_delete(c, &id, now)?;
                if n > 0 {
                    audit::change(c, &ctx, Feed::Credential(ChangeKind::App, &id), &event, now)?;
                }
                Ok(n)
            })
        })
        .await?;
    if deleted == 0 {
        return Err(Error::NotFound("application"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_new_secret_hides_it() {
        let created = ApplicationWithSecret {
            application: ApplicationView {
                client_id: "app_x".into(),
                name: "n".into(),
                description: String::new(),
                scopes: ScopeSet::new(),
                environment: Environment::Sandbox,
                tier: Tier::default(),
                grant_types: vec!["client_credentials".into()],
                disabled: false,
                disabled_by_admin: false,
                introspection: false,
                tokens_not_before: None,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:00Z".into(),
                owner_id: None,
                last_token_at: None,
                token_endpoint_auth_method: "client_secret_basic".into(),
                jwks: None,
                keys: vec![],
                dpop_bound_access_tokens: false,
            },
            client_secret: Some("cfsec_plaintext".into()),
        };
        let printed = format!("{created:?}");
        assert!(
            printed.contains("app_x") && !printed.contains("plaintext"),
            "{printed}"
        );
    }

    fn create_req() -> CreateApplication {
        CreateApplication {
            name: " Case sync ".into(),
            description: None,
            scopes: vec!["cases:read".into(), "cases:write".into()],
            environment: None,
            tier: None,
            introspection: None,
            token_endpoint_auth_method: None,
            jwks: None,
            dpop_bound_access_tokens: None,
        }
    }

    #[test]
    fn validation_applies_defaults_and_trims() {
        let new = create_req().validate().unwrap();
        assert_eq!(new.name, "Case sync");
        assert_eq!(new.environment, Environment::Sandbox);
        assert_eq!(new.tier, Tier::Standard);
        assert_eq!(new.scopes.len(), 2);
    }

    #[test]
    fn an_application_needs_a_scope_unless_it_only_introspects() {
        let mut r = create_req();
        r.scopes.clear();
        assert!(matches!(
            r.clone().validate(),
            Err(Error::Validation {
                field: "scopes",
                ..
            })
        ));
        r.introspection = Some(true);
        assert!(r.validate().is_ok());
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut r = create_req();
        r.name = "  ".into();
        assert!(matches!(
            r.validate(),
            Err(Error::Validation { field: "name", .. })
        ));
        let mut r = create_req();
        r.scopes.push("root".into());
        assert!(matches!(
            r.validate(),
            Err(Error::Validation {
                field: "scopes",
                ..
            })
        ));
        let mut r = create_req();
        r.environment = Some("prod".into());
        assert!(matches!(
            r.validate(),
            Err(Error::Validation {
                field: "environment",
                ..
            })
        ));
        let mut r = create_req();
        r.tier = Some("gold".into());
        assert!(matches!(
            r.validate(),
            Err(Error::Validation { field: "tier", .. })
        ));
    }
}
