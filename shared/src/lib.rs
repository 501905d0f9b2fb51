//! Alta MCP: everything the Lambda functions and the local server share.
//!
//! Each endpoint is a plain `async fn handle(Request, &Deps) -> Response` that never fails:
//! every error becomes its specified response inside the handler, so API Gateway never
//! turns an invocation error into a bare 5xx.
//!
//! The modules are grouped by layer, lowest first; a module imports only from its own
//! layer and those below (`tests/layering.rs`; docs/architecture.md).

// base: parsing, settings, primitives
pub mod aws;
pub mod aws_calls;
pub mod clock;
pub mod config;
pub mod digest;
pub mod http;
pub mod metrics;
pub mod password;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod scope;
pub mod secret;
pub mod telemetry;

// domain: what the server knows and decides
pub mod alta;
pub mod clients;
pub mod directory;
pub mod federation;
pub mod jwks;
pub mod jwt;
pub mod key_rotation;
pub mod keys;
pub mod rbac;
pub mod records;
pub mod token_verifier;

// storage: the stores and what is loaded into them
pub mod account_data;
pub mod demo;
pub mod store;

// wiring: dependencies built once per container, errors
pub mod deps;
pub mod error;

// frame: routes, methods, CORS, the log line
pub mod endpoint;

// handlers: the endpoints
pub mod mcp;
pub mod oauth;
pub mod routes;

pub use config::Config;
pub use deps::Deps;
