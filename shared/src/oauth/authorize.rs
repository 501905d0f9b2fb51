//! `GET|POST /authorize`: not built yet. It answers 501 so that no client mistakes it for a working
//! endpoint; the issue that builds it replaces this file.

use lambda_http::{Body, Request, Response};

use crate::deps::Deps;
use crate::error::HttpError;
use crate::http::RequestLog;

pub async fn handle(req: Request, _deps: &Deps) -> Response<Body> {
    let log = RequestLog::start("authorize", &req);
    let resp = HttpError::NotImplemented {
        route: "GET|POST /authorize",
    }
    .into_response();
    log.finish(&resp);
    resp
}
