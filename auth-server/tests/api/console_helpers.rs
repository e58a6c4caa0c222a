//! A browser for the console tests: its own cookie jar, no redirects followed, the console's
//! `Origin` on POSTs; and operators made through the service layer.

use std::collections::BTreeMap;

use auth_server::service::audit::AuditContext;
use auth_server::service::operators::{self, Email, OperatorView, Password, Role};
use shared::db::Db;

use crate::helpers::{TestApp, ISSUER};

/// What a browser on the console's own pages sends as `Origin` (the issuer's origin).
pub const ORIGIN: &str = ISSUER;
pub const PASSWORD: &str = "correct horse battery staple";
pub const INVALID: &str = "The email, password or code is not correct.";

/// A browser: its own cookie jar, no redirects followed, the console's `Origin` on POSTs.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `Origin` on every POST (none when empty).
    pub origin: String,
    /// Sent as `Sec-Fetch-Site` on every POST when set (what a browser adds by itself).
    pub fetch_site: Option<&'static str>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::with_origin(app, ORIGIN)
    }

    pub fn with_origin(app: &TestApp, origin: &str) -> Browser {
        Browser {
            base: app.address.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            origin: origin.to_owned(),
            fetch_site: None,
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn remember(&mut self, resp: &reqwest::Response) {
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&resp);
        resp
    }

    /// POSTs a form with this browser's `Origin` (none when it is empty).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if !self.origin.is_empty() {
            req = req.header("Origin", &self.origin);
        }
        if let Some(site) = self.fetch_site {
            req = req.header("Sec-Fetch-Site", site);
        }
        let resp = req.send().await.unwrap();
        self.remember(&resp);
        resp
    }

    /// The login form's CSRF token (and its cookie, now in the jar).
    pub async fn login_csrf(&mut self) -> String {
        let resp = self.get("/console/login").await;
        assert_eq!(resp.status(), 200);
        csrf_in(&resp.text().await.unwrap())
    }

    pub async fn login(&mut self, email: &str, password: &str, totp: &str) -> reqwest::Response {
        let csrf = self.login_csrf().await;
        self.post(
            "/console/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", email),
                ("password", password),
                ("totp", totp),
            ],
        )
        .await
    }

    /// Signs in, asserting success, and returns the session's CSRF token.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> String {
        let resp = self.login(email, password, "").await;
        assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
        assert_eq!(location(&resp), "/console/applications");
        self.account_csrf().await
    }

    /// The CSRF token on the account page (asserting it is reachable).
    pub async fn account_csrf(&mut self) -> String {
        let resp = self.get("/console/account").await;
        assert_eq!(resp.status(), 200);
        csrf_in(&resp.text().await.unwrap())
    }

    pub fn session(&self) -> Option<&String> {
        self.cookies
            .get("cf_session")
            .or_else(|| self.cookies.get("__Host-cf_session"))
    }
}

pub fn csrf_in(html: &str) -> String {
    let start = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a csrf_token field")
        + 25;
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub fn db_of(app: &TestApp) -> Db {
    Db::connect(app.db.url(), 2).unwrap()
}

/// An operator whose password is [`PASSWORD`], made through the service layer.
pub async fn add_operator(app: &TestApp, email: &str, role: Role) -> OperatorView {
    let created = operators::create(
        &db_of(app),
        &AuditContext::cli(&crate::helpers::audit_key()),
        Email::parse(email).unwrap(),
        role,
        Some(Password::parse(PASSWORD).unwrap()),
        4,
        shared::time::now_micros(),
    )
    .await
    .unwrap();
    created.operator
}

/// `(action, outcome, fields)` of every event in the audit trail, oldest first.
pub async fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use shared::db::schema::audit_events::dsl::*;
    db_of(app)
        .run(|c| {
            audit_events
                .order(seq.asc())
                .select((action, outcome, fields))
                .load::<(String, String, String)>(c)
        })
        .await
        .unwrap()
}
