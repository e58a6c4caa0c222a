//! The page shell every console page is rendered in, and the two ways a handler answers: a page
//! or a 303.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::signed::SignedIn;
use crate::service::operators::Role;

/// 303 See Other to `location` (after a POST, and to the login page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An HTML page with `status`.
pub fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// The page shell: `<html lang=en>`, a skip link, `<header>` with the `<nav>` (links by role,
/// the logout form), `<main id=main>` holding `body`.
pub fn layout(signed: Option<&SignedIn>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — CaseForge console" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    a class="brand" href="/console" { "CaseForge console" }
                    @if let Some(s) = signed {
                        nav aria-label="Console" {
                            ul {
                                li { a href="/console/applications" { "Applications" } }
                                li { a href="/console/api-keys" { "API keys" } }
                                li { a href="/console/webhooks" { "Webhooks" } }
                                @if s.is(Role::Admin) {
                                    li { a href="/console/operators" { "Operators" } }
                                }
                                @if s.is(Role::Admin) || s.is(Role::Auditor) {
                                    li { a href="/console/audit" { "Audit" } }
                                }
                                li { a href="/console/account" { "Account" } }
                            }
                        }
                        form class="logout" method="post" action="/console/logout" {
                            input type="hidden" name="csrf_token" value=(s.csrf_token);
                            span class="who" { (s.operator.email) " (" (s.operator.role) ")" }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_has_landmarks_and_no_inline_script() {
        let html = layout(None, "T", html! { p { "x" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<main id=\"main\"") && html.contains("<header>"));
        assert!(html.contains("href=\"#main\""));
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
