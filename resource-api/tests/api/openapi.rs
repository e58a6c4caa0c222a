//! The served OpenAPI document against the API itself: every `/v2` operation lists what it
//! really answers (checked over HTTP where a test can provoke it), the security schemes and
//! `servers`, and `/docs`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestStack;

/// The served document, with the shared answers and headers inlined into each operation.
async fn document(s: &TestStack) -> Value {
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    shared::openapi::inline_components(&doc)
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
    // RFC 9449 §7.1: `Authorization: DPoP <token>`, the scheme as IANA registers it.
    assert_eq!(schemes["dpop"]["type"], "http");
    assert_eq!(schemes["dpop"]["scheme"], "DPoP");
    assert_eq!(doc["servers"][0]["url"], s.api);

    // Each operation names its scope under every scheme: any one of them is enough.
    let list = &doc["paths"]["/v2/cases"]["get"]["security"];
    for scheme in ["oauth2", "bearer", "dpop", "api_key"] {
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
    assert_eq!(field("Case", "status"), case_status);
    assert_eq!(field("Case", "priority"), priority);
    assert_eq!(field("CreateCase", "priority"), priority);
    assert_eq!(field("PatchCase", "status"), case_status);
    assert_eq!(
        field("CaseEvent", "action"),
        ["created", "updated", "assigned", "closed"]
    );
    assert_eq!(field("Sar", "status"), ["draft", "submitted"]);
    assert_eq!(field("WatchlistEntry", "entry_type"), ["person", "entity"]);
    assert_eq!(field("CreateEntry", "entry_type"), ["person", "entity"]);
    assert_eq!(field("Subject", "subject_type"), ["person", "entity"]);
    assert_eq!(field("Subject", "risk_level"), ["low", "medium", "high"]);
    assert_eq!(field("Transaction", "direction"), ["inbound", "outbound"]);
    assert_eq!(field("Alert", "status"), ["open", "closed"]);
    assert_eq!(field("Alert", "severity"), priority);
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
        ("Sar", "amount"),
        ("Sar", "currency"),
        ("Transaction", "amount"),
        ("Transaction", "currency"),
    ] {
        let field = resolve(&doc, &schemas[schema]["properties"][name]);
        assert!(field["pattern"].is_string(), "{schema}.{name}: {field}");
    }
    assert_eq!(param("/v2/cases", "status"), case_status);
    assert_eq!(param("/v2/cases", "priority"), priority);
    assert_eq!(param("/v2/alerts", "status"), ["open", "closed"]);
    assert_eq!(param("/v2/alerts", "severity"), priority);
}

/// The document as `resource-api openapi` prints it (no server needed).
fn built() -> Value {
    resource_api::openapi::document(
        resource_api::openapi::DEFAULT_PUBLIC_URL,
        shared::config::DEFAULT_ISSUER,
    )
}

/// The SDK generators read `sdks/openapi/resource-api.json`: it must be what the code builds.
#[test]
fn the_committed_document_is_what_the_code_builds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sdks/openapi/resource-api.json"
    );
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        committed == built(),
        "{path} is stale; refresh it with: scripts/lint-openapi.sh (then commit sdks/openapi/)"
    );
}

/// Every (method, path) → operationId, exactly: resource-shaped names a generator turns into
/// `client.cases.list()`, and no `HEAD` twin (HEAD is said in the GET's description).
#[test]
fn operation_ids_are_resource_shaped_and_head_is_no_operation() {
    let doc = built();
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(item.get("head").is_none(), "HEAD {path} is listed");
        for (method, op) in item.as_object().unwrap() {
            ids.push(format!(
                "{method} {path} {}",
                op["operationId"].as_str().unwrap()
            ));
            if method == "get" {
                assert!(
                    op["description"].as_str().unwrap().contains("`HEAD`"),
                    "GET {path} says HEAD"
                );
            }
        }
    }
    ids.sort();
    let mut expected = vec![
        "get /healthz healthz_retrieve",
        "get /readyz readyz_retrieve",
        "get /v2/me me_retrieve",
        "post /v2/api_keys/validate api_keys_validate",
        "get /v2/cases cases_list",
        "post /v2/cases cases_create",
        "get /v2/cases/{id} cases_retrieve",
        "patch /v2/cases/{id} cases_update",
        "post /v2/cases/{id}/assign cases_assign",
        "post /v2/cases/{id}/close cases_close",
        "get /v2/cases/{id}/history cases_history",
        "get /v2/sars sars_list",
        "post /v2/sars sars_create",
        "get /v2/sars/{id} sars_retrieve",
        "patch /v2/sars/{id} sars_update",
        "post /v2/sars/{id}/submit sars_submit",
        "get /v2/watchlist watchlist_list",
        "post /v2/watchlist watchlist_create",
        "post /v2/watchlist/screen watchlist_screen",
        "get /v2/watchlist/{id} watchlist_retrieve",
        "patch /v2/watchlist/{id} watchlist_update",
        "delete /v2/watchlist/{id} watchlist_delete",
        "get /v2/subjects subjects_list",
        "post /v2/subjects subjects_create",
        "get /v2/subjects/{id} subjects_retrieve",
        "patch /v2/subjects/{id} subjects_update",
        "get /v2/transactions transactions_list",
        "get /v2/alerts alerts_list",
        "get /v2/webhook-endpoints webhook_endpoints_list",
        "post /v2/webhook-endpoints webhook_endpoints_create",
        "get /v2/webhook-endpoints/{id} webhook_endpoints_retrieve",
        "patch /v2/webhook-endpoints/{id} webhook_endpoints_update",
        "delete /v2/webhook-endpoints/{id} webhook_endpoints_delete",
        "post /v2/webhook-endpoints/{id}/rotate-secret webhook_endpoints_rotate_secret",
        "get /v2/webhook-endpoints/{id}/deliveries webhook_endpoints_deliveries_list",
        "post /v2/webhook-endpoints/{id}/deliveries/{delivery_id}/retry webhook_endpoints_deliveries_retry",
    ];
    expected.sort();
    assert_eq!(ids, expected);
    // Every tag an operation names is listed, with a description.
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|t| assert!(t["description"].is_string(), "{t}"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for tag in op["tags"].as_array().unwrap() {
                assert!(tags.contains(&tag.as_str().unwrap()), "{tag}");
            }
        }
    }
}

/// Every answer has a schema a generator can type (204 excepted); lists are `Page_<Model>` whose
/// items refer to the model; timestamps are `date-time`; nullable fields the server always sends
/// are required.
#[test]
fn every_answer_is_typed_and_pages_refer_to_their_models() {
    let doc = built();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status == "204" || response.get("$ref").is_some() {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"];
                let health = path == "/healthz" || path == "/readyz";
                assert!(
                    schema.is_object() || (health && status == "200"),
                    "{method} {path} {status} has no schema"
                );
            }
        }
    }
    let me = &doc["paths"]["/v2/me"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(me["schema"]["$ref"], "#/components/schemas/Me");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        enum_of(&doc, &schemas["Me"]["properties"]["principal_type"]),
        ["application", "api_key"]
    );
    assert_eq!(
        enum_of(&doc, &schemas["Me"]["properties"]["tier"]),
        [
            "basic",
            "standard",
            "professional",
            "enterprise",
            "unlimited"
        ]
    );
    assert_eq!(
        enum_of(&doc, &schemas["Me"]["properties"]["scopes"]["items"]).len(),
        shared::Scope::ALL.len()
    );
    let validate = &doc["paths"]["/v2/api_keys/validate"]["post"]["responses"]["200"];
    assert_eq!(
        validate["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ApiKeyValidation"
    );
    for (page, model) in [
        ("Page_Case", "Case"),
        ("Page_CaseEvent", "CaseEvent"),
        ("Page_Sar", "Sar"),
        ("Page_WatchlistEntry", "WatchlistEntry"),
        ("Page_Subject", "Subject"),
        ("Page_Transaction", "Transaction"),
        ("Page_Alert", "Alert"),
    ] {
        assert_eq!(
            schemas[page]["properties"]["data"]["items"]["$ref"],
            format!("#/components/schemas/{model}"),
            "{page}"
        );
    }
    let list = &doc["paths"]["/v2/cases"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        list["application/json"]["schema"]["$ref"],
        "#/components/schemas/Page_Case"
    );
    for (schema, field) in [
        ("Case", "created_at"),
        ("Case", "closed_at"),
        ("CaseEvent", "at"),
        ("Sar", "submitted_at"),
        ("Transaction", "occurred_at"),
        ("ValidatedApiKey", "expires_at"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["format"], "date-time",
            "{schema}.{field}"
        );
    }
    let required = |schema: &str| -> Vec<String> {
        serde_json::from_value(schemas[schema]["required"].clone()).unwrap()
    };
    for (schema, field) in [
        ("Case", "assignee"),
        ("Case", "closed_at"),
        ("Case", "resolution"),
        ("Sar", "submitted_at"),
        ("Alert", "transaction_id"),
        ("WatchlistEntry", "country"),
        ("Subject", "date_of_birth"),
        ("Pagination", "next_cursor"),
    ] {
        assert!(
            required(schema).contains(&field.to_owned()),
            "{schema}.{field} required"
        );
        let t = &schemas[schema]["properties"][field]["type"];
        assert!(
            t.as_array().is_some_and(|t| t.iter().any(|t| t == "null")),
            "{schema}.{field} nullable: {t}"
        );
    }
}

/// `page` and `page_size` declare no default (a generated cursor walk must not send them);
/// `X-Request-Id` is a shared optional parameter of every operation and a header of every
/// answer; `Idempotency-Key` is on every create and transition; every write to an existing
/// record documents the retryable 409 `busy` with `Retry-After` apart from `conflict`.
#[test]
fn parameters_request_ids_idempotency_and_busy_are_documented() {
    let doc = built();
    let components = &doc["components"];
    assert_eq!(components["parameters"]["X-Request-Id"]["in"], "header");
    assert_eq!(components["parameters"]["X-Request-Id"]["required"], false);
    assert_eq!(components["headers"]["X-Request-Id"]["required"], true);
    for name in ["Idempotency-Key", "If-Match"] {
        assert!(components["parameters"][name].is_object(), "{name}");
    }
    let refs = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["$ref"].as_str().map(str::to_owned))
            .collect()
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            assert!(
                refs(op).contains(&"#/components/parameters/X-Request-Id".to_owned()),
                "{what}"
            );
            assert!(op["security"].is_array(), "{what}: security");
            for (status, response) in op["responses"].as_object().unwrap() {
                let r = match response["$ref"].as_str() {
                    Some(r) => {
                        &components["responses"][r.trim_start_matches("#/components/responses/")]
                    }
                    None => response,
                };
                assert!(r.is_object(), "{what} {status}: {response}");
                assert_eq!(
                    r["headers"]["X-Request-Id"]["$ref"], "#/components/headers/X-Request-Id",
                    "{what} {status}"
                );
            }
            for p in op["parameters"].as_array().unwrap() {
                if p["name"] == "page" || p["name"] == "page_size" {
                    assert!(p["schema"].get("default").is_none(), "{what}: {p}");
                }
            }
            let writes_a_record = path.contains('{') && method != "get";
            // Webhook endpoints' create and rotate-secret answer a signing secret, which must
            // not be kept in the clear in a stored answer; retrying a delivery only schedules
            // it again (409 while it is being attempted).
            let secret_or_schedule = path.starts_with("/v2/webhook-endpoints")
                && method == "post"
                && (path == "/v2/webhook-endpoints"
                    || path.ends_with("/rotate-secret")
                    || path.ends_with("/retry"));
            let idempotent =
                ((method == "post" && !path.ends_with("/screen") && !path.contains("validate"))
                    || method == "delete")
                    && !secret_or_schedule;
            if idempotent && path.starts_with("/v2/") {
                assert!(
                    refs(op).contains(&"#/components/parameters/Idempotency-Key".to_owned()),
                    "{what}: Idempotency-Key"
                );
            }
            if writes_a_record {
                let conflict = &op["responses"]["409"];
                let description = conflict["description"].as_str().unwrap_or_default();
                assert!(description.contains("`busy`"), "{what}: {description}");
                assert!(conflict["headers"]["Retry-After"].is_object(), "{what}");
            }
        }
    }
    let close = &doc["paths"]["/v2/cases/{id}/close"]["post"]["responses"]["409"]["description"];
    assert!(close.as_str().unwrap().contains("`conflict`"), "{close}");
    let codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["description"]
        .as_str()
        .unwrap();
    for code in [
        "`conflict`",
        "`busy`",
        "`idempotency_key_reused`",
        "`invalid_query`",
    ] {
        assert!(codes.contains(code), "ErrorBody.error names {code}");
    }
}
