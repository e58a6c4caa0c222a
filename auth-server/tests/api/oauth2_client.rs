//! A real OAuth client — the `oauth2` crate — fetching tokens with both authentication methods.

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use crate::helpers::{claims_of, spawn_app};

#[actix_web::test]
async fn the_oauth2_crate_gets_tokens_with_basic_and_post_auth() {
    let app = spawn_app().await;
    let creds = app
        .create_app(&["cases:read", "alerts:read"], "sandbox")
        .await;
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
            .set_client_secret(ClientSecret::new(creds.client_secret.clone()))
            .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
            .set_auth_type(auth_type);
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("alerts:read".into()))
            .request_async(&http)
            .await
            .expect("the oauth2 client gets a token");
        assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
        let scopes: Vec<String> = token
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, vec!["alerts:read".to_owned()]);
        let claims = claims_of(token.access_token().secret());
        assert_eq!(claims["client_id"], creds.client_id.as_str());
    }
}

#[actix_web::test]
async fn the_oauth2_crate_reports_a_wrong_secret_as_invalid_client() {
    let app = spawn_app().await;
    let creds = app.create_app(&["cases:read"], "sandbox").await;
    let http = oauth2::reqwest::Client::new();
    let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
        .set_client_secret(ClientSecret::new("cfsec_wrong".into()))
        .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap());
    let err = client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap_err();
    match err {
        oauth2::RequestTokenError::ServerResponse(r) => {
            assert_eq!(
                r.error(),
                &oauth2::basic::BasicErrorResponseType::InvalidClient
            );
        }
        other => panic!("expected a server error response, got {other:?}"),
    }
}
