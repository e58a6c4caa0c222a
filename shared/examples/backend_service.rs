//! A backend service calling the CaseForge API with client credentials.
//!
//! ```sh
//! CASEFORGE_CLIENT_ID=app_… CASEFORGE_CLIENT_SECRET=cfsec_… \
//!   cargo run -p shared --features client --example backend_service
//! ```
//!
//! Copy this into your service: one `TokenSource` per application, shared by every task;
//! tokens are fetched on first use, cached and refreshed five minutes before they expire.
//! `https://` URLs work out of the box (rustls, the system trust store); a private CA is
//! trusted by pointing `SSL_CERT_FILE` at its PEM file. Any error exits non-zero.

use std::error::Error;
use std::process::ExitCode;

use shared::client::{AuthorizedClient, TokenError, TokenSource};

/// Where to call, and as whom.
struct Settings {
    auth: String,
    api: String,
    id: String,
    secret: String,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let required = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Settings {
            auth: std::env::var("CASEFORGE_AUTH_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:8081".into()),
            api: std::env::var("CASEFORGE_BASE_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
            id: required("CASEFORGE_CLIENT_ID")?,
            secret: required("CASEFORGE_CLIENT_SECRET")?,
        })
    }
}

/// Lists five cases; anything but a 2xx answer is an error.
async fn run(s: &Settings) -> Result<String, Box<dyn Error>> {
    let tokens = TokenSource::new(
        &format!("{}/oauth/token", s.auth),
        s.id.clone(),
        s.secret.clone(),
        &["cases:read"],
    )?;
    let client = AuthorizedClient::new(tokens)?;
    let resp = client
        .send(|http| http.get(format!("{}/v2/cases?page_size=5", s.api)))
        .await
        .map_err(|e| -> Box<dyn Error> {
            match e {
                // A rotated or revoked secret: alert a human, retrying will not help.
                TokenError::InvalidClient => {
                    "credentials refused; has the secret been rotated?".into()
                }
                e => format!("could not call the API: {e}").into(),
            }
        })?;
    let status = resp.status();
    let body = resp.text().await?;
    if !status.is_success() {
        return Err(format!("the API answered {status}: {body}").into());
    }
    Ok(format!("{status} {body}"))
}

/// Prints the outcome; the process exit status is 0 only on success.
fn report(outcome: Result<String, Box<dyn Error>>) -> u8 {
    match outcome {
        Ok(out) => {
            println!("{out}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let outcome = match Settings::from_env() {
        Ok(s) => run(&s).await,
        Err(e) => Err(e.into()),
    };
    ExitCode::from(report(outcome))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::{web, App, HttpResponse, HttpServer};

    use super::*;

    /// A stand-in auth server and API: the token endpoint answers `token_status` (200 with a
    /// token, or 401 invalid_client), `/v2/cases` answers `api_status`.
    async fn stub(token_ok: bool, api_status: u16) -> (String, actix_web::dev::ServerHandle) {
        let server = HttpServer::new(move || {
            App::new()
                .route(
                    "/oauth/token",
                    web::post().to(move || async move {
                        if token_ok {
                            HttpResponse::Ok().json(serde_json::json!({
                                "access_token": "t0k3n", "token_type": "Bearer", "expires_in": 3600
                            }))
                        } else {
                            HttpResponse::Unauthorized()
                                .json(serde_json::json!({"error": "invalid_client"}))
                        }
                    }),
                )
                .route(
                    "/v2/cases",
                    web::get().to(move || async move {
                        HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(api_status).unwrap(),
                        )
                        .json(serde_json::json!({"data": []}))
                    }),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (base, handle)
    }

    fn settings(base: &str) -> Settings {
        Settings {
            auth: base.to_owned(),
            api: base.to_owned(),
            id: "app_x".into(),
            secret: "cfsec_x".into(),
        }
    }

    #[actix_web::test]
    async fn success_is_exit_status_zero() {
        let (base, _h) = stub(true, 200).await;
        let out = run(&settings(&base)).await.unwrap();
        assert!(out.starts_with("200 OK"), "{out}");
        assert_eq!(report(Ok(out)), 0);
    }

    #[actix_web::test]
    async fn every_failure_is_a_non_zero_exit_status() {
        let (base, handle) = stub(false, 200).await;
        let refused = run(&settings(&base)).await.unwrap_err();
        assert!(
            refused.to_string().contains("credentials refused"),
            "{refused}"
        );
        assert_eq!(report(Err(refused)), 1);

        let (base500, _h) = stub(true, 500).await;
        let failed = run(&settings(&base500)).await.unwrap_err();
        assert!(failed.to_string().contains("500"), "{failed}");
        assert_eq!(report(Err(failed)), 1);

        handle.stop(true).await;
        let down = run(&settings(&base)).await.unwrap_err();
        assert!(
            down.to_string().contains("could not call the API"),
            "{down}"
        );
        assert_eq!(report(Err(down)), 1);
    }
}
