//! Dynamic Client Registration (RFC 7591).
//!
//! parse the metadata → validate every field the server understands (ignoring the rest,
//! §2) → hand a pre-configured client its own credentials when the redirect URIs are its
//! → otherwise store a new client under an unguessable id → answer 201 with what was
//! actually registered.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use crate::clients::preconfigured::PreconfiguredClient;
use crate::deps::Deps;
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::OAuthError;
use crate::http::{self as h, BodyError, Headers};
use crate::oauth::client_metadata::ClientMetadata;
use crate::random;
use crate::records::client::{
    ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::records::ids::ClientId;
use crate::scope::ScopeSet;
use crate::store::{AddressCounter, StoreError};

/// Real registration requests are under 2 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Registrations that store a client, per source address and window.
pub const MAX_REGISTRATIONS_PER_ADDRESS: u32 = 20;
pub const REGISTRATION_WINDOW_SECONDS: u64 = 3600;
/// How long a registration that never obtained a token is kept.
pub const UNUSED_REGISTRATION_SECONDS: u64 = 24 * 3600;
/// 128 bits: a client id is an identifier, not a secret, but must not be guessable.
const CLIENT_ID_BYTES: usize = 16;
/// 256 bits for a client secret.
const CLIENT_SECRET_BYTES: usize = 32;

const ENDPOINT: Endpoint = Endpoint {
    name: "register",
    paths: &["/register"],
    methods: Methods::Post,
    cors: Cors::Public,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        register(req, deps)
            .await
            .unwrap_or_else(OAuthError::into_response)
    })
    .await
}

async fn register(req: &Request, deps: &Deps) -> Result<Response<Body>, OAuthError> {
    let body: Value = h::json_body(req, MAX_BODY_BYTES).map_err(|e| match e {
        BodyError::TooLarge { .. } => OAuthError::invalid_client_metadata(e.to_string()),
        _ => OAuthError::invalid_client_metadata(format!(
            "{e}; send the client metadata as a JSON object"
        )),
    })?;
    let metadata = ClientMetadata::parse(body)?;

    if let Some(preconfigured) = deps.preconfigured.public_owner_of(&metadata.redirect_uris) {
        return Ok(preconfigured_registration(preconfigured));
    }

    let now = deps.clock.now();
    // A registration that stores a row counts against its source address; one answered
    // with a pre-configured client (above) writes nothing and is never limited.
    if let Some(address_key) = h::source_address_key(req) {
        let window_ends_at = now + REGISTRATION_WINDOW_SECONDS;
        let count = deps
            .clients
            .count_for_address(
                AddressCounter::Registrations,
                &address_key,
                now,
                window_ends_at,
            )
            .await?;
        if count > MAX_REGISTRATIONS_PER_ADDRESS {
            return Err(OAuthError::too_many_requests(
                "too many registrations from this address; try again later",
                window_ends_at.saturating_sub(now),
            ));
        }
    }
    let secret = (metadata.token_endpoint_auth_method != TokenEndpointAuthMethod::None)
        .then(|| random::token(CLIENT_SECRET_BYTES));
    let client = RegisteredClient {
        client_id: ClientId::new(random::token(CLIENT_ID_BYTES)),
        client_secret_hash: secret.as_deref().map(ClientSecretHash::of),
        client_name: metadata.client_name,
        redirect_uris: metadata.redirect_uris,
        grant_types: metadata.grant_types,
        token_endpoint_auth_method: metadata.token_endpoint_auth_method,
        application_type: metadata.application_type,
        scope: metadata.scope,
        client_uri: metadata.client_uri,
        logo_uri: metadata.logo_uri,
        tos_uri: metadata.tos_uri,
        policy_uri: metadata.policy_uri,
        contacts: metadata.contacts,
        software_id: metadata.software_id,
        software_version: metadata.software_version,
        client_id_issued_at: now,
        // Many clients register again whenever they lose their registration: one that
        // never obtains a token is forgotten within a day; the first token request moves
        // it to the idle expiry.
        expires_at: now + UNUSED_REGISTRATION_SECONDS.min(deps.config.client_idle_expiry.as_secs()),
    };
    deps.clients
        .insert_client(&client)
        .await
        .map_err(|e| match e {
            // 128 random bits do not collide; if they ever do, the client simply retries.
            StoreError::Conflict => OAuthError::unavailable("client_id collision"),
            other => other.into(),
        })?;
    tracing::info!(client_id = %client.client_id, client_name = ?client.client_name, "client registered");
    Ok(created(&ClientInformation::of_registered(&client, secret)))
}

/// Claude and Cursor register on every connection; they get the one configured (public)
/// client back, so that consent, grants and audit logs see one client, not thousands.
fn preconfigured_registration(client: &PreconfiguredClient) -> Response<Body> {
    tracing::info!(client_id = %client.client_id, "registration answered with a pre-configured client");
    created(&ClientInformation {
        client_id: client.client_id.clone(),
        client_secret: None,
        client_secret_expires_at: None,
        client_id_issued_at: None,
        client_name: Some(client.client_name.clone()),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        grant_types: vec![
            GrantType::AuthorizationCode.as_str(),
            GrantType::RefreshToken.as_str(),
        ],
        response_types: vec!["code"],
        token_endpoint_auth_method: TokenEndpointAuthMethod::None.as_str(),
        application_type: None,
        scope: None,
        client_uri: None,
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        contacts: Vec::new(),
        software_id: None,
        software_version: None,
    })
}

fn created(info: &ClientInformation) -> Response<Body> {
    h::json_response(StatusCode::CREATED, info, Headers::no_store())
}

/// The client information response (RFC 7591 §3.2.1): the metadata as registered.
#[derive(Debug, Serialize)]
struct ClientInformation {
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_issued_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    grant_types: Vec<&'static str>,
    response_types: Vec<&'static str>,
    token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_version: Option<String>,
}

impl ClientInformation {
    fn of_registered(client: &RegisteredClient, secret: Option<String>) -> Self {
        Self {
            client_id: client.client_id.to_string(),
            client_secret_expires_at: secret.is_some().then_some(0),
            client_secret: secret,
            client_id_issued_at: Some(client.client_id_issued_at),
            client_name: client.client_name.clone(),
            redirect_uris: client
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            grant_types: client.grant_types.iter().map(|g| g.as_str()).collect(),
            response_types: vec!["code"],
            token_endpoint_auth_method: client.token_endpoint_auth_method.as_str(),
            application_type: Some(client.application_type.as_str()),
            scope: client.scope.as_ref().map(ScopeSet::to_string),
            client_uri: client.client_uri.clone(),
            logo_uri: client.logo_uri.clone(),
            tos_uri: client.tos_uri.clone(),
            policy_uri: client.policy_uri.clone(),
            contacts: client.contacts.clone(),
            software_id: client.software_id.clone(),
            software_version: client.software_version.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use serde_json::json;
    use std::sync::Arc;

    const NOW: u64 = 1_800_000_000;

    fn deps() -> Deps {
        let config = Config::from_lookup(|_| None, Some("https://mcp.alta.example")).unwrap();
        Deps::in_memory(config, Arc::new(ManualClock::new(NOW))).unwrap()
    }

    fn post(body: &str) -> Request {
        http::Request::builder()
            .method("POST")
            .uri("https://mcp.alta.example/register")
            .header("content-type", "application/json")
            .body(Body::Text(body.to_owned()))
            .unwrap()
    }

    async fn register_json(deps: &Deps, body: Value) -> (StatusCode, Value) {
        let resp = handle(post(&body.to_string()), deps).await;
        let status = resp.status();
        let json = serde_json::from_slice(resp.body().as_ref()).unwrap();
        (status, json)
    }

    async fn assert_refused(body: Value, error: &str) -> String {
        let (status, json) = register_json(&deps(), body).await;
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["error"], error, "{json}");
        let description = json["error_description"].as_str().unwrap().to_owned();
        assert!(!description.is_empty());
        description
    }

    #[tokio::test]
    async fn vs_code_loopback_registration_is_stored_and_echoed() {
        let deps = deps();
        let (status, json) = register_json(
            &deps,
            json!({
                "client_name": "Visual Studio Code",
                "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            }),
        )
        .await;
        assert_eq!(status, 201);
        let client_id = json["client_id"].as_str().unwrap();
        assert!(client_id.len() >= 22, "at least 128 bits");
        assert!(json.get("client_secret").is_none());
        assert_eq!(json["client_id_issued_at"], NOW);
        assert_eq!(json["token_endpoint_auth_method"], "none");
        assert_eq!(json["application_type"], "native");
        assert_eq!(
            json["redirect_uris"],
            json!(["http://127.0.0.1:33418/", "https://vscode.dev/redirect"])
        );
        let stored = deps
            .clients
            .get_client(client_id, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.client_name.as_deref(), Some("Visual Studio Code"));
        // Unused until its first token: a day; the idle expiry starts with use.
        assert_eq!(stored.expires_at, NOW + UNUSED_REGISTRATION_SECONDS);
    }

    #[tokio::test]
    async fn claude_code_localhost_registration_is_accepted() {
        let (status, json) = register_json(
            &deps(),
            json!({
                "client_name": "Claude Code (alta)",
                "redirect_uris": ["http://localhost:54212/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": "campaigns:read campaigns:write inbox:read"
            }),
        )
        .await;
        assert_eq!(status, 201, "{json}");
        assert_eq!(json["scope"], "campaigns:read campaigns:write inbox:read");
    }

    #[tokio::test]
    async fn claude_registration_gets_the_preconfigured_client() {
        let (status, json) = register_json(
            &deps(),
            json!({
                "client_name": "Claude",
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_post"
            }),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(json["client_id"], "claude");
        assert_eq!(json["token_endpoint_auth_method"], "none");
        assert!(json.get("client_secret").is_none());
    }

    #[tokio::test]
    async fn cursor_registration_gets_the_preconfigured_client() {
        let deps = deps();
        let (status, json) = register_json(
            &deps,
            json!({
                "client_name": "Cursor",
                "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            }),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(json["client_id"], "cursor");
        assert_eq!(
            json["redirect_uris"],
            json!(["cursor://anysphere.cursor-mcp/oauth/callback"])
        );
        assert_eq!(deps.clients.get_client("cursor", NOW).await.unwrap(), None);
    }

    #[tokio::test]
    async fn mixing_claude_and_foreign_redirects_gets_a_new_client() {
        let (status, json) = register_json(
            &deps(),
            json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://evil.example/cb"]}),
        )
        .await;
        assert_eq!(status, 201);
        assert_ne!(json["client_id"], "claude");
    }

    #[tokio::test]
    async fn confidential_registration_gets_a_secret_stored_only_as_a_hash() {
        let deps = deps();
        let (status, json) = register_json(
            &deps,
            json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
        assert_eq!(status, 201);
        let secret = json["client_secret"].as_str().unwrap();
        assert_eq!(secret.len(), 43, "256 bits");
        assert_eq!(json["client_secret_expires_at"], 0);
        let stored = deps
            .clients
            .get_client(json["client_id"].as_str().unwrap(), NOW)
            .await
            .unwrap()
            .unwrap();
        let hash = stored.client_secret_hash.unwrap();
        assert!(hash.matches(secret));
        assert_ne!(hash.as_str(), secret);
    }

    #[tokio::test]
    async fn defaults_are_public_client_with_code_and_refresh_grants() {
        let (status, json) = register_json(
            &deps(),
            json!({"redirect_uris": ["https://app.example/cb"]}),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(json["token_endpoint_auth_method"], "none");
        assert_eq!(
            json["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(json["response_types"], json!(["code"]));
        assert_eq!(json["application_type"], "web");
    }

    #[tokio::test]
    async fn unknown_metadata_is_ignored_not_rejected() {
        let (status, json) = register_json(
            &deps(),
            json!({
                "redirect_uris": ["https://app.example/cb"],
                "jwks_uri": "https://app.example/jwks",
                "x-vendor-extension": {"nested": true},
                "scope": "openid profile campaigns:read"
            }),
        )
        .await;
        assert_eq!(status, 201);
        assert!(json.get("x-vendor-extension").is_none());
        assert_eq!(json["scope"], "campaigns:read");
    }

    #[tokio::test]
    async fn response_is_not_cacheable() {
        let resp = handle(
            post(r#"{"redirect_uris":["https://app.example/cb"]}"#),
            &deps(),
        )
        .await;
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }

    #[tokio::test]
    async fn a_private_scheme_makes_a_web_registration_native() {
        let deps = deps();
        let (status, json) = register_json(
            &deps,
            json!({"redirect_uris": ["com.example.app:/cb"], "application_type": "web"}),
        )
        .await;
        assert_eq!(status, 201, "{json}");
        assert_eq!(json["application_type"], "native");
        // Cursor's "web" registration of its own URI gets the pre-configured client.
        let (status, json) = register_json(
            &deps,
            json!({
                "client_name": "Cursor",
                "application_type": "web",
                "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
                "token_endpoint_auth_method": "none"
            }),
        )
        .await;
        assert_eq!(
            (status, json["client_id"].as_str()),
            (StatusCode::CREATED, Some("cursor"))
        );
        assert_refused(
            json!({"redirect_uris": ["https://app.example/cb"], "application_type": "desktop"}),
            "invalid_client_metadata",
        )
        .await;
    }

    #[tokio::test]
    async fn malformed_bodies_are_invalid_client_metadata() {
        for body in ["", "not json", "[1,2]", "null", "{\"redirect_uris\":"] {
            let resp = handle(post(body), &deps()).await;
            assert_eq!(resp.status(), 400, "{body}");
            let json: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
            assert_eq!(json["error"], "invalid_client_metadata");
        }
    }

    #[tokio::test]
    async fn oversized_body_is_refused() {
        let body = json!({"redirect_uris": ["https://app.example/cb"], "padding": "x".repeat(MAX_BODY_BYTES)});
        let (status, json) = register_json(&deps(), body).await;
        assert_eq!(status, 400);
        assert_eq!(json["error"], "invalid_client_metadata");
    }

    #[tokio::test]
    async fn get_is_method_not_allowed_and_preflight_is_answered() {
        let deps = deps();
        let get = http::Request::builder()
            .method("GET")
            .uri("/register")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(handle(get, &deps).await.status(), 405);
        let options = http::Request::builder()
            .method("OPTIONS")
            .uri("/register")
            .body(Body::Empty)
            .unwrap();
        let resp = handle(options, &deps).await;
        assert_eq!(resp.status(), 204);
        assert_eq!(
            resp.headers()["access-control-allow-methods"],
            "POST, OPTIONS"
        );
    }

    #[tokio::test]
    async fn duplicate_redirect_uris_are_registered_once() {
        let (_, json) = register_json(
            &deps(),
            json!({"redirect_uris": ["https://app.example/cb", "https://app.example/cb"]}),
        )
        .await;
        assert_eq!(json["redirect_uris"], json!(["https://app.example/cb"]));
    }
}
