//! The frame every endpoint shares, so that a handler file reads parse → authenticate →
//! check → act: the one log line per request, the route and method checks, and CORS
//! (preflights and response headers) by the endpoint's policy.

use std::time::Instant;

use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::deps::Deps;
use crate::error::{HttpError, McpError};
use crate::http::route_path;

/// One Lambda function's routes: its name in the log line, the paths it serves (relative
/// to the base URL), the methods they take and who may call them from a browser.
pub struct Endpoint {
    pub name: &'static str,
    pub paths: &'static [&'static str],
    pub methods: Methods,
    pub cors: Cors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methods {
    /// `GET` and `HEAD`: documents.
    Read,
    /// `POST`: OAuth and MCP requests.
    Post,
    /// `GET`, `HEAD` and `POST`: a page and the form it posts.
    Page,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cors {
    /// Pages a person's browser opens: never fetched cross-origin, so no CORS at all.
    None,
    /// Any web origin, without credentials (discovery, registration, token, revocation):
    /// `*` is safe, and preflights are answered.
    Public,
    /// `/mcp`: the server's own origin and the configured ones, echoed (never `*`); any other
    /// `Origin` is refused with 403 (MCP Streamable HTTP: DNS rebinding protection).
    AllowedOrigins,
}

impl Endpoint {
    /// The `Allow` header of a 405, and what a preflight allows.
    fn allow(&self) -> &'static str {
        match (self.methods, self.cors) {
            (Methods::Read, Cors::None) => "GET, HEAD",
            (Methods::Read, _) => "GET, HEAD, OPTIONS",
            (Methods::Post, Cors::None) => "POST",
            (Methods::Post, _) => "POST, OPTIONS",
            (Methods::Page, Cors::None) => "GET, POST",
            (Methods::Page, _) => "GET, HEAD, POST, OPTIONS",
        }
    }

    fn takes(&self, method: &Method) -> bool {
        let read = *method == Method::GET || *method == Method::HEAD;
        match self.methods {
            Methods::Read => read,
            Methods::Post => *method == Method::POST,
            Methods::Page => read || *method == Method::POST,
        }
    }
}

/// Runs `handler` for a request to one of the endpoint's paths with a method it takes,
/// answers everything else (404, 405, preflight, refused origin) itself, adds the CORS
/// headers and writes the log line.
pub async fn serve(
    endpoint: &Endpoint,
    req: Request,
    deps: &Deps,
    handler: impl AsyncFnOnce(&Request, &Deps) -> Response<Body>,
) -> Response<Body> {
    let log = RequestLog::start(endpoint.name, &req);
    let origin_allowed = match endpoint.cors {
        Cors::AllowedOrigins => origin_allowed(&req, deps),
        Cors::None | Cors::Public => true,
    };
    let path = route_path(&req, &deps.config.base_url);
    let resp = match endpoint.paths.iter().find(|p| **p == path) {
        None => HttpError::NotFound.into_response(),
        Some(_) if *req.method() == Method::OPTIONS && endpoint.cors != Cors::None => {
            if origin_allowed {
                preflight(endpoint.allow())
            } else {
                forbidden_origin()
            }
        }
        Some(_) if !endpoint.takes(req.method()) => HttpError::MethodNotAllowed {
            allow: endpoint.allow(),
        }
        .into_response(),
        Some(_) if !origin_allowed => forbidden_origin(),
        Some(_) => with_retry_after(handler(&req, deps).await),
    };
    let resp = match endpoint.cors {
        Cors::None => resp,
        Cors::Public => with_public_cors(resp),
        Cors::AllowedOrigins => with_origin_cors(resp, &req, origin_allowed),
    };
    log.finish(&resp);
    resp
}

/// How long a client should wait after a 503 (a store or secret that failed this once).
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Every 503, whichever handler answered it (an OAuth error, a JSON-RPC error, an error
/// page), says when to try again (RFC 9110 §10.2.3).
fn with_retry_after(mut resp: Response<Body>) -> Response<Body> {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key("retry-after")
    {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    resp
}

/// Headers the browser-based MCP clients send: preflights must allow them.
pub const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID";
/// Headers a browser-based client must be able to read from a response.
pub const CORS_EXPOSE_HEADERS: &str =
    "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, Retry-After";

/// Adds CORS headers for an endpoint that any web origin may call without cookies
/// (discovery, registration, token, revocation): no credentials, so `*` is safe.
fn with_public_cors(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(CORS_EXPOSE_HEADERS),
    );
    resp
}

/// The answer to a CORS preflight (`OPTIONS`): which methods and headers may follow, for
/// any origin (`with_public_cors`) or the one that asked (`with_origin_cors`).
fn preflight(allow_methods: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static(allow_methods),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(CORS_ALLOW_HEADERS),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    resp
}

fn origin(req: &Request) -> Option<&str> {
    req.headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// DNS-rebinding protection (MCP Streamable HTTP §Security): a browser's `Origin` must be
/// this server's own or one configured; requests without one (native clients) pass.
fn origin_allowed(req: &Request, deps: &Deps) -> bool {
    let Some(origin) = origin(req) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    origin == deps.config.base_url.origin()
        || deps.config.allowed_origins.iter().any(|o| o == origin)
}

fn forbidden_origin() -> Response<Body> {
    McpError::invalid_request("Forbidden: this Origin may not call the MCP endpoint")
        .with_status(StatusCode::FORBIDDEN)
        .into_response(None)
}

/// CORS for an allowed browser origin: echoed (never `*`), with the headers a client reads.
fn with_origin_cors(mut resp: Response<Body>, req: &Request, allowed: bool) -> Response<Body> {
    if let Some(origin) = origin(req)
        && allowed
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        let h = resp.headers_mut();
        h.insert("access-control-allow-origin", value);
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(CORS_EXPOSE_HEADERS),
        );
        h.append("vary", HeaderValue::from_static("Origin"));
    }
    resp
}

/// What the per-request log line says about a request: method and path only, since
/// query strings and bodies carry codes, tokens and passwords.
struct RequestLog {
    function: &'static str,
    method: Method,
    path: String,
    started: Instant,
}

impl RequestLog {
    fn start(function: &'static str, req: &Request) -> Self {
        Self {
            function,
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            started: Instant::now(),
        }
    }

    fn finish(self, resp: &Response<Body>) {
        match crate::aws_calls::take_summary() {
            // Benchmarks only (ALTA_MEASURE_AWS_CALLS): what the request cost in AWS calls.
            Some(aws) => tracing::info!(
                function = self.function,
                method = %self.method,
                path = %self.path,
                status = resp.status().as_u16(),
                latency_us = self.started.elapsed().as_micros() as u64,
                aws = %aws,
                "request"
            ),
            None => tracing::info!(
                function = self.function,
                method = %self.method,
                path = %self.path,
                status = resp.status().as_u16(),
                latency_us = self.started.elapsed().as_micros() as u64,
                "request"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const PAGE: Endpoint = Endpoint {
        name: "page",
        paths: &["/page"],
        methods: Methods::Page,
        cors: Cors::None,
    };
    const API: Endpoint = Endpoint {
        name: "api",
        paths: &["/api"],
        methods: Methods::Post,
        cors: Cors::Public,
    };
    const MCP: Endpoint = Endpoint {
        name: "mcp",
        paths: &["/mcp"],
        methods: Methods::Post,
        cors: Cors::AllowedOrigins,
    };

    fn deps() -> Deps {
        let lookup = |name: &str| {
            (name == "ALTA_ALLOWED_ORIGINS").then(|| "https://inspector.example".to_owned())
        };
        let config = crate::Config::from_lookup(lookup, Some("https://mcp.alta.example")).unwrap();
        Deps::in_memory(config, Arc::new(crate::clock::SystemClock)).unwrap()
    }

    fn request(method: &str, path: &str, origin: Option<&str>) -> Request {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("https://mcp.alta.example{path}"));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.body(Body::Empty).unwrap()
    }

    /// Serves one request; the status, the headers named, and whether the handler ran.
    async fn answer(
        endpoint: &Endpoint,
        req: Request,
        headers: &[&str],
    ) -> (u16, Vec<Option<String>>, bool) {
        let ran = AtomicBool::new(false);
        let resp = serve(endpoint, req, &deps(), async |_, _| {
            ran.store(true, Ordering::SeqCst);
            Response::new(Body::Empty)
        })
        .await;
        let named = headers
            .iter()
            .map(|h| {
                resp.headers()
                    .get(*h)
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .collect();
        (resp.status().as_u16(), named, ran.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn only_the_endpoints_paths_and_methods_reach_the_handler() {
        let allow = &["allow"];
        assert_eq!(
            answer(&PAGE, request("GET", "/other", None), allow).await,
            (404, vec![None], false)
        );
        assert_eq!(
            answer(&PAGE, request("HEAD", "/page/", None), allow).await,
            (200, vec![None], true)
        );
        assert_eq!(
            answer(&PAGE, request("OPTIONS", "/page", None), allow).await,
            (405, vec![Some("GET, POST".into())], false),
            "a page answers no preflight"
        );
        assert_eq!(
            answer(&API, request("GET", "/api", None), allow).await,
            (405, vec![Some("POST, OPTIONS".into())], false)
        );
    }

    #[tokio::test]
    async fn public_endpoints_answer_any_origin_without_credentials() {
        let cors = &[
            "access-control-allow-origin",
            "access-control-allow-methods",
        ];
        let preflight = request("OPTIONS", "/api", Some("https://anywhere.example"));
        assert_eq!(
            answer(&API, preflight, cors).await,
            (
                204,
                vec![Some("*".into()), Some("POST, OPTIONS".into())],
                false
            )
        );
        let post = request("POST", "/api", Some("https://anywhere.example"));
        assert_eq!(
            answer(&API, post, cors).await,
            (200, vec![Some("*".into()), None], true)
        );
        let page = request("GET", "/page", Some("https://anywhere.example"));
        assert_eq!(
            answer(&PAGE, page, cors).await,
            (200, vec![None, None], true)
        );
    }

    #[tokio::test]
    async fn mcp_answers_its_own_and_configured_origins_only() {
        let cors = &["access-control-allow-origin", "vary"];
        for origin in ["https://mcp.alta.example", "https://inspector.example/"] {
            let preflight = request("OPTIONS", "/mcp", Some(origin));
            let (status, headers, ran) = answer(&MCP, preflight, cors).await;
            assert_eq!((status, ran), (204, false), "{origin}");
            assert_eq!(headers, [Some(origin.to_owned()), Some("Origin".into())]);
        }
        for method in ["OPTIONS", "POST"] {
            let foreign = request(method, "/mcp", Some("https://evil.example"));
            assert_eq!(
                answer(&MCP, foreign, cors).await,
                (403, vec![None, None], false),
                "{method}"
            );
        }
        let native = request("POST", "/mcp", None);
        assert_eq!(
            answer(&MCP, native, cors).await,
            (200, vec![None, None], true)
        );
    }

    #[test]
    fn preflight_allows_the_mcp_headers() {
        let resp = preflight("GET, OPTIONS");
        assert_eq!(resp.status(), 204);
        let allowed = resp.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("MCP-Protocol-Version"));
        assert!(allowed.contains("Authorization"));
    }
}
