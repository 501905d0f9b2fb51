//! Errors about the HTTP exchange itself, before any protocol is involved.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::http::{self as h, Headers};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    NotFound,
    MethodNotAllowed { allow: &'static str },
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

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let resp = HttpError::MethodNotAllowed {
            allow: "GET, OPTIONS",
        }
        .into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, OPTIONS");
    }
}
