//! One auth server and one resource API on a fresh database, as `scripts/dev.sh` runs them.

use std::net::TcpListener;
use std::time::Duration;

use shared::testing::TestDb;

pub const ADMIN: &str = "test-admin-token-0123456789abcdefghij";

pub struct Stack {
    pub auth: String,
    pub api: String,
    pub http: reqwest::Client,
    /// Held for the stack's lifetime (a fresh database, dropped with it).
    _db: TestDb,
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = l.local_addr().expect("bound").port();
    (l, port)
}

impl Stack {
    pub async fn start() -> Stack {
        let db = TestDb::create();
        let listen = db
            .url()
            .starts_with("postgres")
            .then(|| db.url().to_owned());
        let (la, pa) = listener();
        let auth = format!("http://127.0.0.1:{pa}");
        let config = auth_server::Config {
            bind: "127.0.0.1:0".parse().expect("address"),
            database_url: db.url().to_owned(),
            issuer: auth.clone(),
            audience: "caseforge-api".to_owned(),
            admin_token: Some(shared::Secret::new(ADMIN)),
            bcrypt_cost: 4,
            key_refresh_secs: 1,
            db_pool_size: 4,
            signing_key_encryption_key: Some(auth_server::service::kek::Kek::from_bytes([42; 32])),
            previous_signing_key_encryption_key: None,
            bcrypt_concurrency: 2,
            metrics_bind: None,
            cors_allowed_origins: Vec::new(),
            redis_url: None,
            database_listen_url: listen.clone(),
            console: Default::default(),
            last_used_flush_secs: 1,
        };
        let app = auth_server::Application::build_with_listener(config, la)
            .await
            .expect("auth server starts");
        actix_web::rt::spawn(app.run_until_stopped());

        let (l, port) = listener();
        let api = format!("http://127.0.0.1:{port}");
        let config = resource_api::Config {
            bind: "127.0.0.1:0".parse().expect("address"),
            public_url: api.clone(),
            database_url: db.url().to_owned(),
            issuer: auth.clone(),
            jwks_url: Some(format!("{auth}/.well-known/jwks.json")),
            audience: "caseforge-api".to_owned(),
            db_pool_size: 4,
            metrics_bind: None,
            cors_allowed_origins: Vec::new(),
            credential_poll: Duration::from_secs(1),
            last_used_flush: Duration::from_secs(1),
            jwks_refresh: Duration::from_secs(300),
            redis_url: None,
            database_listen_url: listen,
        };
        let app = resource_api::Application::build_with_listener(config, l)
            .await
            .expect("resource API starts");
        actix_web::rt::spawn(app.run_until_stopped());
        Stack {
            auth,
            api,
            http: reqwest::Client::new(),
            _db: db,
        }
    }
}
