//! The console's forms as a newcomer meets them (issue 22): reloading a page that showed a
//! secret makes nothing new and shows the secret no more; a refused form comes back as typed,
//! with the reason in an error box on the normal page.

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
    b.wait_heading("Applications").await;
}

/// `GET {auth}{path}` with the admin token: the `data` list.
async fn admin_list(stack: &Stack, path: &str) -> Vec<Value> {
    let resp = stack
        .http
        .get(url(stack, path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

/// Reloads the page (as F5 does) and waits for `heading`.
async fn reload(b: &Browser, heading: &str) {
    b.client.refresh().await.expect("reload");
    b.wait_heading(heading).await;
}

/// Whether an element matching `selector` is on the page now.
async fn present(b: &Browser, selector: &str) -> bool {
    b.eval(&format!(
        "return document.querySelector('{selector}') !== null"
    ))
    .await
        == json!(true)
}

/// The full address shown now.
async fn address(b: &Browser) -> String {
    b.client.current_url().await.unwrap().to_string()
}

#[actix_web::test]
async fn reloading_a_page_that_showed_a_secret_creates_nothing_and_shows_it_no_more() {
    let Some((mut b, stack)) = start("reload-created").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;

    // An application.
    b.fill("#app-name", "reloaded").await;
    b.click("#scope-cases-read").await;
    b.click("#create-application button[type=submit]").await;
    b.wait_heading("Application created").await;
    let secret = b.text("#secret").await;
    assert!(!address(&b).await.contains(&secret));
    b.shot("application-created").await;
    reload(&b, "Application created").await;
    assert!(
        !present(&b, "#secret").await,
        "the secret again after a reload"
    );
    assert!(!b.source().await.contains(&secret));
    assert!(present(&b, "#secret-gone").await);
    b.shot("application-created-reloaded").await;
    let apps = admin_list(&stack, "/admin/applications").await;
    assert_eq!(
        apps.len(),
        1,
        "a reload made a second application: {apps:?}"
    );
    let client_id = apps[0]["client_id"].as_str().unwrap().to_owned();

    // A rotated secret.
    b.goto(&url(&stack, &format!("/console/applications/{client_id}")))
        .await;
    b.click("#rotate-secret button[type=submit]").await;
    b.wait_heading("Secret rotated").await;
    let rotated = b.text("#secret").await;
    assert_ne!(rotated, secret);
    reload(&b, "Secret rotated").await;
    assert!(!present(&b, "#secret").await);
    assert!(!b.source().await.contains(&rotated));
    // Rotated once: the previous secret still works until the new one is first used, and the
    // audit trail holds one rotation.
    let rotations: Value = stack
        .http
        .get(url(
            &stack,
            "/admin/audit-events?action=application.rotate_secret",
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rotations["data"].as_array().unwrap().len(),
        1,
        "{rotations}"
    );

    // An API key.
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.fill("#key-name", "reloaded key").await;
    b.click("#scope-cases-read").await;
    b.click("#create-api-key button[type=submit]").await;
    b.wait_heading("API key created").await;
    let key = b.text("#secret").await;
    reload(&b, "API key created").await;
    assert!(!present(&b, "#secret").await);
    assert!(!b.source().await.contains(&key));
    assert_eq!(admin_list(&stack, "/admin/api-keys").await.len(), 1);
    b.shot("api-key-created-reloaded").await;
    b.quit().await;
}

#[actix_web::test]
async fn a_refused_form_shows_an_error_box_on_the_normal_page_with_what_was_typed() {
    let Some((mut b, stack)) = start("refused-form").await else {
        return;
    };
    stack.operator(ADMIN_EMAIL, Role::Admin).await;
    sign_in(&mut b, &stack, ADMIN_EMAIL).await;

    // An application without a scope.
    b.fill("#app-name", "no scopes here").await;
    b.fill("#app-description", "typed once").await;
    b.click("#app-environment option[value=live]").await;
    b.click("#create-application button[type=submit]").await;
    b.css("#error").await;
    b.wait_heading("Applications").await;
    b.shot("application-without-scope").await;
    assert!(b.text("#error").await.contains("at least one scope"));
    assert!(!present(&b, ".flash.success").await, "not the success box");
    // The box reads as an error: the danger colour, not the success green.
    let colours = b
        .eval(
            "const s = getComputedStyle(document.querySelector('#error')); \
             return [s.color, s.borderLeftColor]",
        )
        .await;
    assert_eq!(colours, json!(["rgb(180, 35, 24)", "rgb(180, 35, 24)"]));
    // The normal page: navigation and the sign-out form.
    assert!(b.text("header nav").await.contains("API keys"));
    assert!(present(&b, "form.logout").await);
    // What was typed is still there.
    let kept = b
        .eval(
            "return [document.querySelector('#app-name').value, \
             document.querySelector('#app-description').value, \
             document.querySelector('#app-environment').value]",
        )
        .await;
    assert_eq!(kept, json!(["no scopes here", "typed once", "live"]));
    assert!(admin_list(&stack, "/admin/applications").await.is_empty());

    // Fixing it is one click away.
    b.click("#scope-cases-read").await;
    b.click("#create-application button[type=submit]").await;
    b.wait_heading("Application created").await;
    assert_eq!(admin_list(&stack, "/admin/applications").await.len(), 1);

    // An API key refused for its expiry keeps its name, scopes and date.
    b.goto(&url(&stack, "/console/api-keys")).await;
    b.fill("#key-name", "expired already").await;
    b.click("#scope-sar-read").await;
    b.eval("document.querySelector('#key-expiry').value = '2001-01-01'")
        .await;
    b.click("#create-api-key button[type=submit]").await;
    b.css("#error").await;
    b.wait_heading("API keys").await;
    let kept = b
        .eval(
            "return [document.querySelector('#key-name').value, \
             document.querySelector('#scope-sar-read').checked, \
             document.querySelector('#key-expiry').value]",
        )
        .await;
    assert_eq!(kept, json!(["expired already", true, "2001-01-01"]));
    b.shot("api-key-refused").await;

    // A refusal of the role (another page) keeps the navigation too.
    b.goto(&url(
        &stack,
        "/console/applications/app_0123456789abcdefghijkl",
    ))
    .await;
    b.wait_heading("Not found").await;
    assert!(present(&b, "header nav").await && present(&b, "#error").await);
    b.quit().await;
}
