//! The OAuth 2.1 authorization server: one handler file per endpoint (`authorize` with
//! `connections`, `token`, `register`, `revoke`, `discovery`), and the pieces only they
//! use (`grant_end`: how any of them ends a grant).

pub mod authorize;
pub mod client_auth;
pub mod client_metadata;
pub mod connections;
pub mod discovery;
pub mod grant_end;
pub mod operator;
pub mod pages;
pub mod pending;
pub mod register;
pub mod resource;
pub mod revoke;
pub mod sign_in;
pub mod signed_form;
pub mod token;
pub mod upstream;
