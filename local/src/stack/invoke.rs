//! The Lambda Invoke API of the emulated stack, as `aws lambda invoke --endpoint-url` and
//! `sam local start-lambda` clients use it; and `GET /emulator/functions`, each function's
//! containers.

use std::collections::BTreeMap;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::Stack;
use super::runtime::{self, Outcome};

/// The Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`), and
/// `GET /emulator/functions` with each function's containers.
pub async fn handle(stack: &Stack, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if req.method() == hyper::Method::GET && path == "/emulator/functions" {
        let census: BTreeMap<_, _> = stack
            .functions
            .iter()
            .map(|(id, f)| (id.clone(), f.census()))
            .collect();
        return json_response(StatusCode::OK, &json!(census));
    }
    let name = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(|name| {
            url::form_urlencoded::parse(format!("n={name}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        });
    let Some(name) = name.filter(|_| req.method() == hyper::Method::POST) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"Type": "User", "message": "unknown path"}),
        );
    };
    let Some(function) = stack.function(&name).cloned() else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"Type": "User", "Message": format!("Function not found: {name}")}),
        );
    };
    let payload = match Limited::new(req.into_body(), runtime::MAX_PAYLOAD_BYTES + 1)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    match function.invoke(payload).await {
        Outcome::Response(body) => Response::builder()
            .header("content-type", "application/json")
            .header("x-amz-executed-version", "$LATEST")
            .body(Full::new(body))
            .unwrap_or_default(),
        Outcome::HandlerError(body) => Response::builder()
            .header("content-type", "application/json")
            .header("x-amz-function-error", "Unhandled")
            .body(Full::new(body))
            .unwrap_or_default(),
        Outcome::RuntimeFailure {
            error_type,
            message,
        } if error_type == "TooManyRequestsException"
            || error_type == "RequestTooLargeException" =>
        {
            let status = if error_type == "TooManyRequestsException" {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::PAYLOAD_TOO_LARGE
            };
            json_response(status, &json!({"Type": "User", "Message": message}))
        }
        Outcome::RuntimeFailure {
            error_type,
            message,
        } => {
            let mut response = json_response(
                StatusCode::OK,
                &json!({"errorType": error_type, "errorMessage": message}),
            );
            response.headers_mut().insert(
                "x-amz-function-error",
                hyper::header::HeaderValue::from_static("Unhandled"),
            );
            response
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
