//! JSON-RPC errors of the MCP endpoint.

use std::fmt;

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::http::{self as h, Headers};
use crate::store::StoreError;

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
            // Tool arguments are the only request values that become keys here, and
            // `ToolFailure` answers their refusal; anything else is the server's fault.
            _ => Self::internal(err),
        }
    }
}
