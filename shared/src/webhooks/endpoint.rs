//! The stored webhook endpoint, and the writes both services make to it the same way.

use diesel::prelude::*;

use super::secret::{EndpointSecret, Sealer};
use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::db::DbConnection;

/// One row of `webhook_endpoints`. The secret is only ever sealed (`secret_sealed`, and the
/// previous one during a rotation's grace period).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub struct WebhookEndpointRow {
    pub id: String,
    pub environment: String,
    pub url: String,
    pub description: String,
    /// JSON array of event types.
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret_sealed: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub last_success_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    /// The console operator the endpoint belongs to: the developer who created it in the
    /// console, or who owns the credential that created it through `/v2`. `None`: ops-managed
    /// (an admin's, or a credential without an owner).
    pub owner_id: Option<String>,
}

impl WebhookEndpointRow {
    /// A new, enabled endpoint with a fresh secret sealed under `sealer`: the row and the
    /// secret (to be shown once).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        environment: &str,
        url: String,
        events: String,
        description: String,
        owner_id: Option<String>,
        sealer: &Sealer,
        now: i64,
    ) -> (WebhookEndpointRow, EndpointSecret) {
        let secret = EndpointSecret::generate();
        let row = WebhookEndpointRow {
            secret_sealed: sealer.seal(&id, &secret),
            id,
            environment: environment.to_owned(),
            url,
            description,
            events,
            enabled: true,
            disabled_reason: None,
            previous_secret_sealed: None,
            previous_secret_expires_at: None,
            failing_since: None,
            last_success_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            owner_id,
        };
        (row, secret)
    }

    /// The subscribed event types as stored (a value outside the set is left to the reader).
    pub fn event_names(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// Enables or disables the endpoint; enabling clears the server's reason and the failure
    /// streak (an endpoint disabled after 5 days of failures starts afresh).
    pub fn set_enabled(&mut self, on: bool) {
        if on && !self.enabled {
            self.disabled_reason = None;
            self.failing_since = None;
        }
        self.enabled = on;
    }

    /// A rotation at `at`: `secret` signs from now on; the current one keeps signing beside it
    /// for `grace_secs` (0: it stops at once).
    pub fn rotate(&mut self, sealer: &Sealer, secret: &EndpointSecret, grace_secs: u64, at: i64) {
        if grace_secs == 0 {
            self.previous_secret_sealed = None;
            self.previous_secret_expires_at = None;
        } else {
            self.previous_secret_sealed = Some(self.secret_sealed.clone());
            self.previous_secret_expires_at = Some(at + grace_secs as i64 * 1_000_000);
        }
        self.secret_sealed = sealer.seal(&self.id, secret);
        self.updated_at = at;
    }
}

/// How many endpoints `environment` has (the cap of [`super::MAX_ENDPOINTS_PER_ENVIRONMENT`]).
pub fn count(c: &mut DbConnection, environment: &str) -> QueryResult<i64> {
    webhook_endpoints::table
        .filter(webhook_endpoints::environment.eq(environment))
        .count()
        .get_result(c)
}

/// Removes endpoint `id` of `environment` at `version`, and its delivery log; how many
/// endpoints it removed (0: missing, or changed since it was read).
pub fn delete(
    c: &mut DbConnection,
    environment: &str,
    id: &str,
    version: i64,
) -> QueryResult<usize> {
    let n = diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::environment.eq(environment))
            .filter(webhook_endpoints::id.eq(id))
            .filter(webhook_endpoints::version.eq(version)),
    )
    .execute(c)?;
    if n == 1 {
        diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::environment.eq(environment))
                .filter(webhook_deliveries::endpoint_id.eq(id)),
        )
        .execute(c)?;
    }
    Ok(n)
}
