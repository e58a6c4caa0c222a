//! How both services register a path: one [`Endpoint`] per path, declaring its methods, so
//! that what a path serves and the `Allow` header it advertises come from the same list.
//!
//! A method the path does not serve is 405 with an accurate `Allow` (as the JSON envelope),
//! never a 404; `HEAD` is served wherever `GET` is (actix-http sends the headers and drops the
//! body). actix's own `App::route(path, web::post())` puts the method guard on the resource, so
//! any other method falls through to the 404 default service: every path goes through here
//! instead.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpResponse, Resource, Responder, ResponseError};

use crate::error::ApiError;

/// One path and the methods it serves.
pub struct Endpoint {
    resource: Resource,
    allow: Vec<Method>,
}

impl Endpoint {
    pub fn new(path: &str) -> Endpoint {
        Endpoint {
            resource: web::resource(path),
            allow: Vec::new(),
        }
    }

    /// `GET`, and `HEAD` with the same handler.
    pub fn get<F, Args>(self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::GET, handler.clone())
            .method(Method::HEAD, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::POST, handler)
    }

    pub fn patch<F, Args>(self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::PATCH, handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::DELETE, handler)
    }

    fn method<F, Args>(mut self, method: Method, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self
            .resource
            .route(web::route().method(method.clone()).to(handler));
        self.allow.push(method);
        self
    }

    /// The `Allow` header value: the declared methods, in declaration order.
    pub fn allow_header(&self) -> String {
        self.allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        let allow = self.allow_header();
        self.resource
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move { method_not_allowed(&allow) }
            }))
            .register(config);
    }
}

/// Adds to an OpenAPI document what [`Endpoint`] makes true of every path: a `405` answer
/// with `Allow` on every operation, and `HEAD` beside every `GET` (the same answer without a
/// body; said in the `GET` operation's description). Paths under [`crate::http::PRIVATE_PREFIXES`] (`/v2`, `/admin`) also
/// document `Cache-Control: no-store` on every response.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    let not_allowed = ResponseBuilder::new()
        .description("The path does not serve this method; `Allow` lists the methods it does.")
        .header(
            "Allow",
            HeaderBuilder::new()
                .schema(string())
                .description(Some(
                    "The methods this path serves, e.g. `GET, HEAD, POST`.",
                ))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    let no_store = HeaderBuilder::new()
        .schema(string())
        .description(Some("Always `no-store`."))
        .build();
    for (path, item) in openapi.paths.paths.iter_mut() {
        // `HEAD` is said in the `GET` operation's description rather than listed as an
        // operation of its own: a twin operation would make every client generator emit a
        // `*_head` function nobody asked for.
        if let Some(get) = item.get.as_mut() {
            let head = "`HEAD` on this path answers the same status and headers without a body.";
            get.description = Some(match get.description.take() {
                Some(d) if !d.trim().is_empty() => format!("{}\n\n{head}", d.trim_end()),
                _ => head.to_owned(),
            });
        }
        let store = crate::http::PRIVATE_PREFIXES
            .iter()
            .any(|p| crate::http::under(path, p));
        for op in crate::openapi::operations_mut(item) {
            op.responses
                .responses
                .entry("405".to_owned())
                .or_insert_with(|| RefOr::T(not_allowed.clone()));
            if store {
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        r.headers
                            .entry("Cache-Control".to_owned())
                            .or_insert_with(|| no_store.clone());
                    }
                }
            }
        }
    }
}

/// 405 in the envelope, with `Allow`.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This path accepts only: {allow}."),
    )
    .with_header(header::ALLOW, allow)
    .error_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::{call_service, init_service, TestRequest};
    use actix_web::App;

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().body("hello")
    }

    #[actix_web::test]
    async fn other_methods_are_405_with_allow_and_head_follows_get() {
        let app = init_service(
            App::new()
                .service(Endpoint::new("/a").get(ok).post(ok))
                .service(Endpoint::new("/b").delete(ok)),
        )
        .await;
        let res = call_service(&app, TestRequest::put().uri("/a").to_request()).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), "GET, HEAD, POST");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let res = call_service(&app, TestRequest::get().uri("/b").to_request()).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), "DELETE");
        let head = TestRequest::default()
            .method(Method::HEAD)
            .uri("/a")
            .to_request();
        assert_eq!(call_service(&app, head).await.status(), StatusCode::OK);
    }
}
