//! Which function serves which request: the routes `template.yaml` gives the HTTP API
//! (`tests/template.rs` holds the two equal), which the local server follows too, so that
//! what API Gateway refuses it refuses the same way.

use lambda_http::{Body, Request, Response};

use crate::deps::Deps;
use crate::{mcp, oauth};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Discovery,
    Register,
    Authorize,
    Token,
    Revoke,
    Mcp,
}

/// One route: an HTTP method and a path (`{proxy+}` matches one or more segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
}

const fn route(method: &'static str, path: &'static str, function: Function) -> Route {
    Route {
        method,
        path,
        function,
    }
}

/// Every route of the HTTP API. `HEAD` has none: API Gateway answers it 404 like any
/// other unrouted request.
pub const ROUTES: &[Route] = &[
    route("GET", "/", Function::Discovery),
    route(
        "GET",
        "/.well-known/oauth-authorization-server",
        Function::Discovery,
    ),
    route(
        "GET",
        "/.well-known/openid-configuration",
        Function::Discovery,
    ),
    route(
        "GET",
        "/.well-known/oauth-protected-resource",
        Function::Discovery,
    ),
    route(
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        Function::Discovery,
    ),
    route("GET", "/.well-known/jwks.json", Function::Discovery),
    route("OPTIONS", "/.well-known/{proxy+}", Function::Discovery),
    route("POST", "/register", Function::Register),
    route("OPTIONS", "/register", Function::Register),
    route("GET", "/authorize", Function::Authorize),
    route("POST", "/authorize", Function::Authorize),
    route("GET", "/authorize/callback", Function::Authorize),
    route("GET", "/connections", Function::Authorize),
    route("POST", "/connections", Function::Authorize),
    route("POST", "/token", Function::Token),
    route("OPTIONS", "/token", Function::Token),
    route("POST", "/revoke", Function::Revoke),
    route("OPTIONS", "/revoke", Function::Revoke),
    route("POST", "/mcp", Function::Mcp),
    route("GET", "/mcp", Function::Mcp),
    route("DELETE", "/mcp", Function::Mcp),
    route("OPTIONS", "/mcp", Function::Mcp),
];

impl Route {
    /// `METHOD /path`, as in a template's `RouteKey`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != method {
            return false;
        }
        match self.path.strip_suffix("{proxy+}") {
            Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
            None => self.path == path,
        }
    }
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Discovery,
        Function::Register,
        Function::Authorize,
        Function::Token,
        Function::Revoke,
        Function::Mcp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Discovery => "discovery",
            Function::Register => "register",
            Function::Authorize => "authorize",
            Function::Token => "token",
            Function::Revoke => "revoke",
            Function::Mcp => "mcp",
        }
    }

    /// The function's logical id in `template.yaml`: `DiscoveryFunction`, `McpFunction`, …
    pub fn logical_id(self) -> String {
        let name = self.name();
        format!("{}{}Function", name[..1].to_uppercase(), &name[1..])
    }

    /// The function API Gateway invokes for `method` and `path` (relative to the base
    /// URL; a trailing slash does not change the route), or `None` for its 404.
    pub fn for_request(method: &str, path: &str) -> Option<Self> {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        ROUTES
            .iter()
            .find(|route| route.matches(method, path))
            .map(|route| route.function)
    }

    pub async fn handle(self, req: Request, deps: &Deps) -> Response<Body> {
        match self {
            Function::Discovery => oauth::discovery::handle(req, deps).await,
            Function::Register => oauth::register::handle(req, deps).await,
            Function::Authorize => oauth::authorize::handle(req, deps).await,
            Function::Token => oauth::token::handle(req, deps).await,
            Function::Revoke => oauth::revoke::handle(req, deps).await,
            Function::Mcp => mcp::handle(req, deps).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_route_has_a_function() {
        let f = Function::for_request;
        assert_eq!(
            f("GET", "/.well-known/jwks.json"),
            Some(Function::Discovery)
        );
        assert_eq!(
            f("GET", "/.well-known/oauth-protected-resource/mcp"),
            Some(Function::Discovery)
        );
        assert_eq!(f("POST", "/mcp/"), Some(Function::Mcp));
        assert_eq!(f("POST", "/token"), Some(Function::Token));
        assert_eq!(f("GET", "/"), Some(Function::Discovery));
        assert_eq!(f("GET", "/admin"), None);
    }

    #[test]
    fn unrouted_methods_find_no_function_as_behind_api_gateway() {
        let f = Function::for_request;
        assert_eq!(f("HEAD", "/.well-known/jwks.json"), None);
        assert_eq!(f("GET", "/token"), None);
        assert_eq!(f("PUT", "/mcp"), None);
        assert_eq!(
            f("OPTIONS", "/.well-known/jwks.json"),
            Some(Function::Discovery)
        );
        assert_eq!(
            f("OPTIONS", "/.well-known"),
            None,
            "{{proxy+}} needs a segment"
        );
    }
}
