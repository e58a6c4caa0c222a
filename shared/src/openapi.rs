//! Pieces of both services' OpenAPI documents, written once: error answers in the JSON envelope
//! with the headers they carry, adding a response to every operation that lacks it, `servers`,
//! the last pass over a document's JSON ([`finish`]: `X-Request-Id`, public routes, page items,
//! timestamps) and serving it.
//!
//! Each service's `openapi.rs` decides which answers its operations share (a `utoipa::Modify`);
//! what one operation alone can answer stays in its `#[utoipa::path]` attribute.

use actix_web::HttpResponse;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// The body of `/healthz` (`{"status": "ok"}`) and of `/readyz` (`{"status": "ready"}`) on
/// both services (documentation of what their health handlers write).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HealthStatus {
    #[schema(value_type = String, pattern = "^(ok|ready)$")]
    status: String,
}

/// A header whose value is text.
pub fn text_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String).build())
        .description(Some(description))
        .build()
}

/// A header whose value is a whole number.
pub fn integer_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .build(),
        )
        .description(Some(description))
        .build()
}

/// `Retry-After`, in seconds, on every 429.
pub fn retry_after() -> Header {
    integer_header("Seconds to wait before retrying.")
}

/// An error answer: the JSON envelope (`ErrorBody`) with the given headers.
pub fn error(description: &str, headers: &[(&str, Header)]) -> Response {
    let mut builder = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    for (name, header) in headers {
        builder = builder.header(*name, header.clone());
    }
    builder.build()
}

/// Every operation of a path.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.head,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Adds `response` under `status` unless the operation documents that status already: its own
/// description is the more precise one (a blank one is filled in).
pub fn add_response(op: &mut Operation, status: u16, response: &Response) {
    match op.responses.responses.get_mut(&status.to_string()) {
        Some(RefOr::T(own)) if own.description.trim().is_empty() => {
            own.description = response.description.clone();
        }
        Some(_) => {}
        None => {
            op.responses
                .responses
                .insert(status.to_string(), RefOr::T(response.clone()));
        }
    }
}

/// Documents `status` with `sentence`: a new envelope answer, or one more sentence on the
/// operation's own description of that status (an operation may answer 400 for several reasons).
pub fn extend(op: &mut Operation, status: u16, sentence: &str) {
    match op.responses.responses.get_mut(&status.to_string()) {
        Some(RefOr::T(r)) => {
            if !r.description.contains(sentence) {
                r.description = if r.description.trim().is_empty() {
                    sentence.to_owned()
                } else {
                    format!("{} {sentence}", r.description.trim_end())
                };
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => add_response(op, status, &error(sentence, &[])),
    }
}

/// Adds a header to every response of the operation whose status `applies` to.
pub fn add_header(op: &mut Operation, name: &str, header: &Header, applies: impl Fn(&str) -> bool) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = response {
            if applies(status) {
                r.headers
                    .entry(name.to_owned())
                    .or_insert_with(|| header.clone());
            }
        }
    }
}

/// The scopes the operation's security requirements name, each once.
pub fn required_scopes(op: &Operation) -> Vec<String> {
    let mut scopes = Vec::new();
    // `SecurityRequirement` keeps its map private; its serialized form is that map.
    for requirement in op.security.iter().flatten() {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(requirement) {
            for scope in map.values().filter_map(|v| v.as_array()).flatten() {
                if let Some(s) = scope.as_str().filter(|s| !scopes.iter().any(|x| x == s)) {
                    scopes.push(s.to_owned());
                }
            }
        }
    }
    scopes
}

/// `servers`: the service's public URL, the one the document describes.
pub fn set_server(openapi: &mut OpenApi, url: &str, description: &str) {
    openapi.servers = Some(vec![ServerBuilder::new()
        .url(url.trim_end_matches('/'))
        .description(Some(description))
        .build()]);
}

/// The request id's shape as `shared::telemetry` accepts it (anything else is replaced by a
/// fresh one).
const REQUEST_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Every operation object of `doc`: each member of each path item.
fn json_operations_mut(
    doc: &mut serde_json::Value,
) -> impl Iterator<Item = &mut serde_json::Value> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
        .flat_map(|item| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|i| i.values_mut())
        })
}

/// The last pass over a document, on its JSON form, for what applies to every operation and
/// every schema alike and what utoipa's model cannot say (`$ref` headers and parameters):
/// - `X-Request-Id`: an optional request header (`components.parameters`) and a response header
///   on every response (`components.headers`), both by reference;
/// - the `405` every path answers (`shared::routing::document`), one `components.responses` entry;
/// - `security: []` on every operation that names no security requirement (a public route);
/// - `Page_<T>`'s (and `List_<T>`'s) items as a reference to `T`, not a second inline copy of
///   the model;
/// - `format: date-time` on every string property named `at` or `…_at` (our timestamps are all
///   RFC 3339 text, `shared::time::rfc3339`, and every such name is one);
/// - a response header described alike everywhere as one `components.headers` entry;
/// - component schemas that nothing refers to dropped.
///
/// `shared_headers` names request headers that mean the same on every operation that takes
/// them (`Idempotency-Key`, `If-Match`): each becomes one `components.parameters` entry with
/// the given description, referred to by every operation.
pub fn finish(openapi: &OpenApi, shared_headers: &[(&str, &str)]) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut doc = serde_json::to_value(openapi).expect("an OpenAPI document serialises");
    let request_id_schema = json!({"type": "string", "pattern": REQUEST_ID_PATTERN});
    let mut parameters = serde_json::Map::new();
    for op in json_operations_mut(&mut doc) {
        for param in op
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(&(name, description)) = shared_headers
                .iter()
                .find(|(n, _)| param["in"] == "header" && param["name"] == *n)
            else {
                continue;
            };
            parameters.entry(name).or_insert_with(|| {
                json!({
                    "name": name,
                    "in": "header",
                    "required": false,
                    "description": description,
                    "schema": param["schema"].clone(),
                })
            });
            *param = json!({ "$ref": format!("#/components/parameters/{name}") });
        }
    }

    let components = doc["components"]
        .as_object_mut()
        .expect("every document has components");
    parameters.insert(
        "X-Request-Id".into(),
        json!({
                "name": "X-Request-Id",
                "in": "header",
                "required": false,
                "description": "An id for this request, echoed in the answer's `X-Request-Id` and logged with it (1–64 letters, digits, `-`, `_`; anything else is replaced by a fresh id). Send your own to find a request, even one that timed out, in the server's logs.",
                "schema": request_id_schema,
        }),
    );
    components.insert("parameters".into(), Value::Object(parameters));
    components.insert(
        "headers".into(),
        json!({
            "X-Request-Id": {
                "description": "The request's id: the caller's `X-Request-Id` when it had the accepted shape, else a fresh one. Logged with every line about the request.",
                "required": true,
                "schema": request_id_schema,
            }
        }),
    );
    let mut not_allowed = None;
    let header_ref = json!({"$ref": "#/components/headers/X-Request-Id"});
    let param_ref = json!({"$ref": "#/components/parameters/X-Request-Id"});
    const METHODS: [&str; 8] = [
        "get", "head", "post", "put", "patch", "delete", "options", "trace",
    ];
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            op.entry("security").or_insert_with(|| json!([]));
            let params = op.entry("parameters").or_insert_with(|| json!([]));
            if let Some(params) = params.as_array_mut() {
                params.push(param_ref.clone());
            }
            for (status, response) in op
                .get_mut("responses")
                .and_then(Value::as_object_mut)
                .into_iter()
                .flatten()
            {
                if status == "405" {
                    not_allowed.get_or_insert_with(|| response.clone());
                    *response = json!({"$ref": "#/components/responses/MethodNotAllowed"});
                    continue;
                }
                if let Some(r) = response.as_object_mut() {
                    let headers = r.entry("headers").or_insert_with(|| json!({}));
                    headers["X-Request-Id"] = header_ref.clone();
                }
            }
        }
    }
    let components = doc["components"].as_object_mut().expect("components");
    if let Some(mut r) = not_allowed {
        r["headers"]["X-Request-Id"] = header_ref.clone();
        // A 405 answers whatever the path: `Cache-Control` is described where it always holds.
        if let Some(h) = r["headers"].as_object_mut() {
            h.remove("Cache-Control");
        }
        components.insert("responses".into(), json!({ "MethodNotAllowed": r }));
    }
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        let names: Vec<String> = schemas.keys().cloned().collect();
        for name in &names {
            if let Some(item) = name
                .strip_prefix("Page_")
                .or_else(|| name.strip_prefix("List_"))
            {
                if schemas.contains_key(item) {
                    schemas[name]["properties"]["data"]["items"] =
                        json!({ "$ref": format!("#/components/schemas/{item}") });
                }
            }
        }
        schemas.values_mut().for_each(timestamps);
        schemas.values_mut().for_each(nullable_inline);
    }
    hoist_headers(&mut doc);
    hoist_error_responses(&mut doc);
    drop_unreferenced_schemas(&mut doc);
    doc
}

/// The names of the shared error answers in `components.responses`, by status.
const ERROR_RESPONSES: [(&str, &str); 10] = [
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("404", "NotFound"),
    ("412", "PreconditionFailed"),
    ("413", "PayloadTooLarge"),
    ("415", "UnsupportedMediaType"),
    ("422", "UnprocessableEntity"),
    ("429", "TooManyRequests"),
    ("503", "ServiceUnavailable"),
];

/// For each error status, the answer most operations give alike (used at least three times)
/// becomes one `components.responses` entry, referred to by each of them; an operation whose
/// answer says more (its own 404 sentence, a `Retry-After` only it sends) keeps it inline.
fn hoist_error_responses(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    for (status, name) in ERROR_RESPONSES {
        let mut variants: Vec<(Value, usize)> = Vec::new();
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|i| i.values()) {
                let Some(r) = op["responses"].get(status) else {
                    continue;
                };
                if r.get("$ref").is_some() {
                    continue;
                }
                match variants.iter_mut().find(|(v, _)| v == r) {
                    Some((_, n)) => *n += 1,
                    None => variants.push((r.clone(), 1)),
                }
            }
        }
        let Some((common, _)) = variants
            .into_iter()
            .filter(|(_, n)| *n >= 3)
            .max_by_key(|(_, n)| *n)
        else {
            continue;
        };
        for op in json_operations_mut(doc) {
            if let Some(r) = op["responses"].get_mut(status) {
                if *r == common {
                    *r = json!({ "$ref": format!("#/components/responses/{name}") });
                }
            }
        }

        doc["components"]["responses"][name] = common;
    }
}

/// A response header that is described the same way on every answer that carries it (the
/// rate-limit headers, `Cache-Control`, …) becomes one `components.headers` entry, referred to
/// by every answer; a header whose description differs between answers (`ETag`, `Retry-After`)
/// stays inline.
fn hoist_headers(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    use std::collections::BTreeMap;
    fn headers_mut(doc: &mut Value) -> Vec<&mut serde_json::Map<String, Value>> {
        let mut out = Vec::new();
        for op in json_operations_mut(doc) {
            for response in op
                .get_mut("responses")
                .and_then(Value::as_object_mut)
                .into_iter()
                .flat_map(|r| r.values_mut())
            {
                if let Some(h) = response.get_mut("headers").and_then(Value::as_object_mut) {
                    out.push(h);
                }
            }
        }

        out
    }
    // Each name's variants and how often each is used.
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    for headers in headers_mut(doc) {
        for (name, header) in headers.iter() {
            if header.get("$ref").is_some() {
                continue;
            }
            let variants = seen.entry(name.clone()).or_default();
            if !variants.contains(header) {
                variants.push(header.clone());
            }
            *uses.entry(name.clone()).or_default() += 1;
        }
    }
    let hoisted: BTreeMap<String, Value> = seen
        .into_iter()
        .filter(|(name, variants)| variants.len() == 1 && uses[name] > 1)
        .map(|(name, mut variants)| (name, variants.remove(0)))
        .collect();
    for headers in headers_mut(doc) {
        for (name, header) in headers.iter_mut() {
            if hoisted.contains_key(name) && header.get("$ref").is_none() {
                *header = json!({ "$ref": format!("#/components/headers/{name}") });
            }
        }
    }
    if let Some(components) = doc["components"]["headers"].as_object_mut() {
        components.extend(hoisted);
    }
}

/// `format: date-time` on the string properties named `at` or `…_at` of `schema` and of every
/// schema inside it.
fn timestamps(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    let text = match property.get("type") {
                        Some(Value::String(t)) => t == "string",
                        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                        _ => false,
                    };
                    if text && (name == "at" || name.ends_with("_at")) {
                        property["format"] = Value::from("date-time");
                    }
                }
            }
            map.values_mut().for_each(timestamps);
        }
        Value::Array(items) => items.iter_mut().for_each(timestamps),
        _ => {}
    }
}

/// `oneOf: [{type: null}, {type: T, …}]` (an optional field whose type is inlined, e.g. a
/// validated string newtype with its pattern) written as `{type: [T, "null"], …}`, the form
/// every other optional field has: generators then give a plain optional `T` with the
/// constraint, not a wrapper class.
fn nullable_inline(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Object(map) => {
            let merged = match map.get("oneOf").and_then(Value::as_array) {
                Some(arms) if arms.len() == 2 => {
                    let null = arms
                        .iter()
                        .position(|a| a == &serde_json::json!({"type": "null"}));
                    match null.map(|i| &arms[1 - i]) {
                        Some(Value::Object(other))
                            if !other.contains_key("$ref")
                                && other.get("type").is_some_and(Value::is_string) =>
                        {
                            Some(other.clone())
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(mut other) = merged {
                map.remove("oneOf");
                let t = other.remove("type").unwrap_or(Value::Null);
                map.insert("type".into(), serde_json::json!([t, "null"]));
                for (k, v) in other {
                    map.entry(k).or_insert(v);
                }
            }
            map.values_mut().for_each(nullable_inline);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_inline),
        _ => {}
    }
}

/// Removes component schemas no `$ref` reaches (from outside the schemas, or from a schema
/// that is itself reached), until none is left.
fn drop_unreferenced_schemas(doc: &mut serde_json::Value) {
    use serde_json::Value;
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                                out.push(name.to_owned());
                            }
                        }
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let Some(schemas) = doc["components"]["schemas"].as_object().cloned() else {
        return;
    };
    let mut outside = doc.clone();
    outside["components"]["schemas"] = Value::Null;
    let mut pending = Vec::new();
    refs(&outside, &mut pending);
    let mut reached = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if reached.insert(name.clone()) {
            if let Some(schema) = schemas.get(&name) {
                refs(schema, &mut pending);
            }
        }
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        schemas.retain(|name, _| reached.contains(name));
    }
}

/// Serves a finished document (see [`finish`]) as JSON.
pub fn respond(doc: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().json(doc)
}

/// The document with every reference to `components.responses` and `components.headers`
/// replaced by what it names: for a reader that looks at an operation's answers one by one
/// (the services' tests) and should not care which of them [`finish`] shared.
pub fn inline_components(doc: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn inline(value: &mut Value, components: &Value) {
        match value {
            Value::Object(map) => {
                let named = map.get("$ref").and_then(Value::as_str).and_then(|r| {
                    let (kind, name) = r.strip_prefix("#/components/")?.split_once('/')?;
                    matches!(kind, "responses" | "headers").then(|| components[kind][name].clone())
                });
                if let Some(mut named) = named {
                    inline(&mut named, components);
                    *value = named;
                } else {
                    map.values_mut().for_each(|v| inline(v, components));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| inline(v, components)),
            _ => {}
        }
    }
    let mut out = doc.clone();
    let components = doc["components"].clone();
    inline(&mut out["paths"], &components);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_optional_inlined_string_becomes_a_nullable_type_with_its_constraints() {
        let mut schema = json!({"properties": {
            "country": {"description": "d", "oneOf": [{"type": "null"}, {"type": "string", "pattern": "^[A-Z]{2}$"}]},
            "subject": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Subject"}]},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        }});
        let untouched = (
            schema["properties"]["subject"].clone(),
            schema["properties"]["either"].clone(),
        );
        nullable_inline(&mut schema);
        assert_eq!(
            schema["properties"]["country"],
            json!({"description": "d", "type": ["string", "null"], "pattern": "^[A-Z]{2}$"})
        );
        assert_eq!(
            schema["properties"]["subject"], untouched.0,
            "a $ref stays a oneOf"
        );
        assert_eq!(schema["properties"]["either"], untouched.1);
    }
}
