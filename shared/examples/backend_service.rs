//! A backend service calling the CaseForge API with client credentials.
//!
//! ```sh
//! CASEFORGE_CLIENT_ID=app_… CASEFORGE_CLIENT_SECRET=cfsec_… \
//!   cargo run -p shared --features client --example backend_service
//! ```
//!
//! Copy this into your service: one `TokenSource` per application, shared by every task;
//! tokens are fetched on first use, cached and refreshed five minutes before they expire.

use shared::client::{AuthorizedClient, TokenError, TokenSource};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth =
        std::env::var("CASEFORGE_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:8081".into());
    let api = std::env::var("CASEFORGE_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let id = std::env::var("CASEFORGE_CLIENT_ID")?;
    let secret = std::env::var("CASEFORGE_CLIENT_SECRET")?;

    let tokens = TokenSource::new(&format!("{auth}/oauth/token"), id, secret, &["cases:read"])?;
    let client = AuthorizedClient::new(tokens);

    match client
        .send(|http| http.get(format!("{api}/v2/cases?page_size=5")))
        .await
    {
        Ok(resp) => println!("{} {}", resp.status(), resp.text().await?),
        // A rotated or revoked secret: alert a human, retrying will not help.
        Err(TokenError::InvalidClient) => {
            eprintln!("credentials refused; has the secret been rotated?")
        }
        Err(e) => eprintln!("could not call the API: {e}"),
    }
    Ok(())
}
