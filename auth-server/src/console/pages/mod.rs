//! The console's pages: applications, API keys, webhooks, operators and the audit trail, rendered on the
//! server with maud. Sign-in, sessions, CSRF, the layout and the error pages are the console
//! module's (`super`); who may do what is [`super::policy`], asked by every handler here.
//!
//! Every handler reads as a checklist: the signed-in operator (`SignedIn`, no session → 303 to
//! the login page; for a POST `SignedForm`, which checks `Origin` and the CSRF token before the
//! form is even parsed) → the policy (403, or 404 for a credential that is not theirs) → validation (400 page naming the
//! field; nothing written) → the service layer with `signed.audit` as the audit context (so every
//! console action lands in the audit trail as the operator) → a page, or 303 to one.
//!
//! A plaintext client secret, API key or setup link is shown once: the POST that made it
//! (create, rotate) answers 303 to a page of its own (`…/created`, `…/rotated`), whose first GET
//! takes the secret from the session's one-use store (`service::reveals`); a reload shows the
//! credential without it and creates nothing (post/redirect/get). No URL carries a secret.
//! Every console page is `no-store`. A create form the server refuses comes back as the operator
//! typed it (passwords excepted), with the reason in an error box above it (400). No inline script or style: the copy button is progressive enhancement in
//! `/console/static/console.js`.
//!
//! ## Stable hooks for browser tests
//!
//! | hook | where |
//! |---|---|
//! | `#secret` | the once-shown client secret or API key (text of a `<code>`) |
//! | `#copy-secret` | the copy button beside it (`data-copy="#secret"`; hidden until `console.js` shows it) |
//! | `#flash` | the success message after an action (`role="status"`) |
//! | `#error` | why a request or a form was refused (`role="alert"`, the error box; error pages and refused forms) |
//! | `#secret-gone` | in place of `#secret` once it has been shown (a reload of the page) |
//! | `#create-application`, `#create-api-key`, `#create-operator`, `#create-webhook` | the create forms |
//! | `#change-webhook`, `#rotate-webhook` | an endpoint's change and rotation forms |
//! | `#applications`, `#api-keys`, `#operators`, `#audit-events`, `#webhooks`, `#deliveries` | the tables; one `<tr data-id="…">` per row (client id, key id, operator id, audit `seq`, endpoint id, delivery id) |
//! | `#filter` | the filter form of each list (GET) |
//! | `#confirm` | the confirmation form of delete / revoke (button "Confirm") |
//! | `#next-page` | the audit trail's link to older events; `#export` its JSON-lines export |
//!
//! Buttons carry visible text: "Create application", "Create API key", "Create operator",
//! "Rotate secret", "Revoke all tokens", "Disable", "Enable", "Delete", "Revoke", "Confirm",
//! "Change role", "Filter", "Create endpoint", "Save changes".

pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod operators;
pub mod webhooks;

use actix_web::http::{header, StatusCode};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use maud::{html, Markup};
use shared::routing::Endpoint;
use shared::{Environment, Scope, ScopeSet, Tier};

use super::policy::{self, Denied, Who};
use super::{ConsoleError, SignedForm, SignedIn};
use crate::error::Error;
use crate::routes::AppState;

/// The largest query string a console page accepts: the same 16 KiB as a form body (the
/// console's own `FORM_LIMIT`; the skeleton's extractors allow 64 KiB).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// The most fields a form may have (every scope checkbox included).
const MAX_FORM_FIELDS: usize = 64;

/// Every page of this module, relative to the `/console` scope of [`super::configure`] (which
/// adds the security headers and the Origin check).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/applications")
            .get(applications::list)
            .post(applications::create),
    )
    .service(Endpoint::new("/applications/{client_id}").get(applications::detail))
    .service(Endpoint::new("/applications/{client_id}/created").get(applications::created))
    .service(Endpoint::new("/applications/{client_id}/rotated").get(applications::rotated))
    .service(
        Endpoint::new("/applications/{client_id}/rotate-secret").post(applications::rotate_secret),
    )
    .service(
        Endpoint::new("/applications/{client_id}/revoke-tokens").post(applications::revoke_tokens),
    )
    .service(Endpoint::new("/applications/{client_id}/disable").post(applications::disable))
    .service(Endpoint::new("/applications/{client_id}/jwks").post(applications::replace_jwks))
    .service(Endpoint::new("/applications/{client_id}/enable").post(applications::enable))
    .service(
        Endpoint::new("/applications/{client_id}/delete")
            .get(applications::confirm_delete)
            .post(applications::delete),
    )
    .service(
        Endpoint::new("/api-keys")
            .get(api_keys::list)
            .post(api_keys::create),
    )
    .service(Endpoint::new("/api-keys/{id}").get(api_keys::detail))
    .service(Endpoint::new("/api-keys/{id}/created").get(api_keys::created))
    .service(
        Endpoint::new("/api-keys/{id}/revoke")
            .get(api_keys::confirm_revoke)
            .post(api_keys::revoke),
    )
    .service(
        Endpoint::new("/operators")
            .get(operators::list)
            .post(operators::create),
    )
    .service(Endpoint::new("/operators/{id}/created").get(operators::created))
    .service(Endpoint::new("/operators/{id}/role").post(operators::set_role))
    .service(Endpoint::new("/operators/{id}/disable").post(operators::disable))
    .service(Endpoint::new("/operators/{id}/enable").post(operators::enable))
    .service(Endpoint::new("/operators/{id}/reset-totp").post(operators::reset_totp))
    .service(
        Endpoint::new("/webhooks")
            .get(webhooks::list)
            .post(webhooks::create),
    )
    .service(Endpoint::new("/webhooks/{id}").get(webhooks::detail))
    .service(Endpoint::new("/webhooks/{id}/created").get(webhooks::created))
    .service(Endpoint::new("/webhooks/{id}/rotated").get(webhooks::rotated))
    .service(Endpoint::new("/webhooks/{id}/edit").post(webhooks::edit))
    .service(Endpoint::new("/webhooks/{id}/enable").post(webhooks::enable))
    .service(Endpoint::new("/webhooks/{id}/disable").post(webhooks::disable))
    .service(Endpoint::new("/webhooks/{id}/rotate-secret").post(webhooks::rotate_secret))
    .service(
        Endpoint::new("/webhooks/{id}/delete")
            .get(webhooks::confirm_delete)
            .post(webhooks::delete),
    )
    .service(Endpoint::new("/audit").get(audit::list))
    .service(Endpoint::new("/audit/export").get(audit::export));
}

// --- access -------------------------------------------------------------------------------------

/// The policy's view of the signed-in operator.
pub(crate) fn who(signed: &SignedIn) -> Who<'_> {
    Who {
        role: signed.operator.role,
        operator_id: &signed.operator.id,
    }
}

pub(crate) fn denied(d: Denied) -> ConsoleError {
    match d {
        Denied::NotFound => ConsoleError::NotFound,
        Denied::Forbidden => ConsoleError::Forbidden("Your role does not allow this.".into()),
        Denied::OwnAccount => ConsoleError::BadForm(
            "You cannot change your own role or disable yourself; ask another admin.".into(),
        ),
    }
}

/// A refusal by the policy of `operation` (the console's fixed vocabulary, e.g.
/// `application.delete`) on `target`: noted for the audit trail — one aggregated
/// `console.refused` event per operator, source, operation, target and window
/// (`AuditAggregator::note_console`) — then rendered as its page (403, or 404 for a
/// credential that is not theirs). `target` is an id of a record that exists or whose shape
/// was checked ([`shaped`]), or "": never other text from the request.
pub(crate) fn refused<'a>(
    state: &'a AppState,
    signed: &'a SignedIn,
    operation: &'static str,
    target: &'a str,
) -> impl FnOnce(Denied) -> ConsoleError + 'a {
    move |d| {
        state
            .refusals
            .note_console(&signed.audit, operation, target);
        denied(d)
    }
}

/// `id` when it has the shape of an id with `prefix` (`app`, `key`, `op`), else "".
pub(crate) fn shaped<'a>(prefix: &str, id: &'a str) -> &'a str {
    if shared::validate::plausible_id(prefix, id) {
        id
    } else {
        ""
    }
}

pub(crate) fn bad_input(message: impl Into<String>) -> ConsoleError {
    ConsoleError::BadForm(message.into())
}

/// Whether a failed form is shown again as typed: a bad value (400) or a conflict with the
/// current state (409, e.g. an email already taken) is, with its status and message; anything
/// else (403, 404, 503…) is its own page.
pub(crate) fn refused_form(e: ConsoleError) -> Result<(StatusCode, String), ConsoleError> {
    match e {
        ConsoleError::BadForm(m) => Ok((StatusCode::BAD_REQUEST, m)),
        ConsoleError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other),
    }
}

/// A form's POST answered: `done` (its redirect) when it worked; when the server refused the
/// form ([`refused_form`]: a bad value, 400, or a conflict, 409), the page `again` renders with
/// the form as typed and the reason, at that status. Anything else is its own page.
pub(crate) async fn or_form_again<Fut>(
    done: Result<HttpResponse, ConsoleError>,
    again: impl FnOnce(String) -> Fut,
) -> Result<HttpResponse, ConsoleError>
where
    Fut: std::future::Future<Output = Result<HttpResponse, ConsoleError>>,
{
    let (status, message) = match done {
        Ok(done) => return Ok(done),
        Err(e) => refused_form(e)?,
    };
    let mut res = again(message).await?;
    *res.status_mut() = status;
    Ok(res)
}

/// A service error as a console page: validation names the field (400), a missing record is
/// the 404 page, a lost race is 409 (nothing changed), anything else is the 500 page.
pub(crate) fn service_error(e: Error) -> ConsoleError {
    ConsoleError::from(e)
}

// --- forms and queries --------------------------------------------------------------------------

/// A form POST whose session, `Origin` and CSRF token the skeleton's [`SignedForm`] checked
/// before the form is parsed (so no handler can forget it), as the form's pairs in order.
pub(crate) type Posted = SignedForm<Vec<(String, String)>>;

/// The operator and the form of a checked POST.
pub(crate) fn unpack(posted: Posted) -> Result<(SignedIn, Form), ConsoleError> {
    let SignedForm { signed, form } = posted;
    Ok((signed, Form::from_pairs(form)?))
}

/// A credential's create form as typed (applications and API keys): kept when the server refuses
/// it, so nothing has to be typed again. Values the form cannot show again are dropped;
/// `expires_on` is the API-key form's alone.
#[derive(Debug, Default)]
pub(crate) struct CredentialDraft {
    pub name: String,
    pub description: String,
    pub scopes: ScopeSet,
    pub environment: Option<Environment>,
    pub tier: Option<Tier>,
    pub expires_on: String,
}

impl CredentialDraft {
    pub(crate) fn of(form: &Form) -> CredentialDraft {
        let text = |name| form.get(name).ok().flatten().unwrap_or("").to_owned();
        let parsed = |name| form.get(name).ok().flatten();
        CredentialDraft {
            name: text("name"),
            description: text("description"),
            scopes: form
                .all("scopes")
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            environment: parsed("environment").and_then(|e| e.parse().ok()),
            tier: parsed("tier").and_then(|t| t.parse().ok()),
            expires_on: text("expires_on"),
        }
    }
}

/// A parsed `application/x-www-form-urlencoded` body (or query string): its pairs in order,
/// repeated names kept (scope checkboxes).
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// The pairs of a checked form POST, at most [`MAX_FORM_FIELDS`].
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Result<Form, ConsoleError> {
        if pairs.len() > MAX_FORM_FIELDS {
            return Err(bad_input("The form has too many fields."));
        }
        Ok(Form { pairs })
    }

    /// A GET's query string.
    pub(crate) fn query(req: &HttpRequest) -> Result<Form, ConsoleError> {
        let q = req.query_string();
        if q.len() > MAX_QUERY_BYTES {
            return Err(bad_input("The query is too long."));
        }
        Self::from_encoded(q.as_bytes())
    }

    fn from_encoded(bytes: &[u8]) -> Result<Form, ConsoleError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| bad_input("The form could not be read."))?;
        Self::from_pairs(pairs)
    }

    /// A single-valued field; given twice is an error.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, ConsoleError> {
        let mut found = self.pairs.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(bad_input(format!(
                "The field {name} was given more than once."
            )));
        }
        Ok(first)
    }

    /// A single-valued field; empty counts as absent.
    pub(crate) fn optional(&self, name: &str) -> Result<Option<&str>, ConsoleError> {
        Ok(self.get(name)?.map(str::trim).filter(|v| !v.is_empty()))
    }

    /// A field that must be there (it may still be empty; the service checks content).
    pub(crate) fn required(&self, name: &str) -> Result<&str, ConsoleError> {
        self.get(name)?
            .ok_or_else(|| bad_input(format!("The field {name} is missing.")))
    }

    /// A two-valued `status` filter: `None` when absent, `Some(false)` for `off`, `Some(true)`
    /// for `on`; anything else is a 400 page.
    pub(crate) fn status_flag(&self, off: &str, on: &str) -> Result<Option<bool>, ConsoleError> {
        match self.optional("status")? {
            None => Ok(None),
            Some(v) if v == off => Ok(Some(false)),
            Some(v) if v == on => Ok(Some(true)),
            Some(_) => Err(bad_input(format!("status must be {off} or {on}."))),
        }
    }

    /// Every value of a repeated field.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Parses an environment from a form or query; anything else is a 400 page.
pub(crate) fn parse_environment(value: &str) -> Result<Environment, ConsoleError> {
    value
        .parse()
        .map_err(|_| bad_input("environment must be sandbox or live."))
}

/// Combines the page's environment filter with what the policy lets the operator list: `None`
/// when they contradict (the list is empty).
pub(crate) fn scoped_environment(
    scope: Option<Environment>,
    asked: Option<Environment>,
) -> Option<Option<Environment>> {
    match (scope, asked) {
        (Some(s), Some(a)) if s != a => None,
        (Some(s), _) => Some(Some(s)),
        (None, a) => Some(a),
    }
}

// --- rendering ----------------------------------------------------------------------------------

/// A console page: HTML, never cached (pages show credentials, and the answer to a create or a
/// rotation shows a secret).
pub(crate) fn page(
    status: StatusCode,
    signed: &SignedIn,
    title: &str,
    body: Markup,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(super::layout(Some(signed), title, body).into_string())
}

/// 303 to `location` (after a successful POST, so a reload does not repeat it).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The hidden CSRF field every POST form carries.
pub(crate) fn csrf_field(signed: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(signed.csrf_token); }
}

/// The message after an action, from the closed set of `?done=` codes (anything else shows
/// nothing, so a link cannot put words on the page).
pub(crate) fn flash(req: &HttpRequest) -> Markup {
    let done = Form::query(req)
        .ok()
        .and_then(|q| q.get("done").ok().flatten().map(str::to_owned));
    let message = match done.as_deref() {
        Some("disabled") => "The application was disabled; its tokens are refused.",
        Some("enabled") => "The application was enabled.",
        Some("keys_replaced") => "The application's keys were replaced; removed keys no longer authenticate it.",
        Some("created_with_keys") => "The application was created. It has no secret: it authenticates with JWTs signed by its keys.",
        Some("tokens_revoked") => "Every token issued before now is revoked.",
        Some("deleted") => "The application was deleted.",
        Some("revoked") => "The API key was revoked.",
        Some("role_changed") => "The operator's role was changed.",
        Some("operator_disabled") => "The operator was disabled and signed out.",
        Some("operator_enabled") => "The operator was enabled.",
        Some("totp_reset") => "The operator's TOTP was removed and their sessions ended.",
        Some("webhook_changed") => "The endpoint was changed.",
        Some("webhook_enabled") => "The endpoint was enabled; failed deliveries can be retried through the API.",
        Some("webhook_disabled") => "The endpoint was disabled; it receives no events until it is enabled.",
        Some("webhook_deleted") => "The endpoint was deleted.",
        _ => return html! {},
    };
    html! { p #flash .flash.success role="status" { (message) } }
}

/// The once-shown secret with its copy button and warning.
pub(crate) fn secret_box(label: &str, secret: &str) -> Markup {
    html! {
        section .secret-box aria-labelledby="secret-heading" {
            h2 #secret-heading { (label) }
            p .warning role="alert" {
                strong { "Copy it now: " }
                "it is shown only on this page and cannot be shown again. Store it in a secret manager."
            }
            p .secret-value {
                code #secret .secret { (secret) }
                " "
                button #copy-secret type="button" data-copy="#secret" hidden { "Copy" }
            }
        }
    }
}

/// Why a form was refused, above the form kept as it was typed: an error box (`#error`,
/// `role="alert"`), never the success box.
pub(crate) fn form_error(message: &str) -> Markup {
    html! { p #error .error-box role="alert" { (message) } }
}

/// The secret that waited for this page (`service::reveals`), or, once it has been shown,
/// `note` in its place.
pub(crate) fn secret_or_note(label: &str, secret: Option<&shared::Secret>, note: &str) -> Markup {
    match secret {
        Some(s) => secret_box(label, s.expose()),
        None => html! { p #secret-gone .note role="status" { (note) } },
    }
}

/// One checkbox per scope, each with its description; `checked` are ticked.
pub(crate) fn scope_checkboxes(checked: &ScopeSet) -> Markup {
    html! {
        fieldset .scopes {
            legend { "Scopes" }
            @for scope in Scope::ALL {
                @let id = format!("scope-{}", scope.as_str().replace(':', "-"));
                div .checkbox {
                    input type="checkbox" name="scopes" value=(scope.as_str()) id=(id)
                        checked[checked.contains(*scope)];
                    label for=(id) {
                        code { (scope.as_str()) } " — " (scope.description())
                    }
                }
            }
        }
    }
}

/// The environment choices `role` may create in (only sandbox for a developer); `chosen`
/// (default `Environment::DEFAULT_FOR_NEW_CREDENTIALS`) is selected.
pub(crate) fn environment_select(
    signed: &SignedIn,
    id: &str,
    chosen: Option<Environment>,
) -> Markup {
    let envs = policy::creatable_environments(signed.operator.role);
    let chosen = chosen.unwrap_or(Environment::DEFAULT_FOR_NEW_CREDENTIALS);
    html! {
        label for=(id) { "Environment" }
        select name="environment" id=(id) required {
            @for env in envs {
                option value=(env.as_str()) selected[*env == chosen] { (env.as_str()) }
            }
        }
    }
}

/// The tier choice, an admin's only; `chosen` (default the default tier) is selected.
pub(crate) fn tier_select(signed: &SignedIn, id: &str, chosen: Option<Tier>) -> Markup {
    let chosen = chosen.unwrap_or_default();
    if crate::console::policy::choose_tier(signed.operator.role).is_err() {
        return html! {
            p .field-note { "Tier: " strong { (Tier::default().as_str()) } " (an admin can change it)." }
        };
    }
    html! {
        label for=(id) { "Tier" }
        select name="tier" id=(id) {
            @for tier in Tier::ALL {
                option value=(tier.as_str()) selected[*tier == chosen] { (tier.as_str()) }
            }
        }
    }
}

/// The `tier` field of a create form: only an admin may choose one; anyone else's form may
/// name at most the default (a forged tier is 403, counted for the audit trail as `operation`,
/// and creates nothing).
pub(crate) fn chosen_tier(
    state: &AppState,
    signed: &SignedIn,
    form: &Form,
    operation: &'static str,
) -> Result<Option<String>, ConsoleError> {
    let tier = form.optional("tier")?.map(str::to_owned);
    let default = Tier::default().as_str();
    if tier.as_deref().is_some_and(|t| t != default) {
        crate::console::policy::choose_tier(signed.operator.role)
            .map_err(refused(state, signed, operation, ""))?;
    }
    Ok(tier)
}

/// A scope set for a table cell.
pub(crate) fn scope_list(scopes: &ScopeSet) -> Markup {
    html! {
        @if scopes.is_empty() { "none" }
        @else {
            ul .scope-list {
                @for s in scopes.iter() { li { code { (s.as_str()) } } }
            }
        }
    }
}

/// An optional timestamp, `never` when absent.
pub(crate) fn when(at: Option<&str>, never: &'static str) -> Markup {
    html! {
        @match at {
            Some(t) => time datetime=(t) { (t) },
            None => (never),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_developer_filter_never_widens_past_the_policy() {
        let sandbox = Some(Environment::Sandbox);
        let live = Some(Environment::Live);
        assert_eq!(scoped_environment(sandbox, live), None);
        assert_eq!(scoped_environment(sandbox, None), Some(sandbox));
        assert_eq!(scoped_environment(sandbox, sandbox), Some(sandbox));
        assert_eq!(scoped_environment(None, live), Some(live));
        assert_eq!(scoped_environment(None, None), Some(None));
    }

    #[test]
    fn repeated_fields_are_kept_and_singles_refused_twice() {
        let f = Form::from_encoded(b"scopes=a&scopes=b&name=x&name=y").unwrap();
        assert_eq!(f.all("scopes"), vec!["a", "b"]);
        assert!(f.get("name").is_err());
        assert!(Form::from_encoded("x=1&".repeat(100).as_bytes()).is_err());
    }
}
