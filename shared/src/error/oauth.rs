//! OAuth errors (RFC 6749 §5.2 and the RFCs that add codes): the JSON every OAuth endpoint
//! answers with.

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
            // Every request value that becomes a key is bounded where it is parsed: a
            // refusal here is the server's own fault (an item past its size, a bad key),
            // for the 5xx alarm to see.
            _ => Self::internal(err),
        }
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
}
