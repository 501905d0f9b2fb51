//! Discovery documents: authorization server metadata (RFC 8414), protected resource
//! metadata (RFC 9728) and the JWKS. Every URL is derived from the one configured base URL.

use crate::federation::id_jag::{ID_JAG_PROFILE, JWT_BEARER_GRANT};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::clients::assertion::SIGNING_ALGS;
use crate::config::Config;
use crate::deps::Deps;
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::OAuthError;
use crate::http::{self as h, Headers};
use crate::metrics::Measurement;
use crate::oauth::pages;
use crate::records::client::TokenEndpointAuthMethod;

/// Metadata changes only with a deployment.
const METADATA_MAX_AGE: u32 = 3600;

pub const AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";
pub const PROTECTED_RESOURCE_MCP_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The human-readable page that the metadata's documentation links name.
pub const SERVICE_PAGE_PATH: &str = "/";

const ENDPOINT: Endpoint = Endpoint {
    name: "discovery",
    paths: &[
        AUTHORIZATION_SERVER_PATH,
        OPENID_CONFIGURATION_PATH,
        PROTECTED_RESOURCE_PATH,
        PROTECTED_RESOURCE_MCP_PATH,
        JWKS_PATH,
        SERVICE_PAGE_PATH,
    ],
    methods: Methods::Read,
    cors: Cors::Public,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        document_at(h::route_path(req, &deps.config.base_url), deps).await
    })
    .await
}

async fn document_at(path: &str, deps: &Deps) -> Response<Body> {
    let config = &deps.config;
    match path {
        AUTHORIZATION_SERVER_PATH | OPENID_CONFIGURATION_PATH => {
            document(&authorization_server_metadata(config))
        }
        PROTECTED_RESOURCE_PATH | PROTECTED_RESOURCE_MCP_PATH => {
            document(&protected_resource_metadata(config))
        }
        SERVICE_PAGE_PATH => pages::service_page(&config.base_url.mcp_resource()),
        _ => match deps.public_keys.current().await {
            Ok(keys) => {
                // Served often (every /mcp container fetches it): the rotation alarm's gauge.
                let age = deps.clock.now().saturating_sub(keys.newest_created_at());
                deps.metrics
                    .record(Measurement::SigningKeyAgeDays(age as f64 / 86_400.0));
                h::json_response(
                    StatusCode::OK,
                    &keys.jwks(),
                    // The key cache's length: a new key signs only after both have passed.
                    Headers::cacheable(config.signing_key_cache_ttl.as_secs() as u32),
                )
            }
            Err(err) => OAuthError::unavailable(err).into_response(),
        },
    }
}

fn document(body: &Value) -> Response<Body> {
    h::json_response(StatusCode::OK, body, Headers::cacheable(METADATA_MAX_AGE))
}

fn scopes(config: &Config) -> Vec<&'static str> {
    config.scopes_supported.iter().map(|s| s.as_str()).collect()
}

/// RFC 8414 §2. Served at `openid-configuration` too, since some clients look there
/// first; it claims nothing OpenID-specific (no ID tokens, no userinfo) because this
/// server issues none.
pub fn authorization_server_metadata(config: &Config) -> Value {
    let base = &config.base_url;
    json!({
        "issuer": base.issuer(),
        "authorization_endpoint": base.url("/authorize"),
        "token_endpoint": base.url("/token"),
        "registration_endpoint": base.url("/register"),
        "revocation_endpoint": base.url("/revoke"),
        "jwks_uri": base.url(JWKS_PATH),
        "scopes_supported": scopes(config),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", JWT_BEARER_GRANT],
        // Enterprise-managed authorization: an identity provider's ID-JAG at /token.
        "authorization_grant_profiles_supported": [ID_JAG_PROFILE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods(),
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported": auth_methods(),
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": base.url(SERVICE_PAGE_PATH),
    })
}

/// Registration's methods, and `private_key_jwt` for metadata-document clients whose
/// document publishes their keys (RFC 7523).
fn auth_methods() -> Vec<&'static str> {
    let mut methods = TokenEndpointAuthMethod::SUPPORTED.to_vec();
    methods.push("private_key_jwt");
    methods
}

/// RFC 9728 §2: what the MCP endpoint is and who issues tokens for it.
pub fn protected_resource_metadata(config: &Config) -> Value {
    let base = &config.base_url;
    json!({
        "resource": base.mcp_resource(),
        "authorization_servers": [base.issuer()],
        "scopes_supported": scopes(config),
        "bearer_methods_supported": ["header"],
        "resource_name": "Alta",
        "resource_documentation": base.url(SERVICE_PAGE_PATH),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use std::sync::Arc;

    fn deps() -> Deps {
        let config = Config::from_lookup(|_| None, Some("https://mcp.alta.example/")).unwrap();
        Deps::in_memory(config, Arc::new(SystemClock)).unwrap()
    }

    fn get(path: &str) -> Request {
        http::Request::builder()
            .method("GET")
            .uri(format!("https://mcp.alta.example{path}"))
            .body(Body::Empty)
            .unwrap()
    }

    async fn json_of(resp: Response<Body>) -> Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    }

    #[tokio::test]
    async fn the_documentation_links_lead_to_a_page_that_names_the_mcp_url() {
        let deps = deps();
        let as_doc = json_of(handle(get(AUTHORIZATION_SERVER_PATH), &deps).await).await;
        let prm = json_of(handle(get(PROTECTED_RESOURCE_MCP_PATH), &deps).await).await;
        assert_eq!(
            as_doc["service_documentation"],
            prm["resource_documentation"]
        );
        let link = as_doc["service_documentation"].as_str().unwrap();
        let path = link.strip_prefix("https://mcp.alta.example").unwrap();
        let resp = handle(get(path), &deps).await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = std::str::from_utf8(resp.body().as_ref()).unwrap();
        assert!(
            html.contains("<code>https://mcp.alta.example/mcp</code>"),
            "{html}"
        );
    }

    #[tokio::test]
    async fn authorization_server_metadata_is_rfc8414_shaped() {
        let resp = handle(get(AUTHORIZATION_SERVER_PATH), &deps()).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert!(
            resp.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let m = json_of(resp).await;
        assert_eq!(m["issuer"], "https://mcp.alta.example");
        assert_eq!(
            m["authorization_endpoint"],
            "https://mcp.alta.example/authorize"
        );
        assert_eq!(m["token_endpoint"], "https://mcp.alta.example/token");
        assert_eq!(
            m["registration_endpoint"],
            "https://mcp.alta.example/register"
        );
        assert_eq!(m["revocation_endpoint"], "https://mcp.alta.example/revoke");
        assert_eq!(
            m["jwks_uri"],
            "https://mcp.alta.example/.well-known/jwks.json"
        );
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            m["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ])
        );
        assert_eq!(
            m["authorization_grant_profiles_supported"],
            json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
        );
        assert_eq!(
            m["scopes_supported"],
            json!(["campaigns:read", "campaigns:write", "inbox:read"])
        );
    }

    #[tokio::test]
    async fn openid_configuration_claims_no_id_tokens() {
        let m = json_of(handle(get(OPENID_CONFIGURATION_PATH), &deps()).await).await;
        assert_eq!(m["issuer"], "https://mcp.alta.example");
        assert!(m.get("id_token_signing_alg_values_supported").is_none());
        assert!(m.get("userinfo_endpoint").is_none());
    }

    #[tokio::test]
    async fn protected_resource_metadata_is_served_at_both_paths() {
        let deps = deps();
        for path in [PROTECTED_RESOURCE_MCP_PATH, PROTECTED_RESOURCE_PATH] {
            let m = json_of(handle(get(path), &deps).await).await;
            assert_eq!(m["resource"], "https://mcp.alta.example/mcp");
            assert_eq!(
                m["authorization_servers"],
                json!(["https://mcp.alta.example"])
            );
            assert_eq!(m["bearer_methods_supported"], json!(["header"]));
        }
    }

    #[tokio::test]
    async fn issuer_and_resource_are_byte_identical_across_documents() {
        let deps = deps();
        let asm = json_of(handle(get(AUTHORIZATION_SERVER_PATH), &deps).await).await;
        let prm = json_of(handle(get(PROTECTED_RESOURCE_MCP_PATH), &deps).await).await;
        assert_eq!(asm["issuer"], prm["authorization_servers"][0]);
        assert_eq!(
            prm["resource"],
            format!("{}/mcp", asm["issuer"].as_str().unwrap())
        );
    }

    #[tokio::test]
    async fn jwks_publishes_the_signing_key() {
        let deps = deps();
        let kid = deps
            .signing_keys
            .current()
            .await
            .unwrap()
            .newest_key()
            .kid()
            .to_owned();
        let jwks = json_of(handle(get(JWKS_PATH), &deps).await).await;
        assert_eq!(jwks["keys"][0]["kid"], kid);
        assert_eq!(jwks["keys"][0]["alg"], "ES256");
    }

    #[tokio::test]
    async fn trailing_slash_is_tolerated() {
        let resp = handle(get("/.well-known/oauth-authorization-server/"), &deps()).await;
        assert_eq!(resp.status(), 200);
    }

    #[tokio::test]
    async fn preflight_is_answered_without_a_body() {
        let req = http::Request::builder()
            .method("OPTIONS")
            .uri(PROTECTED_RESOURCE_MCP_PATH)
            .header("origin", "https://inspector.example")
            .header("access-control-request-method", "GET")
            .body(Body::Empty)
            .unwrap();
        let resp = handle(req, &deps()).await;
        assert_eq!(resp.status(), 204);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }

    #[tokio::test]
    async fn post_is_method_not_allowed() {
        let req = http::Request::builder()
            .method("POST")
            .uri(JWKS_PATH)
            .body(Body::Empty)
            .unwrap();
        let resp = handle(req, &deps()).await;
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, HEAD, OPTIONS");
    }

    #[tokio::test]
    async fn unknown_well_known_path_is_404() {
        let resp = handle(get("/.well-known/nothing"), &deps()).await;
        assert_eq!(resp.status(), 404);
    }
}
