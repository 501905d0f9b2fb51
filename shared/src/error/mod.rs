//! Errors that reach a client, and the one place that turns them into HTTP responses.
//!
//! Each error carries two messages (dropshot's split): the description sent to the client
//! and, for internal failures, a cause that is logged once and never sent.

pub mod http;
pub mod mcp;
pub mod oauth;

pub use self::http::HttpError;
pub use mcp::McpError;
pub use oauth::{OAuthError, OAuthErrorCode};
