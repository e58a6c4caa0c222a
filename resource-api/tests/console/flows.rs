//! The console as a person uses it (issue 11): a real headless Chromium signs in, fills and
//! submits the real forms (so the CSRF field and the `Origin` header are the browser's own),
//! and the credentials it makes are then used against the real `/oauth/token` and `/v2`.
//! Every step leaves a screenshot under `target/console-screenshots/<test>/`.
//!
//! The forged POSTs (a live key from a developer, a cross-origin form) are the HTTP tests'
//! (`auth-server/tests/api/console_*.rs`); here is what only a browser shows: what the pages
//! offer, what they keep on screen, and that a person can get through them.

use std::time::{Duration, Instant};

use auth_server::service::api_keys::{self, CreateApiKey};
use auth_server::service::audit::AuditContext;
use auth_server::service::operators::Role;
use fantoccini::key::Key;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::stack::{Stack, ADMIN, PASSWORD};

const ADMIN_EMAIL: &str = "ada@caseforge.test";
const DEV_EMAIL: &str = "dev@caseforge.test";
/// Revocation and last use reach the resource API within this (the bound is 5 s; the stack
/// polls and flushes every second).
const PROPAGATION: Duration = Duration::from_secs(10);

/// A credential just made in the console: its id (client id or key id) and the once-shown secret.
struct Made {
    id: String,
    secret: String,
}

async fn start(test: &str) -> Option<(Browser, Stack)> {
    let browser = Browser::start(test).await?;
    Some((browser, Stack::start().await))
}

fn url(stack: &Stack, path: &str) -> String {
    format!("{}{path}", stack.auth)
}

/// Signs in through the login form and lands on the dashboard.
async fn sign_in(b: &mut Browser, stack: &Stack, email: &str) {
    b.goto(&url(stack, "/console/login")).await;
    b.fill("input[name=email]", email).await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("form.stack button[type=submit]").await;
    b.wait_path("/console/applications").await;
    b.wait_heading("Applications").await;
}

/// The first `<code>` of the page's field list: the id of what the page is about.
async fn shown_id(b: &Browser) -> String {
    b.text("dl.fields dd code").await
}

/// Creates a sandbox API key with `cases:read` through the form; the answer page is open.
async fn create_key(b: &mut Browser, stack: &Stack, name: &str) -> Made {
    b.goto(&url(stack, "/console/api-keys")).await;
    b.fill("#key-name", name).await;
    b.click("#scope-cases-read").await;
    b.click("#create-api-key button[type=submit]").await;
    b.wait_heading("API key created").await;
    Made {
        id: shown_id(b).await,
        secret: b.text("#secret").await,
    }
}

/// Creates a live application with `cases:read cases:write` through the form.
async fn create_application(b: &mut Browser, stack: &Stack, name: &str) -> Made {
    b.goto(&url(stack, "/console/applications")).await;
    b.fill("#app-name", name).await;
    b.fill("#app-description", "made in the browser test").await;
    b.click("#scope-cases-read").await;
    b.click("#scope-cases-write").await;
    b.click("#app-environment option[value=live]").await;
    b.click("#create-application button[type=submit]").await;
    b.wait_heading("Application created").await;
    Made {
        id: shown_id(b).await,
        secret: b.text("#secret").await,
    }
}

/// Rotates the secret of `client_id` with a grace period; returns the new secret.
async fn rotate_secret(b: &mut Browser, stack: &Stack, client_id: &str, grace: &str) -> String {
    b.goto(&url(stack, &format!("/console/applications/{client_id}")))
        .await;
    b.fill("#grace", grace).await;
    b.click("#rotate-secret button[type=submit]").await;
    b.wait_heading("Secret rotated").await;
    b.text("#secret").await
}

/// Revokes a key from the list: the row's Revoke link, then Confirm.
async fn revoke_key(b: &mut Browser, stack: &Stack, id: &str) {
    b.goto(&url(stack, "/console/api-keys")).await;
    b.click(&format!("#api-keys tr[data-id='{id}'] a.button"))
        .await;
    b.css("#confirm").await;
    assert!(b.text("h1").await.starts_with("Revoke "));
    b.shot("revoke-confirmation").await;
    b.click("#confirm button[type=submit]").await;
    b.wait_path("/console/api-keys").await;
    assert_eq!(b.text("#flash").await, "The API key was revoked.");
}

/// `POST /oauth/token` with client_secret_basic: the status and the JSON body.
async fn token(stack: &Stack, client_id: &str, secret: &str) -> (u16, Value) {
    let resp = stack
        .http
        .post(url(stack, "/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET /v2/me` with `X-API-Key`.
async fn me(stack: &Stack, key: &str) -> reqwest::Response {
    stack
        .http
        .get(format!("{}/v2/me", stack.api))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
}

/// `GET {auth}{path}` with the admin token, as JSON.
async fn admin_get(stack: &Stack, path: &str) -> Value {
    let resp = stack
        .http
        .get(url(stack, path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Polls `check` every 200 ms until it holds, at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The values of the options of the `<select>` matching `selector`.
async fn options(b: &Browser, selector: &str) -> Value {
    b.eval(&format!(
        "return [...document.querySelectorAll('{selector} option')].map(o => o.value)"
    ))
    .await
}

#[actix_web::test]
async fn a_wrong_password_is_refused_and_the_right_one_lands_on_the_dashboard() {
    let Some((mut b, stack)) = start("sign-in").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    b.goto(&url(&stack, "/console/applications")).await;
    b.wait_path("/console/login").await;
    b.shot("login-page").await;

    b.fill("input[name=email]", ADMIN_EMAIL).await;
    b.fill("input[name=password]", "not the password at all")
        .await;
    b.click("form.stack button[type=submit]").await;
    assert_eq!(
        b.text("#login-error").await,
        "The email, password or code is not correct."
    );
    b.wait_path("/console/login").await;
    b.wait_heading("Sign in").await;
    // The email stays filled in; the password does not.
    let kept = b
        .css("input[name=email]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some(ADMIN_EMAIL));
    let password = b
        .css("input[name=password]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(password.as_deref(), Some(""));
    b.shot("wrong-password").await;

    b.fill("input[name=password]", PASSWORD).await;
    b.click("form.stack button[type=submit]").await;
    b.wait_path("/console/applications").await;
    b.wait_heading("Applications").await;
    assert!(b.text("header .who").await.contains(ADMIN_EMAIL));
    b.shot("dashboard").await;
    b.quit().await;
}

#[actix_web::test]
async fn a_developer_key_is_shown_once_works_records_its_use_and_dies_when_revoked() {
    let Some((mut b, stack)) = start("developer-api-key").await else {
        return;
    };
    stack.operator(DEV_EMAIL, Role::Developer).await;
    sign_in(&mut b, &stack, DEV_EMAIL).await;

    let key = create_key(&mut b, &stack, "ci pipeline").await;
    assert!(key.secret.starts_with("cf_sand_"), "{}", key.secret);
    assert!(key.id.starts_with("key_"), "{}", key.id);
    b.shot("api-key-created").await;

    let resp = me(&stack, &key.secret).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["principal_type"], "api_key");
    assert_eq!(body["id"], key.id.as_str());
    assert_eq!(body["environment"], "sandbox");

    // Once left, the key is on no page: not the list, not its own page.
    for path in [
        "/console/api-keys".to_owned(),
        format!("/console/api-keys/{}", key.id),
    ] {
        b.goto(&url(&stack, &path)).await;
        b.css("main h1").await;
        let html = b.source().await;
        assert!(!html.contains(&key.secret), "{path} shows the key");
        assert!(html.contains(&key.id), "{path} is not about the key");
    }
    b.shot("api-key-detail").await;

    // The resource API flushes last use every second; the list shows it.
    let last_used = format!("#api-keys tr[data-id='{}'] td:nth-child(7)", key.id);
    eventually(PROPAGATION, "last used on the keys list", || async {
        b.goto(&url(&stack, "/console/api-keys")).await;
        b.text(&last_used).await != "never"
    })
    .await;
    assert!(b
        .css(&format!("{last_used} time"))
        .await
        .attr("datetime")
        .await
        .unwrap()
        .is_some());
    b.shot("api-key-last-used").await;

    revoke_key(&mut b, &stack, &key.id).await;
    let status = format!("#api-keys tr[data-id='{}'] td:nth-child(8)", key.id);
    assert_eq!(b.text(&status).await, "revoked");
    b.shot("api-key-revoked").await;
    eventually(PROPAGATION, "the revoked key refused", || async {
        me(&stack, &key.secret).await.status() == 401
    })
    .await;
    b.quit().await;
}

#[actix_web::test]
async fn a_developer_reaches_neither_admin_pages_nor_another_developers_key_nor_live() {
    let Some((mut b, stack)) = start("developer-limits").await else {
        return;
    };
    stack.operator(DEV_EMAIL, Role::Developer).await;
    let other = stack
        .operator("other@caseforge.test", Role::Developer)
        .await;
    let mut new = CreateApiKey {
        name: "someone else's key".into(),
        description: None,
        environment: "sandbox".into(),
        scopes: vec!["cases:read".into()],
        tier: None,
        expires_at: None,
    }
    .validate(shared::time::now_micros())
    .unwrap();
    new.owner_id = Some(other.id.clone());
    let theirs = api_keys::create(
        &stack.db(),
        &AuditContext::cli(&auth_server::service::audit::AuditKey::from_kek(
            &auth_server::kek::Kek::from_bytes([42; 32]),
        )),
        new,
        shared::time::now_micros(),
    )
    .await
    .unwrap()
    .api_key;

    sign_in(&mut b, &stack, DEV_EMAIL).await;
    let nav = b.text("header nav").await;
    assert!(nav.contains("API keys"), "{nav}");
    assert!(
        !nav.contains("Operators") && !nav.contains("Audit"),
        "{nav}"
    );

    for path in ["/console/operators", "/console/audit"] {
        b.goto(&url(&stack, path)).await;
        b.wait_heading("Forbidden").await;
        assert_eq!(b.text("#error").await, "Your role does not allow this.");
    }
    b.shot("operators-forbidden").await;

    b.goto(&url(&stack, &format!("/console/api-keys/{}", theirs.id)))
        .await;
    b.wait_heading("Not found").await;
    b.shot("other-developers-key").await;
    b.goto(&url(
        &stack,
        &format!("/console/api-keys/{}/revoke", theirs.id),
    ))
    .await;
    b.wait_heading("Not found").await;
    b.goto(&url(&stack, "/console/api-keys?environment=sandbox"))
        .await;
    b.wait_heading("API keys").await;
    assert!(!b.source().await.contains(&theirs.id));

    // The create forms offer only the sandbox.
    assert_eq!(options(&b, "#key-environment").await, json!(["sandbox"]));
    b.shot("create-key-form").await;
    b.goto(&url(&stack, "/console/applications")).await;
    assert_eq!(options(&b, "#app-environment").await, json!(["sandbox"]));
    b.quit().await;
}

#[actix_web::test]
async fn an_admin_application_gets_tokens_survives_rotation_in_grace_and_stops_when_disabled() {
    let Some((mut b, stack)) = start("admin-application").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;
    // An admin may create in either environment.
    assert_eq!(options_sorted(&b).await, json!(["live", "sandbox"]));

    let app = create_application(&mut b, &stack, "case intake").await;
    assert!(app.id.starts_with("app_"), "{}", app.id);
    b.shot("application-created").await;

    let (status, body) = token(&stack, &app.id, &app.secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "cases:read cases:write");
    assert_eq!(
        body["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("bearer")
    );

    b.goto(&url(&stack, "/console/applications")).await;
    let row = format!("#applications tr[data-id='{}']", app.id);
    assert!(b.text(&row).await.contains("case intake"));
    assert!(!b.source().await.contains(&app.secret));
    b.shot("applications-list").await;

    let rotated = rotate_secret(&mut b, &stack, &app.id, "300").await;
    assert_ne!(rotated, app.secret);
    assert!(b
        .text("#flash")
        .await
        .contains("keeps working for 300 seconds"));
    b.shot("secret-rotated").await;
    let (status, body) = token(&stack, &app.id, &rotated).await;
    assert_eq!(status, 200, "the new secret: {body}");
    let (status, body) = token(&stack, &app.id, &app.secret).await;
    assert_eq!(status, 200, "the old secret within its grace: {body}");

    b.goto(&url(&stack, &format!("/console/applications/{}", app.id)))
        .await;
    b.click("form[action$='/disable'] button[type=submit]")
        .await;
    b.css("#flash").await;
    assert_eq!(b.text("#status").await, "disabled");
    b.shot("application-disabled").await;
    for secret in [&rotated, &app.secret] {
        let (status, body) = token(&stack, &app.id, secret).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
    }
    b.quit().await;
}

/// The environment choices of the application form, sorted.
async fn options_sorted(b: &Browser) -> Value {
    let mut v: Vec<String> = serde_json::from_value(options(b, "#app-environment").await).unwrap();
    v.sort();
    json!(v)
}

#[actix_web::test]
async fn a_form_without_its_csrf_token_is_refused_and_creates_nothing() {
    let Some((mut b, stack)) = start("csrf").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;

    b.goto(&url(&stack, "/console/api-keys")).await;
    b.fill("#key-name", "forged").await;
    b.eval("document.querySelector('#create-api-key input[name=csrf_token]').remove()")
        .await;
    b.click("#create-api-key button[type=submit]").await;
    b.wait_heading("Forbidden").await;
    assert!(b
        .text("#error")
        .await
        .contains("was not sent by the console"));
    b.shot("forbidden").await;
    let keys = admin_get(&stack, "/admin/api-keys").await;
    assert_eq!(keys["data"], json!([]), "nothing was created");

    // The same form with its token does create: the refusal above was the token's.
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.fill("#key-name", "with its token").await;
    b.click("#create-api-key button[type=submit]").await;
    b.wait_heading("API key created").await;
    let keys = admin_get(&stack, "/admin/api-keys").await;
    let names: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["with its token"]);
    b.quit().await;
}

#[actix_web::test]
async fn after_logout_the_console_asks_to_sign_in_and_the_old_cookie_is_refused() {
    let Some((mut b, stack)) = start("logout").await else {
        return;
    };
    stack.operator(DEV_EMAIL, Role::Developer).await;
    sign_in(&mut b, &stack, DEV_EMAIL).await;
    let session = b.client.get_named_cookie("cf_session").await.unwrap();

    // Replaying the cookie works while the session lives: the replay below is a real test.
    b.client.delete_all_cookies().await.unwrap();
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.wait_path("/console/login").await;
    b.client.add_cookie(session.clone()).await.unwrap();
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.wait_heading("API keys").await;
    assert_eq!(b.path().await, "/console/api-keys");

    b.click("form.logout button[type=submit]").await;
    b.wait_path("/console/login").await;
    b.wait_heading("Sign in").await;
    b.shot("signed-out").await;
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.wait_path("/console/login").await;

    b.client.add_cookie(session.clone()).await.unwrap();
    let replayed = b.client.get_named_cookie("cf_session").await.unwrap();
    assert_eq!(replayed.value(), session.value());
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.wait_path("/console/login").await;
    b.wait_heading("Sign in").await;
    b.shot("old-cookie-refused").await;
    b.quit().await;
}

/// `(actor, action, outcome)` of every row of the audit table shown.
async fn audit_rows(b: &Browser) -> Vec<(String, String, String)> {
    b.css("#audit-events").await;
    let rows = b
        .eval(
            "return [...document.querySelectorAll('#audit-events tbody tr')]\
             .map(r => [r.cells[2].textContent, r.cells[3].textContent, r.cells[6].textContent])",
        )
        .await;
    serde_json::from_value(rows).unwrap()
}

#[actix_web::test]
async fn the_audit_page_shows_the_console_actions_by_their_operator_and_filters_by_action() {
    let Some((mut b, stack)) = start("audit").await else {
        return;
    };
    let admin = stack.operator(ADMIN_EMAIL, Role::Admin).await;
    // A refused sign-in first, then the real one.
    b.goto(&url(&stack, "/console/login")).await;
    b.fill("input[name=email]", ADMIN_EMAIL).await;
    b.fill("input[name=password]", "not the password at all")
        .await;
    b.click("form.stack button[type=submit]").await;
    b.css("#login-error").await;
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;

    let app = create_application(&mut b, &stack, "audited app").await;
    rotate_secret(&mut b, &stack, &app.id, "0").await;
    let key = create_key(&mut b, &stack, "audited key").await;
    revoke_key(&mut b, &stack, &key.id).await;
    // The refused sign-in reaches the trail with the next write of aggregated refusals.
    stack.flush_refusals();

    b.goto(&url(&stack, "/console/audit")).await;
    b.wait_heading("Audit trail").await;
    let rows = audit_rows(&b).await;
    let by_admin = format!("{ADMIN_EMAIL} ({})", admin.id);
    for action in [
        "session.login",
        "application.create",
        "application.rotate_secret",
        "api_key.create",
        "api_key.revoke",
    ] {
        assert!(
            rows.iter().any(|(actor, a, outcome)| a == action
                && *actor == by_admin
                && outcome == "success"),
            "no {action} by {by_admin} in {rows:?}"
        );
    }
    assert!(
        rows.iter()
            .any(|(_, a, outcome)| a == "session.login" && outcome == "denied"),
        "the refused sign-in: {rows:?}"
    );
    b.shot("audit-trail").await;

    b.fill("#f-action", "api_key.revoke").await;
    b.click("#filter button[type=submit]").await;
    eventually(PROPAGATION, "the filtered page", || async {
        b.client
            .current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or("")
            .contains("action=api_key.revoke")
    })
    .await;
    let rows = audit_rows(&b).await;
    assert_eq!(
        rows,
        [(
            by_admin.clone(),
            "api_key.revoke".to_owned(),
            "success".to_owned()
        )]
    );
    b.shot("audit-filtered").await;
    b.quit().await;
}

#[actix_web::test]
async fn at_phone_width_the_pages_do_not_scroll_sideways_and_the_nav_is_reachable() {
    let Some((mut b, stack)) = start("narrow").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    for name in ["a fairly long application name for a phone", "second"] {
        let resp = stack
            .http
            .post(url(&stack, "/admin/applications"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": name, "scopes": ["cases:read", "sar:read"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let resp = stack
        .http
        .post(url(&stack, "/admin/api-keys"))
        .bearer_auth(ADMIN)
        .json(
            &json!({"name": "nightly export", "environment": "sandbox", "scopes": ["cases:read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    b.client.set_window_size(390, 844).await.unwrap();
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;
    let width = b.eval("return window.innerWidth").await.as_u64().unwrap();
    assert!(width <= 390, "the window is {width} px wide");
    let no_sideways_scroll = "return document.documentElement.scrollWidth <= window.innerWidth";
    assert_eq!(
        b.eval(no_sideways_scroll).await,
        json!(true),
        "applications"
    );
    b.shot("applications-narrow").await;

    // Every nav link is on screen, and following one works.
    let off_screen = b
        .eval(
            "return [...document.querySelectorAll('header nav a')].filter(a => { \
             const r = a.getBoundingClientRect(); \
             return r.width === 0 || r.left < 0 || r.right > window.innerWidth; }).map(a => a.textContent)",
        )
        .await;
    assert_eq!(off_screen, json!([]));
    let links = b
        .eval("return document.querySelectorAll('header nav a').length")
        .await;
    assert_eq!(
        links,
        json!(6),
        "applications, keys, webhooks, operators, audit, account"
    );
    b.click("header nav a[href='/console/api-keys']").await;
    b.wait_path("/console/api-keys").await;
    b.wait_heading("API keys").await;
    assert_eq!(b.eval(no_sideways_scroll).await, json!(true), "API keys");
    b.shot("api-keys-narrow").await;
    for path in [
        "/console/webhooks",
        "/console/operators",
        "/console/audit",
        "/console/account",
    ] {
        b.goto(&url(&stack, path)).await;
        b.css("main h1").await;
        assert_eq!(b.eval(no_sideways_scroll).await, json!(true), "{path}");
    }
    b.quit().await;
}

#[actix_web::test]
async fn the_login_form_is_filled_and_submitted_with_the_keyboard_alone() {
    let Some((mut b, stack)) = start("keyboard").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    b.goto(&url(&stack, "/console/login")).await;
    b.css("input[name=email]").await;
    // The email field has the focus on arrival; Tab goes to the password, Enter submits.
    let focused = b.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("name").await.unwrap().as_deref(),
        Some("email")
    );
    let typed = format!("{ADMIN_EMAIL}{}{PASSWORD}", char::from(Key::Tab));
    focused.send_keys(&typed).await.unwrap();
    let focused = b.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("name").await.unwrap().as_deref(),
        Some("password")
    );
    b.shot("typed").await;
    focused
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    b.wait_path("/console/applications").await;
    b.wait_heading("Applications").await;
    b.shot("signed-in").await;
    b.quit().await;
}

/// One POST a webhook receiver got: `webhook-id`, `webhook-timestamp`, `webhook-signature`, body.
type Hook = (String, String, String, String);

/// A receiver on port 0 that answers 200 and keeps what it got.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Hook>>>) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port());
    let got: std::sync::Arc<std::sync::Mutex<Vec<Hook>>> = Default::default();
    let seen = got.clone();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: String| {
            let seen = seen.clone();
            async move {
                let h = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let hook = (
                    h("webhook-id"),
                    h("webhook-timestamp"),
                    h("webhook-signature"),
                    body,
                );
                seen.lock().unwrap().push(hook);
                HttpResponse::Ok().body("ok")
            }
        }))
    })
    .workers(1)
    .listen(l)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, got)
}

/// The Standard Webhooks check, from the specification: `v1,` + base64(HMAC-SHA256 of
/// `id.timestamp.body` keyed with the base64-decoded secret after `whsec_`).
fn signed_by(hook: &Hook, secret: &str) -> bool {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", hook.0, hook.1, hook.3).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    hook.2.split(' ').any(|s| s == expected)
}

#[actix_web::test]
async fn a_developer_makes_a_webhook_endpoint_in_the_browser_and_it_gets_signed_events() {
    let Some((mut b, stack)) = start("developer-webhook").await else {
        return;
    };
    stack.operator(DEV_EMAIL, Role::Developer).await;
    sign_in(&mut b, &stack, DEV_EMAIL).await;
    let (hook_url, got) = webhook_receiver();

    b.click("header nav a[href='/console/webhooks']").await;
    b.wait_heading("Webhooks").await;
    // A developer is offered sandbox only.
    assert_eq!(
        options(&b, "#webhook-environment").await,
        json!(["sandbox"])
    );
    b.fill("#webhook-url", &hook_url).await;
    b.fill("#webhook-description", "opens a ticket").await;
    b.click("#event-case-created").await;
    b.click("#create-webhook button[type=submit]").await;
    b.wait_heading("Endpoint created").await;
    let id = shown_id(&b).await;
    let secret = b.text("#secret").await;
    assert!(
        id.starts_with("whe_") && secret.starts_with("whsec_"),
        "{id}"
    );
    b.shot("webhook-created").await;

    // A sandbox write through /v2 reaches the endpoint, signed with the secret shown.
    let resp = stack
        .http
        .post(url(&stack, "/admin/api-keys"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "writer", "environment": "sandbox", "scopes": ["cases:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let key: Value = resp.json().await.unwrap();
    let resp = stack
        .http
        .post(format!("{}/v2/cases", stack.api))
        .header("X-API-Key", key["key"].as_str().unwrap())
        .json(&json!({"title": "from the browser test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    eventually(PROPAGATION, "the event delivered", || async {
        !got.lock().unwrap().is_empty()
    })
    .await;
    let hook = got.lock().unwrap()[0].clone();
    assert!(signed_by(&hook, &secret), "{hook:?}");
    let body: Value = serde_json::from_str(&hook.3).unwrap();
    assert_eq!(body["type"], "case.created");
    assert_eq!(body["data"]["title"], "from the browser test");

    // The endpoint's page shows the delivery, and never the secret again.
    let delivered = "#deliveries tbody tr td:nth-child(3)";
    eventually(
        PROPAGATION,
        "the delivery on the endpoint's page",
        || async {
            b.goto(&url(&stack, &format!("/console/webhooks/{id}")))
                .await;
            b.css("main h1").await;
            b.source().await.contains("succeeded")
        },
    )
    .await;
    assert_eq!(b.text(delivered).await, "succeeded");
    assert!(!b.source().await.contains(&secret));
    b.shot("webhook-delivered").await;
    b.quit().await;
}
