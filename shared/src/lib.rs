//! Alta MCP: everything the Lambda functions and the local server share.
//!
//! Each endpoint is a plain `async fn handle(Request, &Deps) -> Response` that never fails:
//! every error becomes its specified response inside the handler, so API Gateway never
//! turns an invocation error into a bare 5xx.

pub mod account_data;
pub mod alta;
pub mod aws;
pub mod aws_calls;
pub mod clients;
pub mod clock;
pub mod config;
pub mod demo;
pub mod deps;
pub mod digest;
pub mod directory;
pub mod endpoint;
pub mod error;
pub mod http;
pub mod jwks;
pub mod jwt;
pub mod key_rotation;
pub mod keys;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod password;
pub mod pkce;
pub mod random;
pub mod rbac;
pub mod records;
pub mod redirect_uri;
pub mod routes;
pub mod scope;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod token_verifier;

pub use config::Config;
pub use deps::Deps;
