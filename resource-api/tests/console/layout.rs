//! What the console looks like at a desktop and at a phone width (issue 22): the audit table
//! fits a 1280 px window with its JSON readable, and at 390 px no caption is cut and no
//! operator action is hidden. Boxes are measured in the page with `getBoundingClientRect`.

use serde_json::{json, Value};

use auth_server::service::operators::Role;

use crate::browser::Browser;
use crate::stack::{Stack, ADMIN, PASSWORD};

const ADMIN_EMAIL: &str = "ada@caseforge.test";

async fn start(test: &str) -> Option<(Browser, Stack)> {
    let browser = Browser::start(test).await?;
    Some((browser, Stack::start().await))
}

fn url(stack: &Stack, path: &str) -> String {
    format!("{}{path}", stack.auth)
}

async fn sign_in(b: &mut Browser, stack: &Stack, email: &str) {
    b.goto(&url(stack, "/console/login")).await;
    b.fill("input[name=email]", email).await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("form.stack button[type=submit]").await;
    b.wait_path("/console/applications").await;
}

async fn admin_post(stack: &Stack, path: &str, body: Value) {
    let resp = stack
        .http
        .post(url(stack, path))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{path}");
}

/// Applications and keys with long names and every scope, so that the trail's fields are long.
async fn some_credentials(stack: &Stack, applications: usize) {
    for i in 0..applications {
        admin_post(
            stack,
            "/admin/applications",
            json!({"name": format!("nightly reconciliation of case exports {i}"),
                   "description": "made for the layout test, with a description long enough to matter",
                   "scopes": ["cases:read", "cases:write", "sar:read", "sar:write", "watchlist:read"],
                   "environment": "sandbox"}),
        )
        .await;
    }
    admin_post(
        stack,
        "/admin/api-keys",
        json!({"name": "ci pipeline", "environment": "sandbox", "scopes": ["cases:read"]}),
    )
    .await;
}

#[actix_web::test]
async fn at_1280_px_the_audit_table_shows_source_outcome_and_fields_with_readable_json() {
    let Some((mut b, stack)) = start("audit-1280").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    some_credentials(&stack, 3).await;
    b.client.set_window_size(1280, 900).await.unwrap();
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;
    b.goto(&url(&stack, "/console/audit")).await;
    b.wait_heading("Audit trail").await;
    b.shot("audit-1280").await;
    let width = b.eval("return window.innerWidth").await.as_f64().unwrap();
    assert!(
        (1200.0..=1280.0).contains(&width),
        "the window is {width} px wide"
    );

    // Every column head is on screen without scrolling the table sideways.
    let heads = b
        .eval(
            "return [...document.querySelectorAll('#audit-events thead th')].map(th => { \
             const r = th.getBoundingClientRect(); \
             return [th.textContent, Math.round(r.left), Math.round(r.right)]; })",
        )
        .await;
    let heads: Vec<(String, f64, f64)> = serde_json::from_value(heads).unwrap();
    for name in ["Source", "Outcome", "Fields"] {
        let (_, left, right) = heads
            .iter()
            .find(|(h, _, _)| h == name)
            .unwrap_or_else(|| panic!("no {name} column in {heads:?}"));
        assert!(
            *left >= 0.0 && *right <= width,
            "{name} is off-screen ({left}–{right} of {width}): {heads:?}"
        );
    }
    let scrolls = b
        .eval(
            "const w = document.querySelector('#audit-events').closest('.table-wrap'); \
             return w.scrollWidth > w.clientWidth + 1",
        )
        .await;
    assert_eq!(
        scrolls,
        json!(false),
        "the table scrolls sideways: {heads:?}"
    );

    // The fields JSON reads as text: a wide cell, a few lines at most, never a few letters a
    // line.
    let fields = b
        .eval(
            "return [...document.querySelectorAll('#audit-events code.fields')].map(c => { \
             const lines = new Set([...c.getClientRects()].map(r => Math.round(r.top))).size; \
             return [c.textContent.length, lines, Math.round(c.closest('td').getBoundingClientRect().width)]; })",
        )
        .await;
    let fields: Vec<(usize, usize, f64)> = serde_json::from_value(fields).unwrap();
    assert!(!fields.is_empty());
    for (chars, lines, cell) in &fields {
        assert!(
            *cell >= 240.0,
            "the fields cell is {cell} px wide: {fields:?}"
        );
        // At least ~25 characters a line.
        assert!(
            *lines <= chars.div_ceil(25).max(1),
            "{chars} characters on {lines} lines in {cell} px: {fields:?}"
        );
    }
    b.quit().await;
}

#[actix_web::test]
async fn at_390_px_count_captions_are_whole_and_operator_actions_are_on_screen() {
    let Some((mut b, stack)) = start("narrow-390").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    for email in [
        "dev@caseforge.test",
        "audit@caseforge.test",
        "ops.lead.with.a.long.name@caseforge.test",
    ] {
        stack.operator(email, Role::Developer).await;
    }
    some_credentials(&stack, 5).await;
    b.client.set_window_size(390, 844).await.unwrap();
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;
    let width = b.eval("return window.innerWidth").await.as_f64().unwrap();
    assert!(width <= 390.0, "the window is {width} px wide");

    // A caption's text is on screen in full: its text box lies inside the window and inside
    // the caption's own box (nothing clipped), on one line.
    let caption = "const c = document.querySelector('table caption'); \
                   const r = document.createRange(); r.selectNodeContents(c); \
                   const t = r.getBoundingClientRect(), b = c.getBoundingClientRect(); \
                   const clip = el => { for (let e = c; e; e = e.parentElement) { \
                     const s = getComputedStyle(e); if (s.overflowX !== 'visible') { \
                       const q = e.getBoundingClientRect(); if (t.left < q.left - 1 || t.right > q.right + 1) return true; } } \
                     return false; }; \
                   return [c.textContent, t.left >= 0 && t.right <= window.innerWidth && !clip(c) \
                           && r.getClientRects().length === 1, Math.round(t.width), Math.round(b.width)]";
    for (path, text) in [
        ("/console/applications", "5 applications"),
        ("/console/api-keys", "1 API keys"),
        ("/console/operators", "4 operators"),
    ] {
        b.goto(&url(&stack, path)).await;
        b.css("main h1").await;
        let got = b.eval(caption).await;
        b.shot(&path.replace('/', "-")).await;
        assert_eq!(got[0], json!(text), "{path}");
        assert_eq!(got[1], json!(true), "{path}: the caption is cut: {got}");
    }

    // Every action of every other operator's row is on screen and is what a tap there hits.
    b.goto(&url(&stack, "/console/operators")).await;
    b.wait_heading("Operators").await;
    let hidden = b
        .eval(
            "return [...document.querySelectorAll('#operators tbody button, #operators tbody select')]\
             .filter(e => { const r = e.getBoundingClientRect(); \
               if (r.width === 0 || r.left < 0 || r.right > window.innerWidth) return true; \
               e.scrollIntoView({block: 'center'}); const q = e.getBoundingClientRect(); \
               const hit = document.elementFromPoint(q.left + q.width / 2, q.top + q.height / 2); \
               return !(hit === e || e.contains(hit)); })\
             .map(e => e.textContent || e.name)",
        )
        .await;
    assert_eq!(hidden, json!([]), "operator actions hidden at 390 px");
    let actions = b
        .eval("return document.querySelectorAll('#operators tbody button').length")
        .await;
    assert_eq!(
        actions,
        json!(6),
        "change role and disable for three operators"
    );
    assert_eq!(
        b.eval("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        json!(true),
        "the page does not scroll sideways"
    );
    b.shot("operators-actions").await;

    // The keys' Revoke links likewise.
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.wait_heading("API keys").await;
    let revoke = b
        .eval(
            "return [...document.querySelectorAll('#api-keys tbody a.button')].map(a => { \
             const r = a.getBoundingClientRect(); \
             return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })",
        )
        .await;
    assert_eq!(revoke, json!([true]), "the Revoke link at 390 px");
    b.shot("api-keys-actions").await;
    b.quit().await;
}
