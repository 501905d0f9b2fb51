//! Errors that reach a client, and the one place that turns them into HTTP responses.
//!
//! Each error carries two messages (dropshot's split): the description sent to the client
//! and, for internal failures, a cause that is logged once and never sent.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::{self as h, Headers};
use crate::store::StoreError;

/// The `error` codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1, RFC 7591 §3.2.2 and
/// RFC 8707 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    InvalidRedirectUri,
    InvalidClientMetadata,
    ServerError,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        use OAuthErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            UnsupportedTokenType => "unsupported_token_type",
            InvalidScope => "invalid_scope",
            InvalidTarget => "invalid_target",
            AccessDenied => "access_denied",
            InvalidRedirectUri => "invalid_redirect_uri",
            InvalidClientMetadata => "invalid_client_metadata",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status when the error is the body of a direct response (not a redirect).
    pub fn status(self) -> StatusCode {
        use OAuthErrorCode::*;
        match self {
            InvalidClient => StatusCode::UNAUTHORIZED,
            AccessDenied => StatusCode::FORBIDDEN,
            ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    /// Sent to the client as `error_description`.
    pub description: Cow<'static, str>,
    /// Logged, never sent: what actually went wrong inside.
    internal: Option<String>,
    /// RFC 6749 §5.2: a failed HTTP Basic authentication answers with a challenge.
    basic_challenge: bool,
    /// A rate limit: 429 with `Retry-After` (RFC 6585 §4) in seconds.
    retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            internal: None,
            basic_challenge: false,
            retry_after: None,
        }
    }

    /// A limit was reached: `temporarily_unavailable` as 429, try again after `seconds`.
    pub fn too_many_requests(description: impl Into<Cow<'static, str>>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(OAuthErrorCode::TemporarilyUnavailable, description)
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client_metadata(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClientMetadata, description)
    }

    pub fn invalid_redirect_uri(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRedirectUri, description)
    }

    /// An internal failure: the client learns only that the server failed.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(
                OAuthErrorCode::ServerError,
                "the server could not complete the request",
            )
        }
    }

    pub fn unavailable(cause: impl fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "the server is temporarily unable to complete the request; try again",
            )
        }
    }

    pub fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self
    }

    pub fn into_response(self) -> Response<Body> {
        if let Some(cause) = &self.internal {
            tracing::error!(error = self.code.as_str(), cause = %cause, "request failed inside the server");
        }
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        let mut headers = Headers::no_store();
        if let Some(seconds) = self.retry_after {
            headers.push(("retry-after", seconds.to_string().into()));
        }
        if self.basic_challenge {
            headers.push((
                "www-authenticate",
                r#"Basic realm="alta", charset="UTF-8""#.into(),
            ));
        }
        let status = match self.retry_after {
            Some(_) => StatusCode::TOO_MANY_REQUESTS,
            None => self.code.status(),
        };
        h::json_response(
            status,
            &ErrorBody {
                error: self.code.as_str(),
                error_description: &self.description,
            },
            headers,
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

/// A malformed request body or repeated parameter is the client's `invalid_request`.
impl From<crate::http::BodyError> for OAuthError {
    fn from(err: crate::http::BodyError) -> Self {
        Self::invalid_request(err.to_string())
    }
}

/// A malformed PKCE parameter is `invalid_request` (a wrong verifier is `invalid_grant`,
/// decided where the code is redeemed).
impl From<crate::pkce::PkceError> for OAuthError {
    fn from(err: crate::pkce::PkceError) -> Self {
        Self::invalid_request(err.to_string())
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::unavailable(err),
            _ => Self::internal(err),
        }
    }
}

/// Errors about the HTTP exchange itself, before any protocol is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// A route whose function has not been built yet: an honest 501, never a fake success.
    NotImplemented {
        route: &'static str,
    },
}

impl HttpError {
    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            error: &'a str,
            error_description: String,
        }
        let mut headers = Headers::no_store();
        let (status, error, description) = match self {
            HttpError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such route".into()),
            HttpError::MethodNotAllowed { allow } => {
                headers.push(("allow", allow.into()));
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("this route accepts {allow}"),
                )
            }
            HttpError::NotImplemented { route } => (
                StatusCode::NOT_IMPLEMENTED,
                "not_implemented",
                format!("{route} is not implemented yet"),
            ),
        };
        h::json_response(
            status,
            &ErrorBody {
                error,
                error_description: description,
            },
            headers,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    }

    #[test]
    fn oauth_error_is_rfc6749_json_and_not_cached() {
        let resp = OAuthError::invalid_client_metadata("redirect_uris is required").into_response();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(
            body_json(&resp),
            serde_json::json!({"error": "invalid_client_metadata", "error_description": "redirect_uris is required"})
        );
    }

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge_when_basic_was_used() {
        let resp = OAuthError::new(OAuthErrorCode::InvalidClient, "unknown client")
            .with_basic_challenge()
            .into_response();
        assert_eq!(resp.status(), 401);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
    }

    #[test]
    fn internal_cause_is_never_sent() {
        let resp = OAuthError::internal("table alta-clients: connection refused").into_response();
        assert_eq!(resp.status(), 500);
        let body = body_json(&resp);
        assert_eq!(body["error"], "server_error");
        assert!(!body.to_string().contains("alta-clients"));
    }

    #[test]
    fn store_outage_is_temporarily_unavailable() {
        let err: OAuthError = StoreError::Unavailable("timeout".into()).into();
        assert_eq!(err.into_response().status(), 503);
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let resp = HttpError::MethodNotAllowed {
            allow: "GET, OPTIONS",
        }
        .into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, OPTIONS");
    }

    #[test]
    fn unbuilt_route_is_501_json() {
        let resp = HttpError::NotImplemented {
            route: "POST /token",
        }
        .into_response();
        assert_eq!(resp.status(), 501);
        assert_eq!(body_json(&resp)["error"], "not_implemented");
    }
}

/// JSON-RPC errors of the MCP endpoint, with the HTTP status each one travels with.
#[derive(Debug, Clone, PartialEq)]
pub struct McpError {
    pub code: i64,
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub status: StatusCode,
}

impl McpError {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP 2026-07-28: headers and body disagree, or a required header is missing.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// MCP 2026-07-28: `UnsupportedProtocolVersionError`.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

    pub fn new(code: i64, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
            status,
        }
    }

    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(Self::PARSE_ERROR, StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(Self::INVALID_REQUEST, StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(Self::INVALID_PARAMS, StatusCode::BAD_REQUEST, message)
    }

    pub fn header_mismatch(message: impl Into<String>) -> Self {
        Self::new(Self::HEADER_MISMATCH, StatusCode::BAD_REQUEST, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            Self::METHOD_NOT_FOUND,
            StatusCode::NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }

    pub fn unsupported_version(requested: &str, supported: &[&str]) -> Self {
        Self {
            data: Some(serde_json::json!({"supported": supported, "requested": requested})),
            ..Self::new(
                Self::UNSUPPORTED_PROTOCOL_VERSION,
                StatusCode::BAD_REQUEST,
                "Unsupported protocol version",
            )
        }
    }

    /// An internal failure: logged here, a generic message sent.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(cause = %cause, "MCP request failed inside the server");
        Self::new(
            Self::INTERNAL_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
        )
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The JSON-RPC error object for request `id` (absent when the id could not be read).
    pub fn to_json(&self, id: Option<&serde_json::Value>) -> serde_json::Value {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        let mut body = serde_json::json!({"jsonrpc": "2.0", "error": error});
        if let Some(id) = id {
            body["id"] = id.clone();
        }
        body
    }

    pub fn into_response(self, id: Option<&serde_json::Value>) -> Response<Body> {
        h::json_response(self.status, &self.to_json(id), Headers::no_store())
    }
}

impl From<StoreError> for McpError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..Self::internal(err)
            },
            _ => Self::internal(err),
        }
    }
}
