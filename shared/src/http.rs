//! HTTP pieces every handler uses: request parsing (form, JSON, query, route path, source
//! address) and JSON responses with their security headers. The frame around a handler
//! (routes, methods, CORS, the log line) is `endpoint`.

use std::borrow::Cow;

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::BaseUrl;

/// Response headers, in the order they are added.
#[derive(Debug, Default)]
pub struct Headers(Vec<(&'static str, Cow<'static, str>)>);

impl Headers {
    /// For anything carrying a credential or a per-request answer (RFC 6749 §5.1).
    pub fn no_store() -> Self {
        let mut h = Self::default();
        h.push(("cache-control", "no-store".into()));
        h.push(("pragma", "no-cache".into()));
        h
    }

    /// For public documents that change rarely, such as metadata and the JWKS.
    pub fn cacheable(max_age_seconds: u32) -> Self {
        let mut h = Self::default();
        h.push((
            "cache-control",
            format!("public, max-age={max_age_seconds}").into(),
        ));
        h
    }

    pub fn push(&mut self, header: (&'static str, Cow<'static, str>)) {
        self.0.push(header);
    }
}

/// A response with a JSON body.
pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
    headers: Headers,
) -> Response<Body> {
    // Our response types are plain structs with string keys: serialising cannot fail.
    // Text, not bytes: API Gateway receives it as is rather than base64-encoded.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    for (name, value) in headers.0 {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.append(name, value);
        }
    }
    resp
}

/// The request path relative to the base URL, without a trailing slash, so that routes
/// match the same way behind a custom domain, a stage path or the local server.
pub fn route_path<'a>(req: &'a Request, base: &BaseUrl) -> &'a str {
    let path = req.uri().path();
    let base_path = base
        .issuer()
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let path = if !base_path.is_empty() && path.starts_with(&base_path) {
        &path[base_path.len()..]
    } else {
        path
    };
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge { limit: usize },
    NotUtf8,
    UnsupportedMediaType { expected: &'static str },
    Json(String),
    DuplicateParameter(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "the request body is larger than {limit} bytes")
            }
            BodyError::NotUtf8 => f.write_str("the request body is not UTF-8"),
            BodyError::UnsupportedMediaType { expected } => {
                write!(f, "the request body must be {expected}")
            }
            BodyError::Json(e) => write!(f, "the request body is not valid JSON: {e}"),
            BodyError::DuplicateParameter(name) => {
                write!(f, "the parameter `{name}` is repeated")
            }
        }
    }
}

/// The request body, refused past `limit` bytes.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], BodyError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The media type of the request, lower-cased, without parameters.
pub fn media_type(req: &Request) -> Option<String> {
    let value = req.headers().get("content-type")?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// A JSON body, refused past `limit` bytes. A missing Content-Type is tolerated; a
/// different one is not, since a form post is not a JSON document.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, BodyError> {
    match media_type(req).as_deref() {
        None | Some("application/json") => {}
        Some(t) if t.ends_with("+json") => {}
        Some(_) => {
            return Err(BodyError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
    }
    let bytes = body_bytes(req, limit)?;
    serde_json::from_slice(bytes).map_err(|e| BodyError::Json(e.to_string()))
}

/// Decoded `name=value` pairs of a query string or form body, in order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    pub fn from_query(req: &Request) -> Self {
        Self::parse(req.uri().query().unwrap_or("").as_bytes())
    }

    /// A form body (`application/x-www-form-urlencoded`), refused past `limit` bytes.
    pub fn from_form(req: &Request, limit: usize) -> Result<Self, BodyError> {
        match media_type(req).as_deref() {
            Some("application/x-www-form-urlencoded") | None => {}
            Some(_) => {
                return Err(BodyError::UnsupportedMediaType {
                    expected: "application/x-www-form-urlencoded",
                });
            }
        }
        Ok(Self::parse(body_bytes(req, limit)?))
    }

    /// The one value of a parameter; RFC 6749 §3.1: parameters MUST NOT be repeated.
    /// An empty value counts as absent (RFC 6749 §3.1).
    pub fn single(&self, name: &str) -> Result<Option<&str>, BodyError> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(BodyError::DuplicateParameter(name.to_owned())),
            (Some(""), None) | (None, _) => Ok(None),
            (Some(v), None) => Ok(Some(v)),
        }
    }

    /// Every value of a repeatable parameter (RFC 8707 `resource` is checked by the caller).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The caller's address: API Gateway's request context (`sourceIp`), or, behind the local
/// server, the `x-forwarded-for` it sets from the connection.
pub fn source_ip(req: &Request) -> Option<String> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref()
        && let Some(ip) = &context.http.source_ip
    {
        return Some(ip.clone());
    }
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| !ip.is_empty())
}

/// The caller's address as logs show it: an IPv4 address, or an IPv6 caller's /64 (the
/// block the throttles count by).
pub fn source_address(req: &Request) -> Option<String> {
    source_ip(req).map(|ip| address_block(&ip))
}

/// The caller's address as a store key: its SHA-256, so no address is stored in clear.
/// An IPv6 caller is its /64 (one subscriber's prefix: the interface half is theirs to
/// change at will); anything else is keyed as written.
pub fn source_address_key(req: &Request) -> Option<String> {
    source_ip(req).map(|ip| crate::digest::sha256_hex(address_block(&ip).as_bytes()))
}

fn address_block(ip: &str) -> String {
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        Err(_) => ip.to_owned(),
    }
}

/// `value` as an RFC 9110 quoted-string (§5.6.4), for an auth-param: `"` and `\` escaped,
/// and anything a header cannot carry (controls, non-ASCII) replaced, so that a message
/// can never end the parameter early or make the whole header invalid.
pub fn quoted_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_ipv6_caller_is_its_64_and_an_ipv4_caller_its_address() {
        assert_eq!(address_block("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_block("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            address_block("2001:db8:1:2::7")
        );
        assert_ne!(
            address_block("2001:db8:1:3::1"),
            address_block("2001:db8:1:2::1")
        );
        assert_eq!(address_block("203.0.113.7"), "203.0.113.7");
        assert_eq!(address_block("::ffff:203.0.113.7"), "203.0.113.7");
    }
    use super::*;

    #[test]
    fn quoted_strings_escape_quotes_and_backslashes_and_drop_controls() {
        assert_eq!(quoted_string("plain"), "\"plain\"");
        assert_eq!(
            quoted_string("Json(Error(\"missing field `jti`\"))"),
            "\"Json(Error(\\\"missing field `jti`\\\"))\""
        );
        assert_eq!(quoted_string("a\\b"), "\"a\\\\b\"");
        assert_eq!(quoted_string("line\r\nbreak é"), "\"line??break ?\"");
        assert!(HeaderValue::from_str(&quoted_string("x\u{0}\"y\n")).is_ok());
    }

    fn request(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn repeated_parameter_is_refused() {
        let params = Params::parse(b"scope=a&scope=b&state=x");
        assert_eq!(
            params.single("scope"),
            Err(BodyError::DuplicateParameter("scope".into()))
        );
        assert_eq!(params.single("state"), Ok(Some("x")));
        assert_eq!(params.single("missing"), Ok(None));
    }

    #[test]
    fn empty_parameter_counts_as_absent() {
        assert_eq!(Params::parse(b"state=").single("state"), Ok(None));
    }

    #[test]
    fn form_values_are_percent_decoded() {
        let params = Params::parse(b"redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcb&scope=a+b");
        assert_eq!(
            params.single("redirect_uri"),
            Ok(Some("http://127.0.0.1:3000/cb"))
        );
        assert_eq!(params.single("scope"), Ok(Some("a b")));
    }

    #[test]
    fn form_with_a_json_content_type_is_refused() {
        let req = request("POST", "/token", Some("application/json"), "{}");
        assert!(matches!(
            Params::from_form(&req, 1024),
            Err(BodyError::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn oversized_body_is_refused() {
        let req = request(
            "POST",
            "/register",
            Some("application/json"),
            &"x".repeat(100),
        );
        assert_eq!(
            json_body::<serde_json::Value>(&req, 10),
            Err(BodyError::TooLarge { limit: 10 })
        );
    }

    #[test]
    fn json_with_charset_parameter_is_accepted() {
        let req = request(
            "POST",
            "/register",
            Some("application/json; charset=utf-8"),
            "{\"a\":1}",
        );
        assert_eq!(json_body::<serde_json::Value>(&req, 100).unwrap()["a"], 1);
    }

    #[test]
    fn route_path_strips_trailing_slash_and_base_path() {
        let base = BaseUrl::parse("https://api.example.com/prod").unwrap();
        let req = request(
            "GET",
            "https://api.example.com/prod/.well-known/jwks.json/",
            None,
            "",
        );
        assert_eq!(route_path(&req, &base), "/.well-known/jwks.json");
        let root = BaseUrl::parse("http://127.0.0.1:3000").unwrap();
        let req = request("POST", "/mcp/", None, "");
        assert_eq!(route_path(&req, &root), "/mcp");
    }
}
