//! Which function serves which path: the table that `template.yaml`, the local server and
//! the `events/` tests all follow.

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

    /// The function that serves a path (already relative to the base URL).
    pub fn for_path(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        match path {
            "/.well-known/oauth-authorization-server"
            | "/.well-known/openid-configuration"
            | "/.well-known/oauth-protected-resource"
            | "/.well-known/oauth-protected-resource/mcp"
            | "/.well-known/jwks.json" => Some(Function::Discovery),
            "/register" => Some(Function::Register),
            "/authorize" => Some(Function::Authorize),
            "/token" => Some(Function::Token),
            "/revoke" => Some(Function::Revoke),
            "/mcp" => Some(Function::Mcp),
            _ => None,
        }
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
        assert_eq!(
            Function::for_path("/.well-known/jwks.json"),
            Some(Function::Discovery)
        );
        assert_eq!(
            Function::for_path("/.well-known/oauth-protected-resource/mcp"),
            Some(Function::Discovery)
        );
        assert_eq!(Function::for_path("/mcp/"), Some(Function::Mcp));
        assert_eq!(Function::for_path("/token"), Some(Function::Token));
        assert_eq!(Function::for_path("/admin"), None);
    }
}
