//! The served OpenAPI document against the API itself: every `/v2` operation lists what it
//! really answers (checked over HTTP where a test can provoke it), the security schemes and
//! `servers`, and `/docs`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestStack;

async fn document(s: &TestStack) -> Value {
    s.http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every `/v2` operation: (method, path, operation).
fn v2_operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v2/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            if ["get", "head", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let method = method.to_uppercase().parse::<Method>().unwrap();
                out.push((method, path.clone(), op.clone()));
            }
        }
    }
    assert!(out.len() >= 26, "{} /v2 operations", out.len());
    out
}

fn scopes(op: &Value) -> Vec<String> {
    op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r.as_object().unwrap().values())
        .flat_map(|v| v.as_array().unwrap().iter())
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// A concrete URL path for a documented path.
fn concrete(path: &str) -> String {
    path.replace("{id}", "case_doesnotexist")
}

fn header_names(response: &Value) -> Vec<String> {
    response["headers"]
        .as_object()
        .map(|h| h.keys().cloned().collect())
        .unwrap_or_default()
}

fn is_envelope(response: &Value) -> bool {
    response["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"
        || response["$ref"] == "#/components/responses/MethodNotAllowed"
}

#[actix_web::test]
async fn every_v2_operation_documents_401_403_415_429_and_the_rate_limit_headers() {
    let s = TestStack::start().await;
    let doc = document(&s).await;
    for (method, path, op) in v2_operations(&doc) {
        let what = format!("{method} {path}");
        let responses = &op["responses"];
        let unauthenticated = &responses["401"];
        assert!(
            header_names(unauthenticated).contains(&"WWW-Authenticate".to_owned()),
            "{what}: 401 with WWW-Authenticate"
        );
        let limited = &responses["429"];
        for header in [
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "RateLimit-Policy",
            "RateLimit",
        ] {
            assert!(
                header_names(limited).contains(&header.to_owned()),
                "{what}: 429 with {header}"
            );
        }
        for code in ["400", "503"] {
            assert!(responses.get(code).is_some(), "{what}: {code}");
        }
        let success = responses
            .as_object()
            .unwrap()
            .iter()
            .find(|(code, _)| code.starts_with('2'))
            .unwrap_or_else(|| panic!("{what}: a success answer"))
            .1;
        for header in ["X-RateLimit-Remaining", "RateLimit-Policy", "RateLimit"] {
            assert!(
                header_names(success).contains(&header.to_owned()),
                "{what}: success with the rate-limit headers ({header})"
            );
        }
        if !scopes(&op).is_empty() {
            assert!(
                header_names(&responses["403"]).contains(&"WWW-Authenticate".to_owned()),
                "{what}: 403 with WWW-Authenticate"
            );
        }
        if op.get("requestBody").is_some() {
            for code in ["413", "415", "422"] {
                assert!(responses.get(code).is_some(), "{what}: {code}");
            }
        }
        if path.contains('{') {
            assert!(responses.get("404").is_some(), "{what}: 404");
        }
        for (code, response) in responses.as_object().unwrap() {
            if code.starts_with('4') || code.starts_with('5') {
                assert!(is_envelope(response), "{what}: {code} is the JSON envelope");
            }
        }
    }
}

/// The document's 401 and 403 are what the API answers: every operation, called without a
/// credential and then with one that lacks its scope.
#[actix_web::test]
async fn documented_401_and_403_are_what_each_operation_answers() {
    let s = TestStack::start().await;
    let doc = document(&s).await;
    // A valid key whose only scope no operation that names a scope needs, except the alerts.
    let (_, key) = s.api_key(&["alerts:read"], "sandbox", "unlimited").await;
    for (method, path, op) in v2_operations(&doc) {
        let url = format!("{}{}", s.api, concrete(&path));
        let resp = s.http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{method} {path} without a credential");
        assert!(resp.headers().contains_key("www-authenticate"));
        assert!(op["responses"].get("401").is_some());

        let needs: Vec<String> = scopes(&op);
        if needs.is_empty() || needs.iter().any(|n| n == "alerts:read") {
            continue;
        }
        let mut req = s.http.request(method.clone(), &url).bearer_auth(&key);
        if op.get("requestBody").is_some() {
            req = req.json(&serde_json::json!({}));
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403, "{method} {path} without {needs:?}");
        assert!(op["responses"].get("403").is_some(), "{method} {path}");
    }
}

/// A wrong content type is 415 on every operation that takes a JSON body, and the document
/// says so.
#[actix_web::test]
async fn documented_415_is_what_each_json_body_operation_answers() {
    let s = TestStack::start().await;
    let doc = document(&s).await;
    let scopes: Vec<String> = shared::Scope::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let (_, key) = s.api_key(&scopes, "sandbox", "unlimited").await;
    let mut checked = 0;
    for (method, path, op) in v2_operations(&doc) {
        if op.get("requestBody").is_none() {
            continue;
        }
        let resp = s
            .http
            .request(method.clone(), format!("{}{}", s.api, concrete(&path)))
            .bearer_auth(&key)
            .header("Content-Type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        // A path naming no record may be refused before its body is read.
        assert!(status == 415 || status == 404, "{method} {path}: {status}");
        assert!(
            op["responses"].get(status.to_string()).is_some(),
            "{method} {path}: {status} documented"
        );
        checked += usize::from(status == 415);
    }
    assert!(checked >= 5, "{checked} operations answered 415");
}

#[actix_web::test]
async fn security_schemes_name_the_token_url_every_scope_and_the_api_key_header() {
    let s = TestStack::start().await;
    let doc = document(&s).await;
    let schemes = &doc["components"]["securitySchemes"];
    let flow = &schemes["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(flow["tokenUrl"], format!("{}/oauth/token", s.auth));
    for scope in shared::Scope::ALL {
        assert_eq!(
            flow["scopes"][scope.as_str()],
            scope.description(),
            "{scope}"
        );
        assert!(!scope.description().is_empty());
    }
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    assert_eq!(doc["servers"][0]["url"], s.api);

    // Each operation names its scope under every scheme: any one of them is enough.
    let list = &doc["paths"]["/v2/cases"]["get"]["security"];
    for scheme in ["oauth2", "bearer", "api_key"] {
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|r| r[scheme] == serde_json::json!(["cases:read"])),
            "{scheme}: {list}"
        );
    }
    assert_eq!(
        doc["paths"]["/v2/me"]["get"]["security"][0]["oauth2"],
        serde_json::json!([])
    );
}

#[actix_web::test]
async fn servers_is_the_configured_public_url() {
    let s = TestStack::start().await;
    let (api, _) = s
        .another_api_with(|c| c.public_url = "https://api.bank.example/".to_owned())
        .await;
    let doc: Value = s
        .http
        .get(format!("{api}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["servers"][0]["url"], "https://api.bank.example");
}

#[actix_web::test]
async fn docs_are_served_from_the_binary_and_may_call_only_the_issuer() {
    let s = TestStack::start().await;
    let addr = s.api.trim_start_matches("http://").to_owned();
    // Swagger UI's "Authorize" (client credentials) posts to the issuer's token endpoint: the
    // CSP lets the page call that origin, and nothing else besides itself.
    let issuer = s.auth.clone();
    actix_web::rt::task::spawn_blocking(move || {
        shared::testing::assert_docs_are_self_contained_but_may_call(&addr, &[&issuer])
    })
    .await
    .unwrap();
    let doc: serde_json::Value = s
        .http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        format!("{}/oauth/token", s.auth)
    );
}

/// `schema`, with a `$ref` (and a `oneOf` of one `$ref` and `null`, utoipa's `Option<T>`)
/// followed into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(doc, &doc["components"]["schemas"][name]);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(one) = schema[key]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["type"] != "null"))
        {
            return resolve(doc, one);
        }
    }
    schema
}

fn enum_of(doc: &Value, schema: &Value) -> Vec<String> {
    resolve(doc, schema)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {schema}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[actix_web::test]
async fn closed_sets_are_enums_in_requests_responses_and_filters() {
    let s = TestStack::start().await;
    let doc = document(&s).await;
    let schemas = &doc["components"]["schemas"];
    let field = |schema: &str, name: &str| enum_of(&doc, &schemas[schema]["properties"][name]);
    let case_status = ["open", "in_review", "escalated", "closed"];
    let priority = ["low", "medium", "high", "critical"];
    assert_eq!(field("CaseView", "status"), case_status);
    assert_eq!(field("CaseView", "priority"), priority);
    assert_eq!(field("CreateCase", "priority"), priority);
    assert_eq!(field("PatchCase", "status"), case_status);
    assert_eq!(
        field("CaseEventView", "action"),
        ["created", "updated", "assigned", "closed"]
    );
    assert_eq!(field("SarView", "status"), ["draft", "submitted"]);
    assert_eq!(field("EntryView", "entry_type"), ["person", "entity"]);
    assert_eq!(field("CreateEntry", "entry_type"), ["person", "entity"]);
    assert_eq!(field("SubjectView", "subject_type"), ["person", "entity"]);
    assert_eq!(
        field("SubjectView", "risk_level"),
        ["low", "medium", "high"]
    );
    assert_eq!(
        field("TransactionView", "direction"),
        ["inbound", "outbound"]
    );
    assert_eq!(field("AlertView", "status"), ["open", "closed"]);
    assert_eq!(field("AlertView", "severity"), priority);
    let param = |path: &str, name: &str| {
        let p = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name && p["in"] == "query")
            .unwrap_or_else(|| panic!("{path} ?{name}"))
            .clone();
        enum_of(&doc, &p["schema"])
    };
    // Validated strings carry their shape.
    for (schema, name) in [
        ("SarView", "amount"),
        ("SarView", "currency"),
        ("TransactionView", "amount"),
        ("TransactionView", "currency"),
    ] {
        let field = resolve(&doc, &schemas[schema]["properties"][name]);
        assert!(field["pattern"].is_string(), "{schema}.{name}: {field}");
    }
    assert_eq!(param("/v2/cases", "status"), case_status);
    assert_eq!(param("/v2/cases", "priority"), priority);
    assert_eq!(param("/v2/alerts", "status"), ["open", "closed"]);
    assert_eq!(param("/v2/alerts", "severity"), priority);
}
