//! The OAuth grants: the client-credentials grant (RFC 6749 §4.4), token introspection
//! (RFC 7662) and token revocation (RFC 7009), each read as a checklist.
//!
//! Routes parse the form and the client's credentials and render what comes back; every rule —
//! who the client is, what it may be granted, whether a token is still active, whose token may
//! be revoked — is here, and returns typed values ([`Client`], [`IssuedToken`],
//! [`Introspection`], [`Revocation`]), so no route reads a database row. Time is a parameter.
//!
//! Invariant: every grant authenticates the client first, through
//! [`ClientAuthenticator`](super::client_auth::ClientAuthenticator); nothing here answers
//! anything about a token to an unauthenticated caller.

use std::time::Instant;

use diesel::Connection;
use shared::changes::ChangeKind;
use shared::db::Db;
use shared::ratelimit::Limiter;
use shared::{AccessTokenClaims, Environment, ScopeSet, Tier};

use super::assertions::ClientAssertions;
use super::audit::{self, AuditContext, AuditEvent, AuditKey, Feed};
use super::client_auth::{ClientAuthenticator, Credentials};
use super::last_token::LastTokenTracker;
use super::signing::KeyStore;
use super::tokens;
use crate::db::applications::ApplicationRow;
use crate::db::revoked_tokens::RevokedTokenRow;
use crate::error::{Error, Result};

/// An authenticated client, typed: what its application row says, parsed once.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub scopes: ScopeSet,
    pub environment: Environment,
    pub tier: Tier,
    /// May introspect other clients' tokens (RFC 7662 §4).
    pub introspection: bool,
    /// Tokens issued before this (Unix microseconds) are refused.
    pub tokens_not_before: Option<i64>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound: bool,
}

impl TryFrom<ApplicationRow> for Client {
    type Error = Error;

    /// A row that does not parse is corrupt (every write validates it): an internal error.
    fn try_from(app: ApplicationRow) -> Result<Client> {
        let scopes = ScopeSet::parse_delimited(&app.scopes).map_err(|_| {
            Error::Internal(format!("application {} has corrupt scopes", app.client_id))
        })?;
        let environment = app.environment.parse().map_err(|_| {
            Error::Internal(format!(
                "application {} has a corrupt environment",
                app.client_id
            ))
        })?;
        Ok(Client {
            scopes,
            environment,
            // An unknown tier gets the default tier's limits, as it always has.
            tier: app.tier.parse().unwrap_or_default(),
            introspection: app.introspection,
            tokens_not_before: app.tokens_not_before,
            dpop_bound: app.dpop_bound_access_tokens,
            client_id: app.client_id,
        })
    }
}

/// A signed access token (RFC 6749 §5.1).
#[derive(Clone)]
pub struct IssuedToken {
    /// The thumbprint of the DPoP key it is bound to (`token_type: DPoP`), if any.
    pub jkt: Option<String>,
    pub access_token: String,
    pub expires_in: i64,
    pub scope: ScopeSet,
}

/// Redacted: it holds a bearer token.
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The answer to an introspection (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    /// Invalid, expired, revoked, another client's (without `introspection`), or its
    /// application is disabled, deleted or no longer grants anything it names.
    Inactive,
    /// The token's claims, and its scopes cut to what its application grants today.
    Active {
        claims: Box<AccessTokenClaims>,
        scope: ScopeSet,
    },
}

/// What a revocation did (RFC 7009 §2.2: every outcome is answered 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token is on the revocation list from now on.
    Revoked,
    /// The token has expired already: nothing to revoke.
    Expired,
    /// Not a token this server signed: nothing to revoke.
    NotAToken,
}

/// What the grants need: the database, client authentication, the signing keys, the
/// per-application issuance limiter and the issuer's names.
pub struct Grants<'a> {
    pub db: &'a Db,
    pub clients: &'a ClientAuthenticator,
    pub assertions: &'a ClientAssertions,
    pub keys: &'a KeyStore,
    pub issuance: &'a Limiter,
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Where token issues are noted for the batched `last_token_at` write.
    pub last_tokens: &'a LastTokenTracker,
    /// The audit chain's key: what a client changes (a revocation, the end of its previous
    /// secret) is audited as that client.
    pub audit_key: &'a AuditKey,
    /// The request's source address, for the audit trail.
    pub source: Option<String>,
}

impl Grants<'_> {
    /// Authenticates a client: a secret ([`ClientAuthenticator::authenticate`]) or a
    /// `private_key_jwt` assertion ([`ClientAssertions::authenticate`]).
    pub async fn authenticate(
        &self,
        creds: Credentials,
        now_us: i64,
        now: Instant,
    ) -> Result<Client> {
        let app = match creds {
            Credentials::Secret(creds) => {
                self.clients
                    .authenticate(
                        self.db,
                        creds,
                        (self.audit_key, self.source.as_deref()),
                        now_us,
                        now,
                    )
                    .await?
            }
            Credentials::Assertion(creds) => {
                self.assertions
                    .authenticate(self.db, self.issuer, &creds, now_us.div_euclid(1_000_000))
                    .await?
            }
        };
        Client::try_from(app)
    }

    /// The client-credentials grant: authenticate, require a DPoP proof of an application
    /// registered for one, take the proof's `jti` (once across replicas), apply the tier's
    /// issuance limit, grant the requested scopes (all registered ones when `requested` is
    /// `None`) if the application is registered for every one of them, and sign — bound to the
    /// proof's key when there is one (`proof` passed every other check of RFC 9449 §4.3).
    pub async fn client_credentials(
        &self,
        creds: Credentials,
        requested: Option<ScopeSet>,
        proof: Option<shared::dpop::Proof>,
        now_us: i64,
        now: Instant,
    ) -> Result<IssuedToken> {
        let client = self.authenticate(creds, now_us, now).await?;
        match &proof {
            None if client.dpop_bound => {
                return Err(Error::InvalidDpopProof(shared::dpop::Refusal::Missing));
            }
            None => {}
            Some(p) => {
                let first = self
                    .assertions
                    .replay()
                    .first_use(
                        shared::replay::JtiKind::DpopProof,
                        &p.jkt,
                        &p.jti,
                        p.replay_until,
                        now_us.div_euclid(1_000_000),
                    )
                    .await?;
                if !first {
                    return Err(Error::InvalidDpopProof(shared::dpop::Refusal::Replayed));
                }
            }
        }
        if let Some(limits) = client.tier.limits() {
            let decision = self.issuance.check(&client.client_id, limits, now).await;
            if !decision.allowed {
                return Err(Error::IssuanceLimited {
                    retry_after: decision.retry_after.unwrap_or(1),
                });
            }
        }
        let granted = match requested {
            None => client.scopes,
            Some(requested) if requested.is_subset(&client.scopes) => requested,
            Some(requested) => {
                return Err(Error::InvalidScope(format!(
                    "The application is not registered for: {}.",
                    requested.difference(&client.scopes)
                )));
            }
        };
        let keys = self.keys.current();
        let (access_token, claims) = tokens::issue(
            &keys,
            self.issuer,
            self.audience,
            tokens::TokenFor {
                client_id: &client.client_id,
                environment: client.environment,
                scopes: &granted,
                jkt: proof.as_ref().map(|p| p.jkt.as_str()),
            },
            tokens::issued_at(now_us, client.tokens_not_before),
        )
        .map_err(|e| Error::Internal(format!("signing failed: {e}")))?;
        // Never a write per token: the batch flush writes `last_token_at`.
        self.last_tokens.note(&client.client_id, now_us);
        Ok(IssuedToken {
            jkt: claims.cnf.map(|c| c.jkt),
            access_token,
            expires_in: claims.exp - claims.iat,
            scope: granted,
        })
    }

    /// Introspection: authenticate the caller, verify the token, and answer it active only if
    /// it is the caller's own (or the caller may introspect any), not revoked, and its
    /// application is enabled and still grants something it names.
    pub async fn introspect(
        &self,
        creds: Credentials,
        token: &str,
        now_us: i64,
        now: Instant,
    ) -> Result<Introspection> {
        let caller = self.authenticate(creds, now_us, now).await?;
        let keys = self.keys.current();
        let Some(claims) = tokens::verify(
            &keys,
            token,
            self.issuer,
            self.audience,
            now_us.div_euclid(1_000_000),
        ) else {
            return Ok(Introspection::Inactive);
        };
        // RFC 7662 §4: a client learns about its own tokens only, unless granted introspection.
        if claims.client_id != caller.client_id && !caller.introspection {
            return Ok(Introspection::Inactive);
        }
        let (jti, client_id) = (claims.jti.clone(), claims.client_id.clone());
        let (revoked, app) = self
            .db
            .run(move |c| {
                Ok((
                    RevokedTokenRow::is_revoked(c, &jti)?,
                    ApplicationRow::find(c, &client_id)?,
                ))
            })
            .await?;
        if revoked {
            return Ok(Introspection::Inactive);
        }
        let Some(app) = app.filter(|a| !a.disabled && a.deleted_at.is_none()) else {
            return Ok(Introspection::Inactive);
        };
        Ok(match tokens::effective_scopes(&claims, &app) {
            Some(scope) => Introspection::Active {
                claims: Box::new(claims),
                scope,
            },
            None => Introspection::Inactive,
        })
    }

    /// Revocation: authenticate the caller; a token this server signed (expired or not) may be
    /// revoked only by the client it was issued to ([`Error::UnauthorizedClient`] otherwise).
    /// A revocation is audited as the client (`token.revoke`, target the token's `jti`, never
    /// the token) in its transaction.
    pub async fn revoke(
        &self,
        creds: Credentials,
        token: &str,
        now_us: i64,
        now: Instant,
    ) -> Result<Revocation> {
        let caller = self.authenticate(creds, now_us, now).await?;
        let keys = self.keys.current();
        let Some(claims) = tokens::verify_ignoring_expiry(&keys, token, self.issuer, self.audience)
        else {
            return Ok(Revocation::NotAToken);
        };
        if claims.client_id != caller.client_id {
            return Err(Error::UnauthorizedClient(
                "A client may only revoke its own tokens.".into(),
            ));
        }
        if claims.exp.saturating_mul(1_000_000) <= now_us {
            return Ok(Revocation::Expired);
        }
        let row = RevokedTokenRow {
            jti: claims.jti,
            client_id: claims.client_id,
            expires_at: claims.exp * 1_000_000,
            revoked_at: now_us,
        };
        let ctx = AuditContext::client(self.audit_key, &caller.client_id, self.source.clone());
        let event = AuditEvent::success(
            "token.revoke",
            &row.jti,
            serde_json::json!({"expires_at": shared::time::rfc3339(row.expires_at)}),
        );
        self.db
            .run(move |c| {
                c.transaction(|c| {
                    // A token revoked already is left as it is: no second event.
                    if RevokedTokenRow::insert_if_absent(c, &row)? {
                        let feed = Feed::Credential(ChangeKind::Token, &row.jti);
                        audit::change(c, &ctx, feed, &event, row.revoked_at)?;
                    }
                    Ok(())
                })
            })
            .await?;
        Ok(Revocation::Revoked)
    }
}
