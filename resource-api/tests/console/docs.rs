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
