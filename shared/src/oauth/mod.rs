//! The OAuth 2.1 authorization server: one handler per endpoint.

pub mod authorize;
pub mod client;
pub mod discovery;
pub mod grant;
pub mod register;
pub mod revoke;
pub mod token;
