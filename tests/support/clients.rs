//! What the MCP clients people use actually send: their registration bodies and their
//! Client ID Metadata Documents, as the clients' public documentation and public reports
//! show them. Documents are served from the tests' loopback https origin, so their
//! `client_id` (and ChatGPT's `jwks_uri`) name that origin instead of the vendor's.

use serde_json::{Value, json};

/// How a client comes by its `client_id`.
pub enum Identity {
    /// `POST /register` with this body; `Some(id)` when the answer is a pre-configured
    /// client (the registration writes nothing).
    Registers(Value, Option<&'static str>),
    /// A metadata document served at this path; its body, given its own URL and the
    /// origin it is served from.
    Document(&'static str, fn(&str, &str) -> Value),
}

pub struct ClientShape {
    pub name: &'static str,
    /// The redirect URI the client uses in its authorization requests.
    pub redirect_uri: &'static str,
    pub identity: Identity,
    /// Signs its token requests with an RSA key published at `jwks_uri` (ChatGPT).
    pub private_key_jwt: bool,
}

/// Where ChatGPT's documents publish their keys, on the test origin.
pub const CHATGPT_JWKS_PATH: &str = "/oauth/jwks.json";

pub fn shapes() -> Vec<ClientShape> {
    vec![
        ClientShape {
            name: "Claude (registration)",
            redirect_uri: "https://claude.ai/api/mcp/auth_callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "Claude",
                    "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_post",
                }),
                Some("claude"),
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Claude (metadata document)",
            redirect_uri: "https://claude.ai/api/mcp/auth_callback",
            identity: Identity::Document("/oauth/mcp-oauth-client-metadata", |id, _| {
                json!({
                    "client_id": id,
                    "client_name": "Claude",
                    "client_uri": "https://claude.ai",
                    "logo_uri": "https://claude.ai/images/claude_app_icon.png",
                    "redirect_uris": [
                        "https://claude.ai/api/mcp/auth_callback",
                        "https://claude.com/api/mcp/auth_callback"
                    ],
                    // A grant this server does not offer: ignored, not refused.
                    "grant_types": [
                        "authorization_code",
                        "refresh_token",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer"
                    ],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })
            }),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Claude Code (registration)",
            redirect_uri: "http://localhost:54212/callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "Claude Code (alta)",
                    "redirect_uris": ["http://localhost:54212/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }),
                None,
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Claude Code (metadata document)",
            // A loopback redirect URI matches on any port (RFC 8252 §7.3).
            redirect_uri: "http://localhost:61044/callback",
            identity: Identity::Document("/oauth/claude-code-client-metadata", |id, _| {
                json!({
                    "client_id": id,
                    "client_name": "Claude Code",
                    "client_uri": "https://claude.com/product/claude-code",
                    "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })
            }),
            private_key_jwt: false,
        },
        ClientShape {
            name: "VS Code (registration)",
            redirect_uri: "http://127.0.0.1:33418/",
            identity: Identity::Registers(
                json!({
                    "client_name": "Visual Studio Code",
                    "client_uri": "https://code.visualstudio.com/product",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                    "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
                }),
                None,
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "VS Code (metadata document)",
            redirect_uri: "https://vscode.dev/redirect",
            identity: Identity::Document("/oauth/client-metadata.json", |id, _| {
                json!({
                    "client_id": id,
                    "client_name": "Visual Studio Code",
                    "client_uri": "https://code.visualstudio.com/product",
                    "application_type": "native",
                    "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                })
            }),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Cursor (registration)",
            redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "Cursor",
                    "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }),
                Some("cursor"),
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Cursor (registration that says web)",
            redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "Cursor",
                    "application_type": "web",
                    "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }),
                Some("cursor"),
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "Cursor (three redirect URIs)",
            redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "Cursor",
                    "redirect_uris": [
                        "cursor://anysphere.cursor-mcp/oauth/callback",
                        "https://www.cursor.com/agents/mcp/oauth/callback",
                        "http://localhost:8787/callback"
                    ],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }),
                None,
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "MCP Inspector (registration)",
            redirect_uri: "http://localhost:6274/oauth/callback",
            identity: Identity::Registers(
                json!({
                    "client_name": "MCP Inspector",
                    "client_uri": "https://github.com/modelcontextprotocol/inspector",
                    "redirect_uris": [
                        "http://localhost:6274/oauth/callback",
                        "http://localhost:6274/oauth/callback/debug"
                    ],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }),
                None,
            ),
            private_key_jwt: false,
        },
        ClientShape {
            name: "ChatGPT (metadata document, private_key_jwt)",
            redirect_uri: "https://chatgpt.com/connector_platform_oauth_redirect",
            identity: Identity::Document("/oauth/client.json", chatgpt_document),
            private_key_jwt: true,
        },
        ClientShape {
            name: "ChatGPT (a connector's own document)",
            redirect_uri: "https://chatgpt.com/connector_platform_oauth_redirect",
            identity: Identity::Document("/oauth/c_68a1f3b2/client.json", chatgpt_document),
            private_key_jwt: true,
        },
    ]
}

/// `https://chatgpt.com/oauth/client.json` and its per-connector variants.
pub fn chatgpt_document(id: &str, origin: &str) -> Value {
    json!({
        "client_id": id,
        "client_name": "ChatGPT",
        "client_uri": "https://chatgpt.com",
        "logo_uri": "https://cdn.oaistatic.com/assets/favicon-o20kmmos.svg",
        "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg": "RS256",
        "jwks_uri": format!("{origin}{CHATGPT_JWKS_PATH}"),
    })
}
