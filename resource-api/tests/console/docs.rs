//! `/docs` of both services: Swagger UI renders every operation of the served document under
//! the page's strict CSP (a blocked script or style would leave the page empty).

use serde_json::Value;

use crate::browser::Browser;
use crate::stack::Stack;

fn operations(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "head", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .count()
        })
        .sum()
}

#[actix_web::test]
async fn docs_pages_render_every_operation_in_a_real_browser() {
    let Some(mut browser) = Browser::start("docs").await else {
        return;
    };
    let stack = Stack::start().await;
    for (name, base) in [("auth-server", &stack.auth), ("resource-api", &stack.api)] {
        let doc: Value = stack
            .http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expected = operations(&doc);
        assert!(expected > 5);
        browser.goto(&format!("{base}/docs")).await;
        browser.css(".opblock").await;
        // An operation with several tags is shown under each: count distinct method and path.
        let rendered = browser
            .eval(
                "return new Set([...document.querySelectorAll('.opblock-summary')].map(s => \
                 s.querySelector('.opblock-summary-method').textContent + ' ' + \
                 s.querySelector('.opblock-summary-path').getAttribute('data-path'))).size",
            )
            .await;
        assert_eq!(rendered.as_u64(), Some(expected as u64), "{name}");
        browser.shot(name).await;
    }
    browser.quit().await;
}

/// The resource API's "Authorize" with client credentials, as a newcomer tries it: Swagger UI
/// posts the id and secret to the issuer's token endpoint from the API's origin. That needs the
/// page's CSP to allow the issuer (`connect-src`) and the auth server to answer the CORS
/// preflight (`CORS_ALLOWED_ORIGINS` holds the API's origin, as dev.sh sets it); then a call
/// made from the page carries the token.
#[actix_web::test]
async fn authorize_with_client_credentials_works_on_the_resource_apis_docs() {
    let Some(mut browser) = Browser::start("docs-authorize").await else {
        return;
    };
    let stack = Stack::start().await;
    let created: Value = stack
        .http
        .post(format!("{}/admin/applications", stack.auth))
        .bearer_auth(crate::stack::ADMIN)
        .json(&serde_json::json!({"name": "docs", "scopes": ["cases:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    browser.goto(&format!("{}/docs", stack.api)).await;
    browser.css(".opblock").await;
    browser.click(".scheme-container button.authorize").await;
    browser
        .fill(
            "input[data-name='clientId']",
            created["client_id"].as_str().unwrap(),
        )
        .await;
    browser
        .fill(
            "input[data-name='clientSecret']",
            created["client_secret"].as_str().unwrap(),
        )
        .await;
    browser
        .click("button[aria-label='Apply given OAuth2 credentials']")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = browser
            .eval(
                "const errors = [...document.querySelectorAll('.modal-ux .errors')]\
                 .map(e => e.textContent.trim()).join(' | '); \
                 const done = !!document.querySelector(\"button[aria-label='Remove authorization']\"); \
                 return {errors, done}",
            )
            .await;
        if state["done"] == true {
            break;
        }
        let errors = state["errors"].as_str().unwrap_or_default().to_owned();
        assert!(errors.is_empty(), "Authorize failed: {errors}");
        assert!(
            std::time::Instant::now() < deadline,
            "Authorize did not complete"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.shot("authorized").await;
    // The page now holds a token: a call from it (GET /v2/cases) is answered 200.
    let status = browser
        .eval(
            "const auth = window.ui.authSelectors.authorized().toJS(); \
             const token = auth.oauth2.token.access_token; \
             return fetch('/v2/cases', {headers: {Authorization: 'Bearer ' + token}}).then(r => r.status)",
        )
        .await;
    assert_eq!(status.as_u64(), Some(200), "{status}");
    browser.quit().await;
}
