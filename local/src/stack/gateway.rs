//! An HTTP front door that behaves like an API Gateway HTTP API with Lambda proxy
//! integrations (payload format 2.0): routes from the template, the event API Gateway
//! builds for each request, and the HTTP response it makes of the function's answer.
//!
//! What it reproduces: route selection (most specific route first, `ANY`, greedy
//! `{proxy+}`, `$default`, a trailing slash ignored), `404 {"message":"Not Found"}` for an
//! unrouted request (HEAD included: it needs its own route), the 10 MB request limit,
//! the 30 s integration timeout (503), a failed invocation (500), `cookies` split out of
//! the `Cookie` header and `Set-Cookie` headers made from the response's `cookies`,
//! repeated headers and query parameters joined with commas, bodies base64-encoded
//! unless their content type is text, and `x-forwarded-*` headers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::runtime::{Function, Outcome};
use alta_shared::clock::civil_date;

/// API Gateway's maximum request payload.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// An HTTP API's maximum integration timeout.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One route: `METHOD /path` (method `ANY` matches every method) or `$default`.
#[derive(Debug, Clone)]
pub struct Route {
    pub key: String,
    method: Option<String>,
    segments: Vec<Segment>,
    pub function: Arc<Function>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

impl Route {
    pub fn new(key: &str, function: Arc<Function>) -> Result<Self, String> {
        if key == "$default" {
            return Ok(Self {
                key: key.to_owned(),
                method: None,
                segments: Vec::new(),
                function,
            });
        }
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| format!("route key `{key}` is not `METHOD /path`"))?;
        let segments = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => match name.strip_suffix('+') {
                        Some(greedy) => Segment::Greedy(greedy.to_owned()),
                        None => Segment::Variable(name.to_owned()),
                    },
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        Ok(Self {
            key: key.to_owned(),
            method: (method != "ANY").then(|| method.to_owned()),
            segments,
            function,
        })
    }

    fn is_default(&self) -> bool {
        self.key == "$default"
    }

    /// The path parameters when `path` matches, most specific first by `rank`.
    fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.is_default() {
            return Some(BTreeMap::new());
        }
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        // API Gateway routes `/mcp/` as `/mcp`; the function still sees the raw path.
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let parts: Vec<&str> = trimmed
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .collect();
        let mut params = BTreeMap::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if parts.get(i) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Variable(name) => {
                    params.insert(name.clone(), (*parts.get(i)?).to_owned());
                }
                Segment::Greedy(name) => {
                    if parts.len() <= i {
                        return None;
                    }
                    params.insert(name.clone(), parts[i..].join("/"));
                    return Some(params);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }

    /// Higher is more specific: literal paths over variables over greedy variables, a
    /// method over `ANY`, anything over `$default`.
    fn rank(&self) -> (u8, usize, u8) {
        if self.is_default() {
            return (0, 0, 0);
        }
        let greedy = self
            .segments
            .iter()
            .any(|s| matches!(s, Segment::Greedy(_)));
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (
            if greedy { 1 } else { 2 },
            literals,
            u8::from(self.method.is_some()),
        )
    }
}

/// The API: its routes, and what its requests' contexts carry.
pub struct Gateway {
    pub routes: Vec<Route>,
    pub api_id: String,
    pub account_id: String,
}

impl Gateway {
    fn route(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter_map(|route| route.matches(method, path).map(|params| (route, params)))
            .max_by_key(|(route, _)| route.rank())
    }

    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let request_id = request_id();
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                let response = message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
                return with_request_id(response, &request_id);
            }
        };
        let method = parts.method.as_str().to_owned();
        let path = parts.uri.path().to_owned();
        let Some((route, path_parameters)) = self.route(&method, &path) else {
            return with_request_id(message(StatusCode::NOT_FOUND, "Not Found"), &request_id);
        };
        let event = self.event(&parts, &body, route, path_parameters, peer, &request_id);
        let payload = Bytes::from(event.to_string());
        let outcome =
            tokio::time::timeout(INTEGRATION_TIMEOUT, route.function.invoke(payload)).await;
        let failed = || message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        let response = match outcome {
            Err(_) => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
            Ok(Outcome::Response(payload)) => response_from(&payload).unwrap_or_else(failed),
            Ok(Outcome::HandlerError(_) | Outcome::RuntimeFailure { .. }) => failed(),
        };
        with_request_id(response, &request_id)
    }

    /// The payload format 2.0 event of one request.
    fn event(
        &self,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
        route: &Route,
        path_parameters: BTreeMap<String, String>,
        peer: SocketAddr,
        request_id: &str,
    ) -> Value {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        let mut cookies = Vec::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name == hyper::header::COOKIE {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
                continue;
            }
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push(',');
                    joined.push_str(&value);
                })
                .or_insert(value);
        }
        let source_ip = peer.ip().to_string();
        let forwarded_for = match headers.get("x-forwarded-for") {
            Some(existing) => format!("{existing}, {source_ip}"),
            None => source_ip.clone(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = headers.get("host").cloned().unwrap_or_default();
        let domain = host.split(':').next().unwrap_or_default().to_owned();
        headers.insert("x-forwarded-for".into(), forwarded_for);
        headers.insert("x-forwarded-proto".into(), "http".into());
        headers.insert(
            "x-forwarded-port".into(),
            host.rsplit_once(':')
                .map(|(_, port)| port.to_owned())
                .unwrap_or_else(|| "80".into()),
        );
        headers.insert(
            "x-amzn-trace-id".into(),
            format!("Root=1-{:08x}-{}", now.as_secs(), hex(12)),
        );
        let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
        let raw_query = parts.uri.query().unwrap_or_default().to_owned();

        let mut event = json!({
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": parts.uri.path(),
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": domain,
                "domainPrefix": domain.split('.').next().unwrap_or_default(),
                "http": {
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "protocol": format!("{:?}", parts.version),
                    "sourceIp": source_ip,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "routeKey": route.key,
                "stage": "$default",
                "time": clf_time(now.as_secs()),
                "timeEpoch": now.as_millis() as u64,
            },
            "isBase64Encoded": false,
        });
        let object = event.as_object_mut().expect("built as an object");
        if !cookies.is_empty() {
            object.insert("cookies".into(), json!(cookies));
        }
        let query = query_parameters(&raw_query);
        if !query.is_empty() {
            object.insert("queryStringParameters".into(), json!(query));
        }
        if !path_parameters.is_empty() {
            object.insert("pathParameters".into(), json!(path_parameters));
        }
        if !body.is_empty() {
            let content_type = parts
                .headers
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            match std::str::from_utf8(body) {
                Ok(text) if is_text(content_type) => {
                    object.insert("body".into(), Value::String(text.to_owned()));
                }
                _ => {
                    object.insert("body".into(), Value::String(BASE64.encode(body)));
                    object.insert("isBase64Encoded".into(), Value::Bool(true));
                }
            }
        }
        event
    }
}

/// HTTP APIs pass these bodies as text; every other body (form posts and no content type
/// included) arrives base64-encoded.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// Query parameters, percent-decoded, repeated names joined with commas.
fn query_parameters(raw: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        out.entry(name.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// The HTTP response of a function's payload format 2.0 answer; `None` when API Gateway
/// would refuse it (500).
fn response_from(payload: &[u8]) -> Option<Response<Full<Bytes>>> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(object) = structured else {
        // Valid JSON without a statusCode: API Gateway answers 200 with it as the body.
        let body = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .ok();
    };
    let status = StatusCode::from_u16(u16::try_from(object["statusCode"].as_u64()?).ok()?).ok()?;
    let mut builder = Response::builder().status(status);
    for (name, value) in object
        .get("headers")
        .and_then(Value::as_object)
        .unwrap_or(&Map::new())
    {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        builder = builder.header(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(&value).ok()?,
        );
    }
    for cookie in object
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        builder = builder.header("set-cookie", HeaderValue::from_str(cookie.as_str()?).ok()?);
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if object.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            Bytes::from(BASE64.decode(text).ok()?)
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    builder.body(Full::new(body)).ok()
}

fn with_request_id(mut response: Response<Full<Bytes>>, request_id: &str) -> Response<Full<Bytes>> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

/// API Gateway's own answers: `{"message": "..."}`.
pub fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(json!({"message": text}).to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn request_id() -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)[..15].to_owned() + "="
}

fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let _ = getrandom::fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `29/Nov/2026:00:00:00 +0000`, the request context's `time`.
fn clf_time(unix_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_date(unix_seconds);
    let s = unix_seconds % 86_400;
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::runtime::FunctionConfig;

    fn function(name: &str) -> Arc<Function> {
        Function::new(FunctionConfig {
            logical_id: name.into(),
            function_name: name.into(),
            arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"),
            binary: "/nonexistent".into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            region: "eu-west-1".into(),
            log_file: None,
            max_containers: 1,
        })
    }

    fn gateway(keys: &[&str]) -> Gateway {
        Gateway {
            routes: keys
                .iter()
                .map(|k| Route::new(k, function(k)).unwrap())
                .collect(),
            api_id: "abc".into(),
            account_id: "123456789012".into(),
        }
    }

    fn routed(gateway: &Gateway, method: &str, path: &str) -> Option<String> {
        gateway.route(method, path).map(|(r, _)| r.key.clone())
    }

    #[test]
    fn the_most_specific_route_wins() {
        let g = gateway(&[
            "GET /.well-known/jwks.json",
            "OPTIONS /.well-known/{proxy+}",
            "ANY /mcp",
            "POST /mcp",
        ]);
        assert_eq!(routed(&g, "POST", "/mcp").as_deref(), Some("POST /mcp"));
        assert_eq!(routed(&g, "GET", "/mcp").as_deref(), Some("ANY /mcp"));
        assert_eq!(routed(&g, "POST", "/mcp/").as_deref(), Some("POST /mcp"));
        assert_eq!(
            routed(&g, "OPTIONS", "/.well-known/jwks.json").as_deref(),
            Some("OPTIONS /.well-known/{proxy+}")
        );
        assert_eq!(routed(&g, "HEAD", "/.well-known/jwks.json"), None);
        assert_eq!(
            routed(&g, "GET", "/.well-known"),
            None,
            "a greedy variable needs a segment"
        );
        assert_eq!(routed(&g, "GET", "/MCP"), None, "paths are case-sensitive");
    }

    #[test]
    fn default_route_takes_what_nothing_else_does() {
        let g = gateway(&["POST /token", "$default"]);
        assert_eq!(routed(&g, "POST", "/token").as_deref(), Some("POST /token"));
        assert_eq!(routed(&g, "GET", "/nothing").as_deref(), Some("$default"));
    }

    #[test]
    fn text_content_types_stay_text_and_everything_else_is_base64() {
        assert!(is_text(Some("application/json; charset=utf-8")));
        assert!(is_text(Some("text/html")));
        assert!(!is_text(Some("application/x-www-form-urlencoded")));
        assert!(!is_text(Some("application/octet-stream")));
        assert!(!is_text(None));
    }

    #[test]
    fn repeated_query_parameters_are_joined_with_commas() {
        let q = query_parameters("a=1&b=x%20y&a=2");
        assert_eq!(q["a"], "1,2");
        assert_eq!(q["b"], "x y");
    }

    #[test]
    fn structured_responses_become_http_responses() {
        let payload = json!({
            "statusCode": 302,
            "headers": {"location": "https://example.com/cb?code=x"},
            "cookies": ["a=1; Path=/", "b=2; Path=/"],
            "body": "",
        });
        let response = response_from(payload.to_string().as_bytes()).unwrap();
        assert_eq!(response.status(), 302);
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies.len(), 2);

        let binary =
            json!({"statusCode": 200, "body": BASE64.encode(b"\x00\x01"), "isBase64Encoded": true});
        let response = response_from(binary.to_string().as_bytes()).unwrap();
        let (_, body) = response.into_parts();
        assert_eq!(futures_body(body), Bytes::from_static(b"\x00\x01"));

        let bare = response_from(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(bare.status(), 200);
        assert!(response_from(b"not json").is_none());
        assert!(response_from(br#"{"statusCode": "two hundred"}"#).is_none());
    }

    fn futures_body(body: Full<Bytes>) -> Bytes {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn request_context_time_is_in_common_log_format() {
        assert_eq!(clf_time(1_795_910_400), "29/Nov/2026:00:00:00 +0000");
    }
}
