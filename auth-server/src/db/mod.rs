//! Row structs and queries of the tables the auth server owns, as associated functions that
//! take a connection. Handlers never build queries; they call the service layer, which calls
//! these inside [`shared::db::Db::run`].

pub mod api_keys;
pub mod applications;
pub mod revoked_tokens;
pub mod signing_keys;
