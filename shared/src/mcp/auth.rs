//! Bearer authentication of every `/mcp` request (MCP "Authorization", RFC 6750, RFC 9068):
//! the access token is verified against the trusted issuer's JWKS, for this resource, and
//! checked against the revocations. A missing or bad token gets a 401 whose
//! `WWW-Authenticate` tells the client where to discover how to get one.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::deps::Deps;
use crate::directory::{Account, Membership};
use crate::http::{self as h, Headers};
use crate::jwt::AccessTokenClaims;
use crate::records::grant::{revoked_family_key, revoked_jti_key};
use crate::scope::{Scope, ScopeSet};
use crate::token_verifier::VerificationError;

/// The caller of one `/mcp` request, as its token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: AccessTokenClaims,
    pub scopes: ScopeSet,
    /// For a tool call in the account the token names: the caller's membership there and
    /// the account, read beside the revocation check (one round trip for both), so that a
    /// tool call costs that round trip and its data's.
    pub prefetched: Option<Prefetched>,
}

/// Membership and account as read with the revocation check (a store failure as text).
pub type Prefetched = Result<(Option<Membership>, Option<Account>), String>;

/// Whether a request body holds a tool call: a byte search, no second parse.
fn holds_tool_call(req: &Request) -> bool {
    let needle = b"\"tools/call\"";
    req.body()
        .as_ref()
        .windows(needle.len())
        .any(|window| window == needle)
}

fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The 401 answer (RFC 6750 §3, RFC 9728 §5.1).
pub fn unauthorized(deps: &Deps, invalid: Option<&str>) -> Response<Body> {
    let base = &deps.config.base_url;
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let mut challenge = format!(
        "Bearer resource_metadata={}, scope={}",
        h::quoted_string(&base.protected_resource_metadata_url()),
        h::quoted_string(&scopes.join(" "))
    );
    if let Some(description) = invalid {
        challenge.push_str(&format!(
            ", error=\"invalid_token\", error_description={}",
            h::quoted_string(description)
        ));
    }
    let body = json!({
        "error": if invalid.is_some() { "invalid_token" } else { "unauthorized" },
        "error_description": invalid.unwrap_or("an access token is required"),
    });
    h::json_response(StatusCode::UNAUTHORIZED, &body, challenged(challenge))
}

fn challenged(challenge: String) -> Headers {
    let mut headers = Headers::no_store();
    headers.push(("www-authenticate", challenge.into()));
    headers
}

async fn verify(token: &str, deps: &Deps) -> Result<AccessTokenClaims, Response<Body>> {
    let audience = deps.config.base_url.mcp_resource();
    let issuer = &deps.config.trusted_issuer;
    let now = deps.clock.now();
    match deps
        .token_verifier
        .verify(token, now, issuer, &audience)
        .await
    {
        Ok(claims) => Ok(claims),
        Err(VerificationError::Invalid(err)) => Err(unauthorized(deps, Some(&err.to_string()))),
        Err(VerificationError::Unavailable(err)) => Err(unavailable(&err)),
    }
}

pub async fn authenticate(req: &Request, deps: &Deps) -> Result<Caller, Response<Body>> {
    let Some(token) = bearer_token(req) else {
        return Err(unauthorized(deps, None));
    };
    let claims = verify(token, deps).await?;
    let now = deps.clock.now();
    // The token and its grant, together, on every request (never cached): revoking either
    // token of a grant, or a replayed code, ends the grant's access tokens at once.
    let mut revocable = vec![revoked_jti_key(&claims.jti)];
    revocable.extend(claims.grant_id.as_deref().map(revoked_family_key));
    let revoked = deps.revocations.any_revoked(&revocable, now);
    let account_id = claims
        .account_id
        .as_deref()
        .filter(|id| !id.is_empty() && holds_tool_call(req));
    let (revoked, prefetched) = match account_id {
        Some(account_id) => {
            let (revoked, membership, account) = tokio::join!(
                revoked,
                deps.directory.membership(&claims.sub, account_id),
                deps.directory.account(account_id)
            );
            let prefetched = match (membership, account) {
                (Ok(membership), Ok(account)) => Ok((membership, account)),
                (Err(err), _) | (_, Err(err)) => Err(err.to_string()),
            };
            (revoked, Some(prefetched))
        }
        None => (revoked.await, None),
    };
    match revoked {
        Ok(false) => {}
        Ok(true) => return Err(unauthorized(deps, Some("the token has been revoked"))),
        Err(err) => return Err(unavailable(&err)),
    }
    Ok(Caller {
        scopes: ScopeSet::parse_known(&claims.scope),
        claims,
        prefetched,
    })
}

fn unavailable(err: &dyn std::fmt::Display) -> Response<Body> {
    tracing::error!(cause = %err, "token verification could not run");
    let body =
        json!({"error": "temporarily_unavailable", "error_description": "try again in a moment"});
    h::json_response(StatusCode::SERVICE_UNAVAILABLE, &body, Headers::no_store())
}

/// The step-up answer when a tool needs a scope the token lacks (RFC 6750 §3.1).
pub fn insufficient_scope(
    deps: &Deps,
    scope: Scope,
    id: Option<&serde_json::Value>,
) -> Response<Body> {
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope={}, resource_metadata={}, error_description={}",
        h::quoted_string(scope.as_str()),
        h::quoted_string(&deps.config.base_url.protected_resource_metadata_url()),
        h::quoted_string(&format!("this tool needs the {scope} scope"))
    );
    let mut body = json!({"error": "insufficient_scope", "error_description": format!("this tool needs the {scope} scope"), "scope": scope.as_str()});
    if let Some(id) = id {
        body["id"] = id.clone();
    }
    h::json_response(StatusCode::FORBIDDEN, &body, challenged(challenge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_quotes_keeps_the_challenge_one_valid_header() {
        let config =
            crate::Config::from_lookup(|_| None, Some("https://mcp.alta.example")).unwrap();
        let deps = Deps::in_memory(config, std::sync::Arc::new(crate::clock::SystemClock)).unwrap();
        let resp = unauthorized(
            &deps,
            Some("the token is invalid: Json(Error(\"missing field `jti`\"))\r\n"),
        );
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.ends_with(r#"error_description="the token is invalid: Json(Error(\"missing field `jti`\"))??""#),
            "{challenge}"
        );
    }
}
