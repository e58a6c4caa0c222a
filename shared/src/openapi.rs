//! Pieces of both services' OpenAPI documents, written once: error answers in the JSON envelope
//! with the headers they carry, adding a response to every operation that lacks it, `servers`,
//! and serving a document.
//!
//! Each service's `openapi.rs` decides which answers its operations share (a `utoipa::Modify`);
//! what one operation alone can answer stays in its `#[utoipa::path]` attribute.

use actix_web::HttpResponse;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

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

/// Serves a document as JSON.
pub fn respond(openapi: &OpenApi) -> HttpResponse {
    HttpResponse::Ok().json(openapi)
}
