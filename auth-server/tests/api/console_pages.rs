//! The console's pages over HTTP against the real app, signed in as admin, developer and
//! auditor through `POST /console/login` (pre-session CSRF cookie + field, `Origin`).

use std::time::Duration;

use auth_server::service::operators::Role;
use reqwest::header;
use serde_json::Value;

use crate::console_helpers::{add_operator, csrf_in, ORIGIN, PASSWORD};
use crate::helpers::{spawn_app, spawn_app_with, TestApp, ISSUER};

/// A browser signed in to the console: its session cookie and the page's CSRF token.
struct Console<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
    id: String,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the first `Set-Cookie` called `name`.
fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
}

/// The text between `start` and the next `end` after it.
fn between<'h>(html: &'h str, start: &str, end: &str) -> Option<&'h str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

fn secret_in(html: &str) -> Option<String> {
    let at = html.find(" id=\"secret\"")?;
    between(&html[at..], ">", "</code>").map(str::to_owned)
}

impl<'a> Console<'a> {
    /// Creates an operator with `role` and signs in as them.
    async fn sign_in(app: &'a TestApp, email: &str, role: Role) -> Console<'a> {
        let id = add_operator(app, email, role).await.id;
        let http = no_redirects();
        let page = http.get(app.url("/console/login")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let login_cookie = cookie_of(&page, "cf_login_csrf").expect("login CSRF cookie");
        let token = login_cookie.split_once('=').unwrap().1.to_owned();
        let resp = http
            .post(app.url("/console/login"))
            .header(header::COOKIE, &login_cookie)
            .header(header::ORIGIN, ORIGIN)
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", email),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "signed in");
        let cookie = cookie_of(&resp, "cf_session").expect("session cookie");
        let mut console = Console {
            app,
            http,
            cookie,
            csrf: String::new(),
            id,
        };
        let html = console.page("/console/applications").await;
        console.csrf = csrf_in(&html);
        console
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.app.url(path))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// A page that must answer 200; its HTML.
    async fn page(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.text().await.unwrap()
    }

    /// POST a form with the session's CSRF token added.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, serde_urlencoded::to_string(&fields).unwrap())
            .await
    }

    /// POST a raw form body (no CSRF token added).
    async fn post_raw(&self, path: &str, body: String) -> reqwest::Response {
        self.http
            .post(self.app.url(path))
            .header(header::COOKIE, &self.cookie)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an application through the form; returns (client_id, secret, the page).
    async fn create_app(&self, environment: &str) -> (String, String, String) {
        let resp = self
            .post(
                "/console/applications",
                &[
                    ("name", "Case sync"),
                    ("description", "syncs cases"),
                    ("scopes", "cases:read"),
                    ("scopes", "cases:write"),
                    ("environment", environment),
                    ("tier", "standard"),
                ],
            )
            .await;
        let html = self.follow(resp).await;
        let secret = secret_in(&html).expect("the secret on the page");
        let client_id = between(&html, "<dt>Client id</dt><dd><code>", "</code>")
            .expect("client id")
            .to_owned();
        (client_id, secret, html)
    }

    async fn create_key(&self, environment: &str) -> (reqwest::StatusCode, String) {
        let resp = self
            .post(
                "/console/api-keys",
                &[
                    ("name", "ci key"),
                    ("environment", environment),
                    ("scopes", "cases:read"),
                    ("tier", "standard"),
                ],
            )
            .await;
        let status = resp.status();
        if status == 303 {
            (status, self.follow(resp).await)
        } else {
            (status, resp.text().await.unwrap())
        }
    }

    /// The page a POST's 303 names (post/redirect/get): asserts the redirect, that it is not
    /// cached and that its address carries nothing secret, then GETs it (200) once.
    async fn follow(&self, resp: reqwest::Response) -> String {
        assert_eq!(resp.status(), 303, "a POST that made something redirects");
        assert_eq!(
            resp.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let location = resp.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            location.starts_with("/console/")
                && !location.contains("secret=")
                && location.len() < 120,
            "{location}"
        );
        let body = resp.text().await.unwrap();
        assert!(body.is_empty(), "a redirect shows nothing: {body}");
        let page = self.get(&location).await;
        assert_eq!(page.status(), 200, "GET {location}");
        assert_eq!(
            page.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        page.text().await.unwrap()
    }
}

fn key_id_in(html: &str) -> String {
    between(html, "<dt>Id</dt><dd><code>", "</code>")
        .expect("key id")
        .to_owned()
}

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    app.token_request("grant_type=client_credentials", Some((client_id, secret)))
        .await
        .status()
        .as_u16()
}

async fn admin_list(app: &TestApp, path: &str) -> Vec<Value> {
    let body: Value = app.admin_get(path).await.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

fn assert_html(resp: &reqwest::Response) {
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/html"), "an HTML page, got {ct}");
}

#[actix_web::test]
async fn admin_creates_an_application_and_sees_the_secret_only_in_that_answer() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, html) = admin.create_app("live").await;
    assert!(html.contains("id=\"copy-secret\""), "a copy button");
    assert!(html.contains("shown only on this page"), "a warning");
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);

    let detail = admin
        .page(&format!("/console/applications/{client_id}"))
        .await;
    let list = admin.page("/console/applications").await;
    for page in [&detail, &list] {
        assert!(!page.contains(&secret), "a GET never shows the secret");
        assert!(!page.contains("id=\"secret\""));
    }
    assert!(list.contains(&format!("<tr data-id=\"{client_id}\"")));
    assert!(list.contains("id=\"applications\"") && list.contains("id=\"create-application\""));
    // The scopes are offered as checkboxes, each with its description.
    assert!(list.contains("value=\"sar:write\"") && list.contains("Draft, change and submit"));
    // Admin-created credentials are ops-managed (no owner) in the admin API.
    let apps = admin_list(&app, "/admin/applications").await;
    assert_eq!(apps.len(), 1);
    assert!(apps[0].get("owner_id").is_none(), "{}", apps[0]);
}

#[actix_web::test]
async fn developer_sees_only_their_own_sandbox_keys_and_no_admin_pages() {
    let app = spawn_app().await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    let other = Console::sign_in(&app, "other@example.com", Role::Developer).await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;

    let (status, html) = dev.create_key("sandbox").await;
    assert_eq!(status, 303);
    let key = secret_in(&html).expect("the key, once");
    assert!(key.starts_with("cf_sand_"), "{key}");
    let mine = key_id_in(&html);
    let (_, html) = other.create_key("sandbox").await;
    let theirs = key_id_in(&html);
    let (_, html) = admin.create_key("sandbox").await;
    let ops_key = key_id_in(&html);

    let list = dev.page("/console/api-keys").await;
    assert!(
        list.contains(&format!("data-id=\"{mine}\"")),
        "own key listed"
    );
    assert!(
        !list.contains(&theirs) && !list.contains(&ops_key),
        "only their own"
    );
    assert!(!list.contains(&key), "the list never shows the key");
    // An explicit live filter cannot widen a developer's list.
    let live = dev.page("/console/api-keys?environment=live").await;
    assert!(!live.contains("<tr data-id="), "nothing for live");

    // Another developer's (or an ops-managed) key is a 404, like a missing one.
    for id in [&theirs, &ops_key, &"key_doesnotexist".to_owned()] {
        let resp = dev.get(&format!("/console/api-keys/{id}")).await;
        assert_eq!(resp.status(), 404, "{id}");
        assert_html(&resp);
        let resp = dev.get(&format!("/console/api-keys/{id}/revoke")).await;
        assert_eq!(resp.status(), 404, "{id}");
        let resp = dev
            .post(
                &format!("/console/api-keys/{id}/revoke"),
                &[("confirm", "yes")],
            )
            .await;
        assert_eq!(resp.status(), 404, "{id}");
    }
    let keys = admin_list(&app, "/admin/api-keys").await;
    assert!(
        keys.iter().all(|k| k["revoked_at"].is_null()),
        "nothing revoked"
    );
    assert_eq!(
        keys.iter().find(|k| k["id"] == mine.as_str()).unwrap()["owner_id"],
        dev.id.as_str()
    );
    assert_eq!(
        dev.get(&format!("/console/api-keys/{mine}")).await.status(),
        200
    );

    assert_eq!(dev.get("/console/operators").await.status(), 403);
    assert_eq!(dev.get("/console/audit").await.status(), 403);
    let resp = dev
        .post(
            "/console/operators",
            &[("email", "x@example.com"), ("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), 403);
}

#[actix_web::test]
async fn developer_forging_a_live_credential_gets_403_and_nothing_is_written() {
    let app = spawn_app().await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    let form = dev.page("/console/api-keys").await;
    let create_form = between(&form, "id=\"create-api-key\"", "</form>").unwrap();
    assert!(
        !create_form.contains("value=\"live\""),
        "the form offers only sandbox"
    );

    let (status, _) = dev.create_key("live").await;
    assert_eq!(status, 403);
    let resp = dev
        .post(
            "/console/applications",
            &[
                ("name", "x"),
                ("scopes", "cases:read"),
                ("environment", "live"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert!(admin_list(&app, "/admin/api-keys").await.is_empty());
    assert!(admin_list(&app, "/admin/applications").await.is_empty());

    // A sandbox application is theirs, and another developer cannot see it.
    let (client_id, _, _) = dev.create_app("sandbox").await;
    let other = Console::sign_in(&app, "other@example.com", Role::Developer).await;
    let path = format!("/console/applications/{client_id}");
    assert_eq!(other.get(&path).await.status(), 404);
    assert_eq!(
        other.post(&format!("{path}/disable"), &[]).await.status(),
        404
    );
    assert_eq!(dev.get(&path).await.status(), 200);
}

#[actix_web::test]
async fn developers_get_the_default_tier_and_cannot_undo_an_admins_disable() {
    let app = spawn_app().await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    // The form offers no tier to a developer; a forged one is refused and writes nothing.
    for page in ["/console/api-keys", "/console/applications"] {
        let html = dev.page(page).await;
        assert!(!html.contains("name=\"tier\""), "{page}");
        assert!(admin.page(page).await.contains("name=\"tier\""), "{page}");
    }
    for (path, extra) in [
        ("/console/api-keys", ("name", "fast key")),
        ("/console/applications", ("name", "fast app")),
    ] {
        let resp = dev
            .post(
                path,
                &[
                    extra,
                    ("scopes", "cases:read"),
                    ("environment", "sandbox"),
                    ("tier", "unlimited"),
                ],
            )
            .await;
        assert_eq!(resp.status(), 403, "{path}");
    }
    assert!(admin_list(&app, "/admin/api-keys").await.is_empty());
    assert!(admin_list(&app, "/admin/applications").await.is_empty());

    // A developer's own disable is theirs to undo; an admin's is not.
    let (client_id, secret, _) = dev.create_app("sandbox").await;
    let base = format!("/console/applications/{client_id}");
    assert_eq!(
        dev.post(&format!("{base}/disable"), &[]).await.status(),
        303
    );
    assert_eq!(dev.post(&format!("{base}/enable"), &[]).await.status(), 303);
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);
    assert_eq!(
        admin.post(&format!("{base}/disable"), &[]).await.status(),
        303
    );
    let resp = dev.post(&format!("{base}/enable"), &[]).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("only an admin"));
    assert_ne!(
        token_status(&app, &client_id, &secret).await,
        200,
        "still disabled"
    );
    let shown: Value = app
        .admin_get(&format!("/admin/applications/{client_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["disabled"], true);
    assert_eq!(
        admin.post(&format!("{base}/enable"), &[]).await.status(),
        303
    );
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);
}

#[actix_web::test]
async fn auditor_reads_every_list_but_every_post_is_403() {
    let app = spawn_app().await;
    let client = app.create_app(&["cases:read"], "live").await;
    let auditor = Console::sign_in(&app, "audit@example.com", Role::Auditor).await;
    let list = auditor.page("/console/applications").await;
    assert!(list.contains(&client.client_id), "auditors see everything");
    assert!(
        !list.contains("id=\"create-application\""),
        "no create form"
    );
    let detail = auditor
        .page(&format!("/console/applications/{}", client.client_id))
        .await;
    assert!(!detail.contains("Rotate secret") && !detail.contains(">Disable<"));
    auditor.page("/console/api-keys").await;
    let audit = auditor.page("/console/audit").await;
    assert!(audit.contains("id=\"audit-events\""));
    assert_eq!(auditor.get("/console/operators").await.status(), 403);

    let base = format!("/console/applications/{}", client.client_id);
    for (path, form) in [
        (
            "/console/applications".to_owned(),
            vec![
                ("name", "x"),
                ("scopes", "cases:read"),
                ("environment", "sandbox"),
            ],
        ),
        (
            "/console/api-keys".to_owned(),
            vec![("name", "x"), ("environment", "sandbox")],
        ),
        (format!("{base}/disable"), vec![]),
        (format!("{base}/rotate-secret"), vec![]),
        (format!("{base}/revoke-tokens"), vec![]),
        (format!("{base}/delete"), vec![("confirm", "yes")]),
        (
            "/console/applications/app_missing/disable".to_owned(),
            vec![],
        ),
        (
            "/console/operators".to_owned(),
            vec![("email", "a@example.com"), ("role", "admin")],
        ),
    ] {
        let resp = auditor.post(&path, &form).await;
        assert_eq!(resp.status(), 403, "POST {path}");
        assert_html(&resp);
    }
    assert_eq!(
        token_status(&app, &client.client_id, &client.client_secret).await,
        200,
        "nothing changed"
    );
    assert!(admin_list(&app, "/admin/api-keys").await.is_empty());
    assert_eq!(admin_list(&app, "/admin/applications").await.len(), 1);
}

/// The trail's `console.refused` events, oldest first.
async fn refusals_in_trail(app: &TestApp) -> Vec<Value> {
    let page: Value = app
        .admin_get("/admin/audit-events?action=console.refused")
        .await
        .json()
        .await
        .unwrap();
    let mut data = page["data"].as_array().unwrap().clone();
    data.reverse();
    data
}

#[actix_web::test]
async fn refused_console_actions_are_one_aggregated_event_per_operator_target_and_window() {
    let app = spawn_app().await;
    let live = app.create_app(&["cases:read"], "live").await;
    let auditor = Console::sign_in(&app, "audit@example.com", Role::Auditor).await;
    let owner = Console::sign_in(&app, "owner@example.com", Role::Developer).await;
    let (theirs, _, _) = owner.create_app("sandbox").await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;

    // A burst of refusals: an auditor's writes, another developer's credential (404), a
    // forged live create.
    let disable = format!("/console/applications/{}/disable", live.client_id);
    for _ in 0..5 {
        assert_eq!(auditor.post(&disable, &[]).await.status(), 403);
    }
    let other = format!("/console/applications/{theirs}/disable");
    for _ in 0..3 {
        assert_eq!(dev.post(&other, &[]).await.status(), 404);
    }
    let forged = [
        ("name", "x"),
        ("scopes", "cases:read"),
        ("environment", "live"),
    ];
    for _ in 0..2 {
        let resp = dev.post("/console/applications", &forged).await;
        assert_eq!(resp.status(), 403);
    }
    // A missing application is not a refusal: nothing is noted for it.
    let missing = "/console/applications/app_000000000000000000000000/disable";
    assert_eq!(dev.post(missing, &[]).await.status(), 404);
    assert!(
        refusals_in_trail(&app).await.is_empty(),
        "not one row per attempt"
    );

    let db = crate::console_helpers::db_of(&app);
    let written = app.refusals.flush(&db, shared::time::now_micros()).unwrap();
    assert_eq!(written, 3);
    let events = refusals_in_trail(&app).await;
    let find = |actor: &str, operation: &str| {
        events
            .iter()
            .find(|e| e["actor_id"] == actor && e["fields"]["operation"] == operation)
            .unwrap_or_else(|| panic!("{actor} {operation}: {events:#?}"))
            .clone()
    };
    let e = find(&auditor.id, "application.disable");
    assert_eq!(e["fields"]["count"], 5);
    assert_eq!(e["target"], live.client_id.as_str());
    assert_eq!(e["outcome"], "denied");
    assert_eq!(e["actor_type"], "operator");
    assert_eq!(e["actor_label"], "audit@example.com");
    assert_eq!(e["source"], "127.0.0.1");
    assert!(e["fields"]["first_at"].as_str().unwrap() <= e["fields"]["last_at"].as_str().unwrap());
    let e = find(&dev.id, "application.disable");
    assert_eq!(e["fields"]["count"], 3);
    assert_eq!(e["target"], theirs.as_str());
    let e = find(&dev.id, "application.create");
    assert_eq!(e["fields"]["count"], 2);
    assert_eq!(e["target"], "");

    // The next window starts empty; the chain holds.
    assert_eq!(
        app.refusals.flush(&db, shared::time::now_micros()).unwrap(),
        0
    );
    let keys = auth_server::service::audit::AuditKeys::new(&crate::helpers::test_kek(), None);
    let report = db
        .run_blocking(move |c| auth_server::service::audit::verify(c, &keys, None))
        .unwrap();
    assert_eq!(report.broken, None);
}

#[actix_web::test]
async fn rotating_with_a_grace_period_keeps_the_old_secret_working() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, old, _) = admin.create_app("sandbox").await;
    let path = format!("/console/applications/{client_id}/rotate-secret");
    let resp = admin.post(&path, &[("grace_period_seconds", "3600")]).await;
    let html = admin.follow(resp).await;
    assert!(html.contains("keeps working for 3600 seconds"), "{html}");
    let new = secret_in(&html).expect("the new secret, once");
    assert_ne!(new, old);
    assert_eq!(token_status(&app, &client_id, &new).await, 200);
    assert_eq!(
        token_status(&app, &client_id, &old).await,
        200,
        "old in grace"
    );

    // Without grace the previous secret stops at once.
    let resp = admin.post(&path, &[("grace_period_seconds", "0")]).await;
    let newest = secret_in(&admin.follow(resp).await).unwrap();
    assert_eq!(token_status(&app, &client_id, &newest).await, 200);
    assert_eq!(token_status(&app, &client_id, &new).await, 401);
    let detail = admin
        .page(&format!("/console/applications/{client_id}"))
        .await;
    assert!(!detail.contains(&newest), "a GET never shows the secret");
}

#[actix_web::test]
async fn disabling_makes_the_token_endpoint_refuse_and_enabling_restores_it() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("live").await;
    let base = format!("/console/applications/{client_id}");
    let resp = admin.post(&format!("{base}/disable"), &[]).await;
    assert_eq!(resp.status(), 303);
    let location = resp
        .headers()
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(location, format!("{base}?done=disabled"));
    assert_ne!(token_status(&app, &client_id, &secret).await, 200);
    let page = admin.page(location).await;
    assert!(page.contains("id=\"flash\"") && page.contains(">Enable<"));
    let list = admin.page("/console/applications?status=disabled").await;
    assert!(list.contains(&client_id));
    let list = admin.page("/console/applications?status=enabled").await;
    assert!(!list.contains(&client_id));

    assert_eq!(
        admin.post(&format!("{base}/enable"), &[]).await.status(),
        303
    );
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);
    let resp = admin.post(&format!("{base}/revoke-tokens"), &[]).await;
    assert_eq!(resp.status(), 303);
    let page = admin.page(&format!("{base}?done=tokens_revoked")).await;
    assert!(page.contains("Every token issued before now is revoked"));
}

#[actix_web::test]
async fn deleting_needs_the_confirmation_step() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("live").await;
    let path = format!("/console/applications/{client_id}/delete");
    let confirm = admin.page(&path).await;
    assert!(confirm.contains("id=\"confirm\"") && confirm.contains(">Confirm<"));
    let resp = admin.post(&path, &[]).await;
    assert_eq!(resp.status(), 200, "the confirmation page again");
    assert!(resp.text().await.unwrap().contains("id=\"confirm\""));
    assert_eq!(
        token_status(&app, &client_id, &secret).await,
        200,
        "not deleted"
    );

    let resp = admin.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(resp.status(), 303);
    assert_ne!(token_status(&app, &client_id, &secret).await, 200);
    let resp = admin
        .get(&format!("/console/applications/{client_id}"))
        .await;
    assert_eq!(resp.status(), 404);

    // Revoking a key also needs the confirmation.
    let (_, html) = admin.create_key("sandbox").await;
    let key = secret_in(&html).unwrap();
    let id = key_id_in(&html);
    let path = format!("/console/api-keys/{id}/revoke");
    assert_eq!(admin.post(&path, &[]).await.status(), 200);
    assert!(admin_list(&app, "/admin/api-keys").await[0]["revoked_at"].is_null());
    assert_eq!(admin.post(&path, &[("confirm", "yes")]).await.status(), 303);
    assert!(!admin_list(&app, "/admin/api-keys").await[0]["revoked_at"].is_null());
    assert!(!admin.page("/console/api-keys").await.contains(&key));
}

#[actix_web::test]
async fn a_post_without_the_csrf_token_or_origin_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("live").await;
    let path = format!("/console/applications/{client_id}/disable");
    let resp = admin.post_raw(&path, String::new()).await;
    assert_eq!(resp.status(), 403);
    assert_html(&resp);
    let resp = admin.post_raw(&path, "csrf_token=forged".to_owned()).await;
    assert_eq!(resp.status(), 403);
    let resp = admin
        .post_raw(
            "/console/applications",
            "name=x&scopes=cases:read&environment=live".to_owned(),
        )
        .await;
    assert_eq!(resp.status(), 403);
    // The right token from another origin.
    let resp = admin
        .http
        .post(app.url(&path))
        .header(header::COOKIE, &admin.cookie)
        .header(header::ORIGIN, "http://evil.example")
        .form(&[("csrf_token", admin.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);
    assert_eq!(admin_list(&app, "/admin/applications").await.len(), 1);
    // Without a session: the login page.
    let resp = no_redirects()
        .get(app.url("/console/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

#[actix_web::test]
async fn malformed_forms_and_hostile_paths_are_4xx_pages_never_500() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, _, _) = admin.create_app("live").await;
    let long = "n".repeat(201);
    let huge = "x".repeat(20_000);
    let bad_app_forms: Vec<Vec<(&str, &str)>> = vec![
        vec![("scopes", "cases:read"), ("environment", "live")],
        vec![("name", "x"), ("scopes", "cases:read")],
        vec![("name", "x"), ("environment", "prod")],
        vec![("name", "x"), ("environment", "live"), ("scopes", "root")],
        vec![("name", "x"), ("environment", "live"), ("tier", "gold")],
        vec![("name", &long), ("environment", "live")],
        vec![("name", "   "), ("environment", "live")],
        vec![("name", "a\u{0}b"), ("environment", "live")],
        vec![("name", "x"), ("name", "y"), ("environment", "live")],
        vec![("name", &huge), ("environment", "live")],
    ];
    for form in &bad_app_forms {
        let resp = admin.post("/console/applications", form).await;
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {form:?}");
        assert_html(&resp);
    }
    let bad_key_forms: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("name", "x"),
            ("environment", "sandbox"),
            ("expires_on", "tomorrow"),
        ],
        vec![
            ("name", "x"),
            ("environment", "sandbox"),
            ("expires_on", "2001-01-01"),
        ],
        vec![
            ("name", "x"),
            ("environment", "sandbox"),
            ("expires_on", "2026-02-30"),
        ],
        vec![("name", ""), ("environment", "sandbox")],
    ];
    for form in &bad_key_forms {
        let resp = admin.post("/console/api-keys", form).await;
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {form:?}");
    }
    let rotate = format!("/console/applications/{client_id}/rotate-secret");
    for grace in ["abc", "-1", "99999999999", "1.5"] {
        let resp = admin
            .post(&rotate, &[("grace_period_seconds", grace)])
            .await;
        assert_eq!(resp.status(), 400, "grace {grace}");
    }
    // Far past the form limit (and actix's default payload limit): still this 400 page.
    let resp = admin
        .post_raw(
            "/console/applications",
            format!(
                "csrf_token={}&environment=live&name={}",
                admin.csrf,
                "x".repeat(300_000)
            ),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_html(&resp);
    // Not a form at all.
    let resp = admin
        .http
        .post(app.url("/console/applications"))
        .header(header::COOKIE, &admin.cookie)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"name\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    for query in ["environment=prod", "status=maybe", "environment=%FF"] {
        let resp = admin.get(&format!("/console/applications?{query}")).await;
        assert_eq!(resp.status(), 400, "{query}");
        assert_html(&resp);
    }
    for query in [
        "from=yesterday",
        "to=2026-13-01",
        "before_seq=-3",
        "from=2026-02-01&to=2026-01-01",
    ] {
        let resp = admin.get(&format!("/console/audit?{query}")).await;
        assert_eq!(resp.status(), 400, "{query}");
    }
    for path in [
        "/console/applications/..%2F..%2Fetc%2Fpasswd",
        "/console/applications/app_%00x",
        "/console/applications/app_x'%20OR%201=1",
        "/console/api-keys/key_%00",
        "/console/api-keys/key_..%2F..%2Fx",
        "/console/nothing-here",
    ] {
        let resp = admin.get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_html(&resp);
    }
    for path in [
        "/console/applications/app_%00x/disable",
        "/console/operators/op_%00/disable",
        "/console/operators/..%2Fx/role",
    ] {
        let resp = admin.post(path, &[("role", "admin")]).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(
        admin_list(&app, "/admin/applications").await.len(),
        1,
        "nothing written"
    );
    assert!(admin_list(&app, "/admin/api-keys").await.is_empty());
}

#[actix_web::test]
async fn last_token_is_never_until_a_token_is_issued_then_flushed_in_a_batch() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("live").await;
    let path = format!("/console/applications/{client_id}");
    assert!(admin
        .page(&path)
        .await
        .contains("<dd id=\"last-token\">never</dd>"));
    assert_eq!(token_status(&app, &client_id, &secret).await, 200);
    // The test server flushes every second (LAST_USED_FLUSH_SECS=1).
    let mut shown = false;
    for _ in 0..40 {
        let html = admin.page(&path).await;
        if !html.contains("<dd id=\"last-token\">never</dd>") {
            assert!(html.contains("<dd id=\"last-token\"><time datetime="));
            shown = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "last_token_at was written by the flush");
    let apps = admin_list(&app, "/admin/applications").await;
    assert!(apps[0]["last_token_at"].is_string(), "{}", apps[0]);
}

#[actix_web::test]
async fn admins_manage_operators_and_the_setup_link_is_shown_once() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let resp = admin
        .post(
            "/console/operators",
            &[
                ("email", "New@Example.com"),
                ("role", "auditor"),
                ("password", ""),
            ],
        )
        .await;
    let html = admin.follow(resp).await;
    let link = secret_in(&html).expect("the setup link, once");
    assert!(
        link.starts_with(&format!("{ISSUER}/console/setup?token=")),
        "{link}"
    );
    let list = admin.page("/console/operators").await;
    assert!(list.contains("new@example.com") && !list.contains(&link));
    assert!(list.contains("id=\"operators\"") && list.contains("id=\"create-operator\""));

    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    let base = format!("/console/operators/{}", dev.id);
    assert!(list.contains(&format!("data-id=\"{}\"", admin.id)));
    let resp = admin
        .post(&format!("{base}/role"), &[("role", "overlord")])
        .await;
    assert_eq!(resp.status(), 400);
    let resp = admin
        .post(&format!("{base}/role"), &[("role", "auditor")])
        .await;
    assert_eq!(resp.status(), 303);
    // Now an auditor: the audit trail opens for them.
    assert_eq!(dev.get("/console/audit").await.status(), 200);
    let resp = admin.post(&format!("{base}/disable"), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        dev.get("/console/applications").await.status(),
        303,
        "signed out"
    );
    // An admin cannot lock themselves out.
    let resp = admin
        .post(&format!("/console/operators/{}/disable", admin.id), &[])
        .await;
    assert_eq!(resp.status(), 400);
    // A duplicate email is refused.
    let resp = admin
        .post(
            "/console/operators",
            &[("email", "new@example.com"), ("role", "admin")],
        )
        .await;
    assert!(resp.status().is_client_error());
}

#[actix_web::test]
async fn the_audit_trail_shows_console_actions_as_the_operator_filtered_paged_and_exported() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("live").await;
    admin
        .post(&format!("/console/applications/{client_id}/disable"), &[])
        .await;
    let html = admin.page("/console/audit?action=application.create").await;
    let table = between(&html, "id=\"audit-events\"", "</table>").unwrap();
    assert_eq!(table.matches("<tr data-id=").count(), 1, "{table}");
    assert!(table.contains("admin@example.com") && table.contains(&client_id));
    assert!(!html.contains(&secret), "no secret in the trail");
    let html = admin
        .page(&format!(
            "/console/audit?actor={}&target={client_id}",
            admin.id
        ))
        .await;
    let table = between(&html, "id=\"audit-events\"", "</table>").unwrap();
    assert!(table.contains("application.disable") && table.contains("application.create"));
    let html = admin.page("/console/audit?actor=op_nobody").await;
    assert!(!html.contains("<tr data-id="), "no events of another actor");
    let html = admin
        .page("/console/audit?from=2001-01-01&to=2001-01-02")
        .await;
    assert!(!html.contains("<tr data-id="), "nothing in 2001");
    // `to` names a day and includes it: today..today holds today's events.
    // (From yesterday, so that a run across midnight still holds the event.)
    let now = chrono::Utc::now();
    let today = now.format("%Y-%m-%d").to_string();
    let yesterday = (now - chrono::Duration::days(1)).format("%Y-%m-%d");
    let html = admin
        .page(&format!(
            "/console/audit?action=application.create&from={yesterday}&to={today}"
        ))
        .await;
    assert_eq!(html.matches("<tr data-id=").count(), 1, "today's event");

    // Pages of 50, newest first, by before_seq.
    for i in 0..55 {
        let resp = app
            .admin_post(
                "/admin/api-keys",
                &serde_json::json!({"name": format!("k{i}"), "environment": "sandbox", "scopes": []}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let first = admin.page("/console/audit").await;
    let rows = |html: &str| html.matches("<tr data-id=").count();
    assert_eq!(rows(&first), 50);
    let next = between(&first, "<a id=\"next-page\" href=\"", "\"")
        .expect("a link to older events")
        .replace("&amp;", "&");
    let second = admin.page(&next).await;
    assert!(rows(&second) >= 7, "the older events");
    let first_seqs: Vec<&str> = first
        .split("<tr data-id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let second_seqs: Vec<&str> = second
        .split("<tr data-id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(
        second_seqs.iter().all(|s| !first_seqs.contains(s)),
        "no overlap"
    );

    let resp = admin
        .get(&format!("/console/audit/export?target={client_id}"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/x-ndjson"
    );
    let body = resp.text().await.unwrap();
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["action"], "application.create");
    assert_eq!(events[0]["actor_type"], "operator");
    assert_eq!(events[0]["actor_id"], admin.id.as_str());

    let auditor = Console::sign_in(&app, "audit@example.com", Role::Auditor).await;
    assert_eq!(auditor.get("/console/audit/export").await.status(), 200);
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    assert_eq!(dev.get("/console/audit/export").await.status(), 403);
}

#[actix_web::test]
async fn the_token_endpoint_does_not_write_last_token_at_per_token() {
    // A flush interval far beyond the test: nothing may be written by the token request itself.
    let app = crate::helpers::spawn_app_with(|c| c.last_used_flush_secs = 3600).await;
    let client = app.create_app(&["cases:read"], "live").await;
    for _ in 0..3 {
        assert_eq!(
            token_status(&app, &client.client_id, &client.client_secret).await,
            200
        );
    }
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let apps = admin_list(&app, "/admin/applications").await;
    assert!(apps[0].get("last_token_at").is_none(), "{}", apps[0]);
}

#[actix_web::test]
async fn keys_expiring_within_a_week_are_marked_in_words_not_colour_alone() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let later = (chrono::Utc::now() + chrono::Duration::days(60))
        .format("%Y-%m-%d")
        .to_string();
    let mut ids = Vec::new();
    for date in [&soon, &later] {
        let resp = admin
            .post(
                "/console/api-keys",
                &[
                    ("name", "ci"),
                    ("environment", "sandbox"),
                    ("scopes", "cases:read"),
                    ("expires_on", date),
                ],
            )
            .await;
        ids.push(key_id_in(&admin.follow(resp).await));
    }
    let list = admin.page("/console/api-keys").await;
    let row = |id: &str| {
        let at = list.find(&format!("data-id=\"{id}\"")).unwrap();
        let start = list[..at].rfind("<tr").unwrap();
        let end = start + list[start..].find("</tr>").unwrap();
        list[start..end].to_owned()
    };
    let near = row(&ids[0]);
    assert!(
        near.contains("class=\"expiring\"") && near.contains("Expiring soon"),
        "{near}"
    );
    assert!(near.contains("cf_sand_"), "the masked token: {near}");
    let far = row(&ids[1]);
    assert!(
        !far.contains("expiring") && !far.contains("Expiring soon"),
        "{far}"
    );
}

// --- issue 22: post/redirect/get, refused forms ----------------------------------------------

/// The `Location` of a 303.
fn location_of(resp: &reqwest::Response) -> String {
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_created_or_rotated_secret_is_shown_once_after_a_303_and_a_reload_creates_nothing() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let other = Console::sign_in(&app, "other@example.com", Role::Admin).await;

    // An application: 303 to its "created" page; the first GET shows the secret.
    let resp = admin
        .post(
            "/console/applications",
            &[
                ("name", "once"),
                ("scopes", "cases:read"),
                ("environment", "sandbox"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let created = location_of(&resp);
    assert!(created.ends_with("/created"), "{created}");
    // Another session cannot take it, not even first.
    let stolen = other.page(&created).await;
    assert!(
        secret_in(&stolen).is_none(),
        "another session's page has no secret"
    );
    let first = admin.page(&created).await;
    let secret = secret_in(&first).expect("the secret, the first time");
    assert_eq!(
        token_status(&app, created.split('/').nth(3).unwrap(), &secret).await,
        200
    );
    // A reload: the same credential, no secret, and nothing new was made.
    let again = admin.page(&created).await;
    assert!(secret_in(&again).is_none() && !again.contains(&secret));
    assert!(again.contains("id=\"secret-gone\"") && again.contains("<h1>Application created</h1>"));
    assert_eq!(admin_list(&app, "/admin/applications").await.len(), 1);

    // An API key, likewise.
    let (status, html) = admin.create_key("sandbox").await;
    assert_eq!(status, 303);
    let key = secret_in(&html).expect("the key, the first time");
    let key_page = format!("/console/api-keys/{}/created", key_id_in(&html));
    let again = admin.page(&key_page).await;
    assert!(!again.contains(&key) && again.contains("id=\"secret-gone\""));
    assert_eq!(admin_list(&app, "/admin/api-keys").await.len(), 1);

    // A rotation: 303 to `rotated`, the new secret once; a reload rotates nothing.
    let client_id = created.split('/').nth(3).unwrap().to_owned();
    let resp = admin
        .post(
            &format!("/console/applications/{client_id}/rotate-secret"),
            &[("grace_period_seconds", "0")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let rotated = location_of(&resp);
    assert_eq!(
        rotated,
        format!("/console/applications/{client_id}/rotated?grace=0")
    );
    let new = secret_in(&admin.page(&rotated).await).expect("the new secret, once");
    let again = admin.page(&rotated).await;
    assert!(!again.contains(&new) && again.contains("id=\"secret-gone\""));
    assert_eq!(
        token_status(&app, &client_id, &new).await,
        200,
        "still the current one"
    );
    assert_eq!(token_status(&app, &client_id, &secret).await, 401);
}

#[actix_web::test]
async fn an_application_without_a_scope_is_refused_in_an_error_box_with_the_form_kept() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let resp = admin
        .post(
            "/console/applications",
            &[
                ("name", "no scope <b>"),
                ("description", "kept as typed"),
                ("environment", "live"),
                ("tier", "enterprise"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_html(&resp);
    let html = resp.text().await.unwrap();
    let error = between(&html, "class=\"error-box\" id=\"error\"", "</p>").expect("an error box");
    assert!(error.contains("at least one scope"), "{error}");
    assert!(!html.contains("flash success"), "not the success box");
    assert!(
        html.contains("<nav aria-label=\"Console\""),
        "the normal page, with navigation"
    );
    let form = between(&html, "id=\"create-application\"", "</form>").unwrap();
    assert!(form.contains("value=\"no scope &lt;b&gt;\""), "{form}");
    assert!(form.contains(">kept as typed</textarea>"), "{form}");
    assert!(form.contains("<option value=\"live\" selected>"), "{form}");
    assert!(
        form.contains("<option value=\"enterprise\" selected>"),
        "{form}"
    );
    assert!(admin_list(&app, "/admin/applications").await.is_empty());

    // An API key refused (an expiry in the past) keeps its fields too, scopes included.
    let resp = admin
        .post(
            "/console/api-keys",
            &[
                ("name", "nightly"),
                ("environment", "sandbox"),
                ("scopes", "sar:read"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(between(&html, "id=\"error\"", "</p>").is_some());
    let form = between(&html, "id=\"create-api-key\"", "</form>").unwrap();
    assert!(form.contains("value=\"nightly\"") && form.contains("value=\"2001-01-01\""));
    assert!(
        form.contains("value=\"sar:read\" id=\"scope-sar-read\" checked"),
        "{form}"
    );
    assert!(admin_list(&app, "/admin/api-keys").await.is_empty());

    // An operator refused (a short password) keeps the email and role, never the password.
    let resp = admin
        .post(
            "/console/operators",
            &[
                ("email", "new@example.com"),
                ("role", "auditor"),
                ("password", "short pw"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    let form = between(&html, "id=\"create-operator\"", "</form>").unwrap();
    assert!(form.contains("value=\"new@example.com\""));
    assert!(form.contains("<option value=\"auditor\" selected>"));
    assert!(
        !html.contains("short pw"),
        "a password is never shown again"
    );
}

#[actix_web::test]
async fn error_pages_of_a_signed_in_operator_keep_the_navigation_and_use_the_error_box() {
    let app = spawn_app().await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    for (path, status) in [
        ("/console/applications/app_0123456789abcdefghijkl", 404),
        ("/console/operators", 403),
        ("/console/nowhere", 404),
    ] {
        let resp = dev.get(path).await;
        assert_eq!(resp.status(), status, "{path}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("<nav aria-label=\"Console\""),
            "{path}: {html}"
        );
        assert!(html.contains("class=\"error-box\" id=\"error\""), "{path}");
        assert!(!html.contains("flash"), "{path}");
    }
    // Without a session the same page has no navigation.
    let resp = no_redirects()
        .get(app.url("/console/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await.unwrap().contains("<nav"));
}

#[actix_web::test]
async fn a_refused_rotation_or_a_taken_email_comes_back_as_typed_with_its_status() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let (client_id, secret, _) = admin.create_app("sandbox").await;
    let resp = admin
        .post(
            &format!("/console/applications/{client_id}/rotate-secret"),
            &[
                ("grace_period_seconds", "99999999"),
                ("revoke_tokens", "yes"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-box\" id=\"error\"") && html.contains("<nav"));
    let form = between(&html, "id=\"rotate-secret\"", "</form>").unwrap();
    assert!(form.contains("value=\"99999999\""), "{form}");
    assert!(form.contains("id=\"rotate-revoke\" checked"), "{form}");
    assert_eq!(
        token_status(&app, &client_id, &secret).await,
        200,
        "not rotated"
    );

    // An email already taken is a conflict (409), the form kept.
    let resp = admin
        .post(
            "/console/operators",
            &[("email", "admin@example.com"), ("role", "developer")],
        )
        .await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-box\" id=\"error\""));
    let form = between(&html, "id=\"create-operator\"", "</form>").unwrap();
    assert!(form.contains("value=\"admin@example.com\""), "{form}");
}

#[actix_web::test]
async fn a_key_registered_application_is_created_shown_and_rotated_without_a_secret() {
    use shared::test_keys::TestKey;
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let es = TestKey::named("es256");
    let jwks = serde_json::json!({"keys": [es.jwk_with_kid("one")]}).to_string();
    let resp = admin
        .post(
            "/console/applications",
            &[
                ("name", "signer"),
                ("scopes", "cases:read"),
                ("environment", "sandbox"),
                ("jwks", &jwks),
                ("dpop_bound", "yes"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page_url = location_of(&resp);
    assert!(page_url.ends_with("?done=created_with_keys"), "{page_url}");
    let html = admin.page(&page_url).await;
    let thumbprint = shared::jose::PublicJwk::parse(&es.jwk)
        .unwrap()
        .thumbprint()
        .to_owned();
    assert!(
        html.contains("private_key_jwt") && html.contains(&thumbprint),
        "{html}"
    );
    assert!(html.contains("required"), "DPoP required shown");
    assert!(secret_in(&html).is_none() && !html.contains("Rotate secret"));
    // Replace the keys; a private key is refused with the reason, nothing changes.
    let base = page_url.split('?').next().unwrap().to_owned();
    let mut private = es.jwk.clone();
    private["d"] = es.entry["d"].clone();
    let bad = serde_json::json!({"keys": [private]}).to_string();
    let resp = admin.post(&format!("{base}/jwks"), &[("jwks", &bad)]).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("private") && !text.contains(es.entry["d"].as_str().unwrap()));
    let ed = TestKey::named("eddsa");
    let new = serde_json::json!({"keys": [ed.jwk_with_kid("two")]}).to_string();
    let resp = admin.post(&format!("{base}/jwks"), &[("jwks", &new)]).await;
    assert_eq!(resp.status(), 303);
    let html = admin.page(&base).await;
    let new_thumbprint = shared::jose::PublicJwk::parse(&ed.jwk)
        .unwrap()
        .thumbprint()
        .to_owned();
    assert!(html.contains(&new_thumbprint) && !html.contains(&thumbprint));
}

// --- webhooks (issue 25) ------------------------------------------------------------------------

/// The endpoint id on an endpoint's page.
fn endpoint_id_in(html: &str) -> String {
    between(html, "<dt>Id</dt><dd><code>", "</code>")
        .expect("endpoint id")
        .to_owned()
}

/// The stored endpoint rows, straight from the table the resource API reads.
async fn endpoint_rows(app: &TestApp) -> Vec<shared::webhooks::endpoint::WebhookEndpointRow> {
    use diesel::prelude::*;
    use shared::db::schema::webhook_endpoints;
    crate::console_helpers::db_of(app)
        .run(|c| {
            webhook_endpoints::table
                .order(webhook_endpoints::created_at.asc())
                .select(shared::webhooks::endpoint::WebhookEndpointRow::as_select())
                .load(c)
        })
        .await
        .unwrap()
}

/// The resource API's sealer in the tests (both services' `Config::for_tests` use this key).
fn sealer() -> shared::webhooks::secret::Sealer {
    shared::webhooks::Settings::for_tests().sealer().unwrap()
}

impl Console<'_> {
    async fn create_endpoint(
        &self,
        environment: &str,
        url: &str,
        events: &[&str],
    ) -> reqwest::Response {
        let mut form = vec![
            ("url", url),
            ("description", "ticketing"),
            ("environment", environment),
        ];
        form.extend(events.iter().map(|e| ("events", *e)));
        self.post("/console/webhooks", &form).await
    }
}

#[actix_web::test]
async fn admins_manage_webhook_endpoints_and_each_secret_is_shown_once() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let resp = admin
        .create_endpoint(
            "live",
            "https://hooks.example.com/caseforge",
            &["case.created", "sar.submitted"],
        )
        .await;
    let html = admin.follow(resp).await;
    assert!(html.contains("<h1>Endpoint created</h1>"), "{html}");
    let secret = secret_in(&html).expect("the secret, once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = endpoint_id_in(&html);
    // Sealed at rest under the resource API's key, for this endpoint: the resource API can
    // sign with exactly the secret the operator was shown.
    let rows = endpoint_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(!row.secret_sealed.contains(&secret[6..]));
    let opened = sealer().open(&id, &row.secret_sealed).expect("opens");
    assert_eq!(opened.to_whsec(), secret);
    assert_eq!(row.environment, "live");
    assert_eq!(row.owner_id, None, "an admin's endpoint is ops-managed");
    assert_eq!(row.event_names(), ["case.created", "sar.submitted"]);
    // A reload shows no secret and makes nothing.
    let again = admin.page(&format!("/console/webhooks/{id}/created")).await;
    assert!(!again.contains(&secret) && again.contains("id=\"secret-gone\""));
    assert_eq!(endpoint_rows(&app).await.len(), 1);

    // Listed; its page has the change form at the stored version.
    let list = admin.page("/console/webhooks").await;
    assert!(list.contains(&format!("<tr data-id=\"{id}\"")) && !list.contains(&secret));
    let page = admin.page(&format!("/console/webhooks/{id}")).await;
    assert!(
        page.contains("id=\"change-webhook\"") && page.contains("name=\"version\" value=\"1\"")
    );

    // A change: url and events replaced.
    let resp = admin
        .post(
            &format!("/console/webhooks/{id}/edit"),
            &[
                ("version", "1"),
                ("url", "https://hooks.example.com/v2"),
                ("description", "ticketing v2"),
                ("events", "case.closed"),
            ],
        )
        .await;
    assert_eq!(
        location_of(&resp),
        format!("/console/webhooks/{id}?done=webhook_changed")
    );
    let row = endpoint_rows(&app).await.remove(0);
    assert_eq!(
        (row.url.as_str(), row.version),
        ("https://hooks.example.com/v2", 2)
    );
    assert_eq!(row.event_names(), ["case.closed"]);
    // A form rendered before that change is refused (409), as typed, and writes nothing.
    let resp = admin
        .post(
            &format!("/console/webhooks/{id}/edit"),
            &[
                ("version", "1"),
                ("url", "https://stale.example.com/"),
                ("events", "case.created"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"error\"") && html.contains("https://stale.example.com/"));
    assert_eq!(
        endpoint_rows(&app).await[0].url,
        "https://hooks.example.com/v2"
    );

    // Disable, enable.
    let resp = admin
        .post(&format!("/console/webhooks/{id}/disable"), &[])
        .await;
    assert_eq!(resp.status(), 303);
    assert!(!endpoint_rows(&app).await[0].enabled);
    admin
        .post(&format!("/console/webhooks/{id}/enable"), &[])
        .await;
    assert!(endpoint_rows(&app).await[0].enabled);

    // A rotation: the new secret once; the old one keeps signing for the grace period.
    let resp = admin
        .post(
            &format!("/console/webhooks/{id}/rotate-secret"),
            &[("grace_period_seconds", "3600")],
        )
        .await;
    let html = admin.follow(resp).await;
    let new = secret_in(&html).expect("the new secret, once");
    assert_ne!(new, secret);
    let row = endpoint_rows(&app).await.remove(0);
    assert_eq!(
        sealer().open(&id, &row.secret_sealed).unwrap().to_whsec(),
        new
    );
    let previous = row
        .previous_secret_sealed
        .as_deref()
        .expect("the previous secret");
    assert_eq!(sealer().open(&id, previous).unwrap().to_whsec(), secret);
    let left = row.previous_secret_expires_at.unwrap() - row.updated_at;
    assert_eq!(left, 3600 * 1_000_000);

    // Delete needs the confirmation step.
    let resp = admin
        .post(&format!("/console/webhooks/{id}/delete"), &[])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        endpoint_rows(&app).await.len(),
        1,
        "not without confirm=yes"
    );
    let resp = admin
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(location_of(&resp), "/console/webhooks?done=webhook_deleted");
    assert!(endpoint_rows(&app).await.is_empty());
    assert_eq!(
        admin.get(&format!("/console/webhooks/{id}")).await.status(),
        404
    );

    // Every change is in the audit trail, as the operator.
    let actions: Vec<String> = crate::console_helpers::audit_actions(&app)
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .filter(|a| a.starts_with("webhook_endpoint."))
        .collect();
    assert_eq!(
        actions,
        [
            "webhook_endpoint.create",
            "webhook_endpoint.update",
            "webhook_endpoint.disable",
            "webhook_endpoint.enable",
            "webhook_endpoint.rotate_secret",
            "webhook_endpoint.delete"
        ]
    );
}

#[actix_web::test]
async fn developers_manage_only_their_own_sandbox_endpoints_and_auditors_only_read() {
    let app = spawn_app().await;
    let dev = Console::sign_in(&app, "dev@example.com", Role::Developer).await;
    let other = Console::sign_in(&app, "other@example.com", Role::Developer).await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let auditor = Console::sign_in(&app, "audit@example.com", Role::Auditor).await;

    let html = dev
        .follow(
            dev.create_endpoint("sandbox", "http://127.0.0.1:9/mine", &["case.created"])
                .await,
        )
        .await;
    let mine = endpoint_id_in(&html);
    let html = other
        .follow(
            other
                .create_endpoint("sandbox", "http://127.0.0.1:9/theirs", &["case.created"])
                .await,
        )
        .await;
    let theirs = endpoint_id_in(&html);
    let html = admin
        .follow(
            admin
                .create_endpoint("sandbox", "http://127.0.0.1:9/ops", &["case.created"])
                .await,
        )
        .await;
    let ops = endpoint_id_in(&html);
    let rows = endpoint_rows(&app).await;
    assert_eq!(rows[0].owner_id.as_deref(), Some(dev.id.as_str()));

    // A developer lists and opens only their own; the others are 404 for every action.
    let list = dev.page("/console/webhooks").await;
    assert!(list.contains(&format!("data-id=\"{mine}\"")));
    assert!(!list.contains(&theirs) && !list.contains(&ops));
    for id in [&theirs, &ops, &"whe_doesnotexist".to_owned()] {
        assert_eq!(
            dev.get(&format!("/console/webhooks/{id}")).await.status(),
            404,
            "{id}"
        );
        for (action, form) in [
            ("disable", vec![]),
            ("rotate-secret", vec![]),
            ("delete", vec![("confirm", "yes")]),
            (
                "edit",
                vec![
                    ("version", "1"),
                    ("url", "http://127.0.0.1:9/x"),
                    ("events", "case.created"),
                ],
            ),
        ] {
            let resp = dev
                .post(&format!("/console/webhooks/{id}/{action}"), &form)
                .await;
            assert_eq!(resp.status(), 404, "{action} {id}");
        }
    }
    // A forged live endpoint is 403 and writes nothing; the form offers only sandbox.
    let form = dev.page("/console/webhooks").await;
    assert!(!between(&form, "id=\"create-webhook\"", "</form>")
        .unwrap()
        .contains("value=\"live\""));
    let resp = dev
        .create_endpoint("live", "https://hooks.example.com/x", &["case.created"])
        .await;
    assert_eq!(resp.status(), 403);
    // The auditor reads every endpoint and changes none.
    let list = auditor.page("/console/webhooks").await;
    for id in [&mine, &theirs, &ops] {
        assert!(list.contains(&format!("data-id=\"{id}\"")), "{id}");
    }
    assert!(!list.contains("id=\"create-webhook\""));
    let page = auditor.page(&format!("/console/webhooks/{mine}")).await;
    assert!(!page.contains("id=\"change-webhook\"") && !page.contains("Rotate secret"));
    let resp = auditor
        .create_endpoint("sandbox", "http://127.0.0.1:9/a", &["case.created"])
        .await;
    assert_eq!(resp.status(), 403);
    let resp = auditor
        .post(&format!("/console/webhooks/{mine}/disable"), &[])
        .await;
    assert_eq!(resp.status(), 403);
    let rows = endpoint_rows(&app).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.enabled && r.environment == "sandbox"));
}

#[actix_web::test]
async fn a_refused_endpoint_form_comes_back_as_typed_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let url = "https://hooks.example.com/typed";
    for (events, bad_url, why) in [
        (vec![], url, "at least one event type"),
        (
            vec!["case.exploded"],
            url,
            "every event type must be one of",
        ),
        (
            vec!["case.created"],
            "ftp://hooks.example.com/",
            "absolute http:// or https:// URL",
        ),
        (
            vec!["case.created"],
            "https://user:pw@hooks.example.com/",
            "user name or password",
        ),
    ] {
        let resp = admin.create_endpoint("sandbox", bad_url, &events).await;
        assert_eq!(resp.status(), 400, "{why}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("id=\"error\"") && html.contains(why),
            "{why}: {html}"
        );
        assert!(
            html.contains(&format!("value=\"{bad_url}\"")),
            "kept as typed"
        );
    }
    let resp = admin
        .post(
            "/console/webhooks",
            &[
                ("url", url),
                ("environment", "sandbox"),
                ("events", "case.created"),
                ("description", "bell\u{7}"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = admin
        .post(
            "/console/webhooks",
            &[
                ("url", url),
                ("environment", "staging"),
                ("events", "case.created"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(endpoint_rows(&app).await.is_empty());

    // Hostile ids and bad numbers are 4xx pages, never 500.
    let id = endpoint_id_in(
        &admin
            .follow(
                admin
                    .create_endpoint("sandbox", url, &["case.created"])
                    .await,
            )
            .await,
    );
    for path in [
        "/console/webhooks/..%2f..%2fetc",
        "/console/webhooks/whe_%00",
        "/console/webhooks/x'%20OR%201=1",
    ] {
        let status = admin.get(path).await.status();
        assert_eq!(status, 404, "{path}");
    }
    for grace in ["abc", "-1", "604801", "99999999999999999999999"] {
        let resp = admin
            .post(
                &format!("/console/webhooks/{id}/rotate-secret"),
                &[("grace_period_seconds", grace)],
            )
            .await;
        assert_eq!(resp.status(), 400, "{grace}");
    }
    let resp = admin
        .post(
            &format!("/console/webhooks/{id}/edit"),
            &[("version", "x"), ("url", url), ("events", "case.created")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let row = endpoint_rows(&app).await.remove(0);
    assert_eq!((row.version, row.previous_secret_sealed), (1, None));
}

#[actix_web::test]
async fn without_the_webhook_key_endpoints_are_listed_and_changed_but_not_created() {
    let app = spawn_app_with(|c| c.console.webhooks.secret_key = None).await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let resp = admin
        .create_endpoint("sandbox", "https://hooks.example.com/x", &["case.created"])
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("WEBHOOK_SECRET_KEY"), "{html}");
    assert!(endpoint_rows(&app).await.is_empty());
}

#[actix_web::test]
async fn the_console_refuses_an_endpoint_past_the_environments_cap() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let admin = Console::sign_in(&app, "admin@example.com", Role::Admin).await;
    let max = shared::webhooks::MAX_ENDPOINTS_PER_ENVIRONMENT;
    // Made through /v2 (the cap counts every endpoint of the environment, whoever made it).
    let rows: Vec<_> = (0..max)
        .map(|i| {
            shared::webhooks::endpoint::WebhookEndpointRow::new(
                format!("whe_api{i}"),
                "live",
                format!("https://hooks.example.com/{i}"),
                r#"["case.created"]"#.into(),
                String::new(),
                None,
                &sealer(),
                1,
            )
            .0
        })
        .collect();
    crate::console_helpers::db_of(&app)
        .run(move |c| {
            for row in &rows {
                diesel::insert_into(shared::db::schema::webhook_endpoints::table)
                    .values(row)
                    .execute(c)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let resp = admin
        .create_endpoint("live", "https://hooks.example.com/more", &["case.created"])
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"error\"") && html.contains("already has 50 endpoints"));
    let resp = admin
        .create_endpoint(
            "sandbox",
            "https://hooks.example.com/more",
            &["case.created"],
        )
        .await;
    assert_eq!(resp.status(), 303, "sandbox has room");
    assert_eq!(endpoint_rows(&app).await.len() as i64, max + 1);
}
