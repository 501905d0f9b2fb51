//! `/mcp`: the MCP endpoint. Bearer authentication is in place; the transport, protocol
//! and tools come with the MCP issue, so an authenticated request answers 501 until then.

pub mod auth;

use lambda_http::{Body, Request, Response};

use crate::deps::Deps;
use crate::error::HttpError;
use crate::http::RequestLog;

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    let log = RequestLog::start("mcp", &req);
    let resp = match auth::authenticate(&req, deps).await {
        Err(challenge) => challenge,
        Ok(_caller) => HttpError::NotImplemented {
            route: "the MCP transport",
        }
        .into_response(),
    };
    log.finish(&resp);
    resp
}
