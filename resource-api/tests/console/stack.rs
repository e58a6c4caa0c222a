//! One auth server and one resource API on a fresh database, as `scripts/dev.sh` runs them.

use std::net::TcpListener;
use std::time::Duration;

use auth_server::service::audit::AuditContext;
use auth_server::service::operators::{self, Email, OperatorView, Password, Role};
use shared::db::Db;
use shared::testing::TestDb;

pub const ADMIN: &str = auth_server::config::TEST_ADMIN_TOKEN;
/// The password of every operator made by [`Stack::operator`].
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Stack {
    pub auth: String,
    pub api: String,
    pub http: reqwest::Client,
    /// The auth server's refused-attempt aggregator (written to the trail once a minute).
    refusals: std::sync::Arc<auth_server::service::audit::AuditAggregator>,
    /// Held for the stack's lifetime (a fresh database, dropped with it).
    test_db: TestDb,
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = l.local_addr().expect("bound").port();
    (l, port)
}

impl Stack {
    pub async fn start() -> Stack {
        let db = TestDb::create();
        let (la, pa) = listener();
        let auth = format!("http://127.0.0.1:{pa}");
        let (l, port) = listener();
        let api = format!("http://127.0.0.1:{port}");
        let mut config = auth_server::Config::for_tests(db.url(), &auth);
        // As dev.sh: the resource API's /docs may fetch tokens ("Authorize").
        config.common.cors_allowed_origins = vec![api.clone()];
        let app = auth_server::Application::build_with_listener(config, la)
            .await
            .expect("auth server starts");
        let refusals = app.refusals();
        actix_web::rt::spawn(app.run_until_stopped());

        let mut config = resource_api::Config::for_tests(db.url(), &auth);
        config.public_url = api.clone();
        config.jwks_url = Some(format!("{auth}/.well-known/jwks.json"));
        config.last_used_flush = Duration::from_secs(1);
        let app = resource_api::Application::build_with_listener(config, l)
            .await
            .expect("resource API starts");
        actix_web::rt::spawn(app.run_until_stopped());
        Stack {
            auth,
            api,
            http: reqwest::Client::new(),
            refusals,
            test_db: db,
        }
    }

    /// Writes the refused attempts noted so far to the audit trail now, as the auth server does
    /// once a minute and when it stops.
    pub fn flush_refusals(&self) {
        self.refusals
            .flush(&self.db(), shared::time::now_micros())
            .expect("refusals written");
    }

    /// A connection to the stack's database, for the service layer.
    pub fn db(&self) -> Db {
        Db::connect(self.test_db.url(), 2).expect("the test database")
    }

    /// An operator whose password is [`PASSWORD`], made through the service layer as the CLI
    /// (`auth-server operator create --password-stdin`) does.
    pub async fn operator(&self, email: &str, role: Role) -> OperatorView {
        operators::create(
            &self.db(),
            &AuditContext::cli(&auth_server::service::audit::AuditKey::from_kek(
                &auth_server::kek::Kek::from_bytes([42; 32]),
            )),
            Email::parse(email).expect("an email"),
            role,
            Some(Password::parse(PASSWORD).expect("a password")),
            4,
            shared::time::now_micros(),
        )
        .await
        .expect("operator created")
        .operator
    }
}
