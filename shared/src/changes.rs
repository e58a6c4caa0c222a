//! The credential change feed: how a change to a credential reaches every replica.
//!
//! Writers (the auth server's service layer, over HTTP and from the CLI) call [`record`] in the
//! transaction of the change. It appends a row to `credential_changes` whose `id` the database
//! assigns (`MAX(id) + 1` inside the INSERT, writers serialised by a transaction-scoped advisory
//! lock on PostgreSQL and by SQLite's single writer), so ids are dense and become visible in
//! increasing order: a reader that has applied every change up to its cursor never misses one
//! committed later, and no writer's clock is involved. A gap after the cursor can only mean the
//! rows were pruned ([`prune`]): the reader then reloads in full.
//!
//! On PostgreSQL, [`record`] also sends `NOTIFY caseforge_credentials, '<id>:<kind>:<subject>'`
//! in the same transaction, so the notification is delivered exactly when the change commits.
//! [`listen`] keeps one dedicated connection (`DATABASE_LISTEN_URL`, default `DATABASE_URL`)
//! listening on a thread of its own, reconnects with backoff, and reports every (re)connection
//! ([`FeedEvent::Connected`]: notifications may have been missed, reload in full) and every
//! notification. SQLite has no push: readers poll the feed.
//!
//! The subject of a change is a client id, an API key's digest, a token's `jti` or a signing
//! key's `kid`: never a secret.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::credential_changes;
use crate::db::{DatabaseTarget, DbConnection};

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "caseforge_credentials";
/// The advisory lock that serialises writers of the feed (and of the audit trail) on PostgreSQL.
const WRITER_LOCK: i64 = 72_435_992;
/// The `application_name` of the LISTEN connection (visible in `pg_stat_activity`).
pub const LISTEN_APPLICATION_NAME: &str = "caseforge-listen";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// An application: created, changed (scopes, tier, secret), disabled, deleted,
    /// `tokens_not_before` moved. Subject: the client id.
    App,
    /// An API key: created, revoked, expired early. Subject: the key's digest.
    ApiKey,
    /// An access token revoked. Subject: its `jti`.
    Token,
    /// A signing key added, retired or revoked. Subject: its `kid`.
    SigningKey,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::App => "app",
            ChangeKind::ApiKey => "key",
            ChangeKind::Token => "token",
            ChangeKind::SigningKey => "signing_key",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        Some(match s {
            "app" => ChangeKind::App,
            "key" => ChangeKind::ApiKey,
            "token" => ChangeKind::Token,
            "signing_key" => ChangeKind::SigningKey,
            _ => return None,
        })
    }
}

/// One row of the feed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credential_changes)]
pub struct Change {
    pub id: i64,
    pub kind: String,
    pub subject: String,
}

impl Change {
    /// `None` for a kind this version does not know (it reloads in full instead).
    pub fn kind(&self) -> Option<ChangeKind> {
        ChangeKind::parse(&self.kind)
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Serialises this transaction with every other writer of a database-numbered log (this feed,
/// the audit trail) until it commits: a transaction-scoped advisory lock on PostgreSQL (taking
/// it again in the same transaction is free); nothing on SQLite, whose writer is single. One lock
/// for both logs, so two writers can never take them in opposite orders.
pub fn lock_writers(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(WRITER_LOCK)
            .execute(c)?;
    }
    Ok(())
}

/// Appends a change and, on PostgreSQL, notifies listeners. Call it inside the transaction that
/// makes the change, after the change's own statements (the writer lock is held from here until
/// commit). Returns the change's id.
pub fn record(
    conn: &mut DbConnection,
    kind: ChangeKind,
    subject: &str,
    at: i64,
) -> QueryResult<i64> {
    lock_writers(conn)?;
    match conn {
        DbConnection::Pg(c) => {
            let row: IdRow = diesel::sql_query(
                "INSERT INTO credential_changes (id, kind, subject, at) \
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3 FROM credential_changes RETURNING id",
            )
            .bind::<Text, _>(kind.as_str())
            .bind::<Text, _>(subject)
            .bind::<BigInt, _>(at)
            .get_result(c)?;
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(format!("{}:{}:{}", row.id, kind.as_str(), subject))
                .execute(c)?;
            Ok(row.id)
        }
        DbConnection::Sqlite(c) => {
            let row: IdRow = diesel::sql_query(
                "INSERT INTO credential_changes (id, kind, subject, at) \
                 SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ? FROM credential_changes RETURNING id",
            )
            .bind::<Text, _>(kind.as_str())
            .bind::<Text, _>(subject)
            .bind::<BigInt, _>(at)
            .get_result(c)?;
            Ok(row.id)
        }
    }
}

/// Changes after `after`, oldest first, at most `limit`.
pub fn since(conn: &mut DbConnection, after: i64, limit: i64) -> QueryResult<Vec<Change>> {
    credential_changes::table
        .filter(credential_changes::id.gt(after))
        .order(credential_changes::id.asc())
        .limit(limit)
        .select(Change::as_select())
        .load(conn)
}

/// The id of the newest change (a reader that loads everything starts its cursor here).
pub fn latest(conn: &mut DbConnection) -> QueryResult<i64> {
    credential_changes::table
        .select(diesel::dsl::max(credential_changes::id))
        .get_result::<Option<i64>>(conn)
        .map(|m| m.unwrap_or(0))
}

/// Drops changes recorded before `before` (Unix microseconds), always keeping the newest.
/// A reader whose cursor falls behind what is left reloads in full.
pub fn prune(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    let newest = latest(conn)?;
    diesel::delete(
        credential_changes::table
            .filter(credential_changes::at.lt(before))
            .filter(credential_changes::id.lt(newest)),
    )
    .execute(conn)
}

/// The payload of the notification a webhook outbox insert sends on [`CHANNEL`] (one channel,
/// one LISTEN connection per process; credential listeners ignore it).
pub const OUTBOX_PAYLOAD: &str = "outbox";

/// Wakes the webhook workers of every replica when the transaction commits (PostgreSQL
/// delivers a notification only then, and one per payload per transaction); nothing on SQLite,
/// whose workers poll.
pub fn notify_outbox(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(OUTBOX_PAYLOAD)
            .execute(c)?;
    }
    Ok(())
}

/// What the LISTEN connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Listening (again): anything may have changed meanwhile; reload in full.
    Connected,
    /// A change committed.
    Notified {
        id: i64,
        kind: Option<ChangeKind>,
        subject: String,
    },
    /// A webhook event was committed to the outbox ([`notify_outbox`]).
    Outbox,
}

impl FeedEvent {
    /// Parses a notification payload, `<id>:<kind>:<subject>` or [`OUTBOX_PAYLOAD`].
    pub fn from_payload(payload: &str) -> Option<FeedEvent> {
        if payload == OUTBOX_PAYLOAD {
            return Some(FeedEvent::Outbox);
        }
        let mut parts = payload.splitn(3, ':');
        let id = parts.next()?.parse().ok()?;
        let kind = ChangeKind::parse(parts.next()?);
        let subject = parts.next().unwrap_or("").to_owned();
        Some(FeedEvent::Notified { id, kind, subject })
    }
}

/// Listens on `url` (a PostgreSQL URL) on a dedicated thread for the life of the process,
/// calling `on_event` for each (re)connection and notification. Connection failures are logged
/// (the URL's password redacted) and retried with backoff up to 5 s. A `SELECT 1` every 30 s
/// finds a connection that died silently.
pub fn listen(url: String, on_event: Arc<dyn Fn(FeedEvent) + Send + Sync>) -> Result<(), String> {
    let target = DatabaseTarget::parse(&url).map_err(|e| e.to_string())?;
    let (config, tls) = listen_config(&url)?;
    std::thread::Builder::new()
        .name("credential-listen".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("credential change feed: no runtime for LISTEN: {e}");
                    return;
                }
            };
            rt.block_on(listen_forever(config, tls, target, on_event));
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn listen_forever(
    config: tokio_postgres::Config,
    tls: Tls,
    target: DatabaseTarget,
    on_event: Arc<dyn Fn(FeedEvent) + Send + Sync>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&config, &tls, &on_event).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(
                    "credential change feed: LISTEN connection to {} lost or refused ({}); \
                     retrying in {} ms, the poll carries changes meanwhile",
                    target.describe(),
                    target.redact(&e),
                    backoff.as_millis()
                );
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection's life: connect, LISTEN, report, forward notifications until it ends.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &Tls,
    on_event: &Arc<dyn Fn(FeedEvent) + Send + Sync>,
) -> Result<(), String> {
    match tls {
        Tls::None => {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            serve(client, connection, on_event).await
        }
        Tls::Rustls(make) => {
            let (client, connection) = config
                .connect(make.clone())
                .await
                .map_err(|e| e.to_string())?;
            serve(client, connection, on_event).await
        }
    }
}

async fn serve<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    on_event: &Arc<dyn Fn(FeedEvent) + Send + Sync>,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use futures_util::StreamExt;
    use tokio_postgres::AsyncMessage;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let events = on_event.clone();
    // The connection is driven here; it yields notifications and ends with an error or EOF.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if let Some(event) = FeedEvent::from_payload(n.payload()) {
                        events(event);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(e.to_string());
                    return;
                }
            }
        }
        let _ = tx.send("connection closed".to_owned());
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("credential change feed: listening");
        on_event(FeedEvent::Connected);
        loop {
            tokio::select! {
                ended = rx.recv() => {
                    return Err(ended.unwrap_or_else(|| "connection closed".to_owned()));
                }
                _ = tokio::time::sleep(Duration::from_secs(30)) => {
                    let ping = client.batch_execute("SELECT 1");
                    match tokio::time::timeout(Duration::from_secs(10), ping).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(e.to_string()),
                        Err(_) => return Err("no answer to a keep-alive query in 10 s".to_owned()),
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    result
}

#[derive(Clone)]
enum Tls {
    None,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The LISTEN connection's settings from a libpq-style URL, with TLS chosen as libpq would:
///
/// - `sslmode=disable`: plain TCP.
/// - `allow`, `prefer` (libpq's default, also when absent), `require`: TLS when the server
///   offers it (`require`: or fail), **without** certificate verification — what libpq does
///   in these modes when no root certificate is configured.
/// - `verify-ca`, `verify-full`: TLS required and the server certificate verified against
///   `sslrootcert` when given, else the system roots (or `SSL_CERT_FILE`); the host name is
///   checked in both (stricter than libpq's `verify-ca`).
///
/// Client certificates (`sslcert`, `sslkey`) are not supported on this connection.
fn listen_config(url: &str) -> Result<(tokio_postgres::Config, Tls), String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut sslmode = "prefer".to_owned();
    let mut rootcert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => sslmode = v.to_ascii_lowercase(),
            "sslrootcert" => rootcert = Some(percent_decode(v)),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcompression" => {}
            _ => kept.push(pair),
        }
    }
    let (mode, verify) = match sslmode.as_str() {
        "disable" => ("disable", false),
        "allow" | "prefer" => ("prefer", false),
        "require" => ("require", false),
        "verify-ca" | "verify-full" => ("require", true),
        other => return Err(format!("DATABASE_LISTEN_URL: unknown sslmode `{other}`")),
    };
    kept.push(match mode {
        "disable" => "sslmode=disable",
        "prefer" => "sslmode=prefer",
        _ => "sslmode=require",
    });
    let cleaned = format!("{base}?{}", kept.join("&"));
    let mut config: tokio_postgres::Config = cleaned.parse().map_err(|e| {
        let target = DatabaseTarget::Postgres(url.to_owned());
        target.redact(&format!("DATABASE_LISTEN_URL: {e}"))
    })?;
    config.application_name(LISTEN_APPLICATION_NAME);
    config.connect_timeout(Duration::from_secs(5));
    if mode == "disable" {
        return Ok((config, Tls::None));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let tls = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match rootcert {
            Some(path) => {
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("sslrootcert `{path}`: {}", e.kind()))?;
                for cert in rustls_pki_certs(&pem)? {
                    roots.add(cert).map_err(|e| e.to_string())?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    };
    Ok((
        config,
        Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(tls)),
    ))
}

fn rustls_pki_certs(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert: {e}"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's `prefer`/`require` without a root certificate: encrypted, server not authenticated.
/// Handshake signatures are still checked, so the session keys belong to whoever holds the
/// presented certificate's key.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            FeedEvent::from_payload("42:key:abc:def"),
            Some(FeedEvent::Notified {
                id: 42,
                kind: Some(ChangeKind::ApiKey),
                subject: "abc:def".into()
            })
        );
        assert_eq!(
            FeedEvent::from_payload("7:new_kind:x"),
            Some(FeedEvent::Notified {
                id: 7,
                kind: None,
                subject: "x".into()
            })
        );
        assert_eq!(FeedEvent::from_payload("nope"), None);
        for k in [
            ChangeKind::App,
            ChangeKind::ApiKey,
            ChangeKind::Token,
            ChangeKind::SigningKey,
        ] {
            assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn listen_urls_follow_libpq_sslmodes() {
        let (_, tls) = listen_config("postgres://u:p@h/db?sslmode=disable").unwrap();
        assert!(matches!(tls, Tls::None));
        let (c, tls) = listen_config("postgres://u:p@h/db").unwrap();
        assert!(matches!(tls, Tls::Rustls(_)));
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
        let (c, _) =
            listen_config("postgresql://u:p@h:5433/db?sslmode=verify-full&application_name=x")
                .unwrap();
        assert_eq!(c.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(c.get_application_name(), Some(LISTEN_APPLICATION_NAME));
        let e = listen_config("postgres://u:s3cret@h/db?sslmode=bogus")
            .err()
            .unwrap_or_default();
        assert!(!e.contains("s3cret"));
        assert!(listen_config("postgres://u:p@h/db?sslmode=require&sslcert=/x").is_ok());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fetc%2Fca.pem"), "/etc/ca.pem");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
