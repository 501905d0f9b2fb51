//! The pre-configured clients: the well-known MCP hosts whose redirect URIs are fixed
//! (Claude, Cursor), known by their configured `client_id` without a registration. The
//! vendors' defaults live here; a stack may replace them with `ALTA_PRECONFIGURED_CLIENTS`.
//! A confidential one's secret is in Secrets Manager (`PreconfiguredSecrets`), handed to
//! its vendor out of band and never returned by `/register`.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use tokio::sync::RwLock;

use crate::keys::KeyError;
use crate::redirect_uri::RedirectUri;
use crate::secret::SecretString;

#[derive(Debug, thiserror::Error)]
#[error("ALTA_PRECONFIGURED_CLIENTS is invalid: {0}")]
pub struct InvalidClients(String);

/// A client whose registration lives in configuration, not in the clients table: the
/// well-known MCP hosts whose redirect URIs are fixed (Claude, Cursor).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreconfiguredClient {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<RedirectUri>,
    /// A confidential client's secret lives in Secrets Manager under this id, never in config.
    #[serde(default)]
    pub client_secret_secret_id: Option<String>,
}

impl PreconfiguredClient {
    pub fn is_confidential(&self) -> bool {
        self.client_secret_secret_id.is_some()
    }

    /// The defaults when `ALTA_PRECONFIGURED_CLIENTS` is unset: Claude and Cursor as public
    /// clients (PKCE, no secret). Claude has served its callback from both of its domains.
    pub fn defaults() -> Vec<Self> {
        let uri = |s: &str| RedirectUri::parse(s).expect("built-in redirect URI is valid");
        vec![
            Self {
                client_id: "claude".into(),
                client_name: "Claude".into(),
                redirect_uris: vec![
                    uri("https://claude.ai/api/mcp/auth_callback"),
                    uri("https://claude.com/api/mcp/auth_callback"),
                ],
                client_secret_secret_id: None,
            },
            Self {
                client_id: "cursor".into(),
                client_name: "Cursor".into(),
                redirect_uris: vec![uri("cursor://anysphere.cursor-mcp/oauth/callback")],
                client_secret_secret_id: None,
            },
        ]
    }
}

/// The pre-configured clients of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconfiguredClients(Vec<PreconfiguredClient>);

impl PreconfiguredClients {
    /// `ALTA_PRECONFIGURED_CLIENTS` (a JSON array), or the defaults when unset.
    pub fn from_setting(json: Option<&str>) -> Result<Self, InvalidClients> {
        match json {
            None => Ok(Self(PreconfiguredClient::defaults())),
            Some(json) => parse(json).map(Self),
        }
    }

    pub fn find(&self, client_id: &str) -> Option<&PreconfiguredClient> {
        self.0.iter().find(|c| c.client_id == client_id)
    }

    pub fn any_confidential(&self) -> bool {
        self.0.iter().any(PreconfiguredClient::is_confidential)
    }

    /// The public pre-configured client that owns every one of these redirect URIs, if
    /// any. A confidential one is never matched: its secret is handed to its vendor out of
    /// band, and anyone can name its redirect URIs.
    pub fn public_owner_of(&self, redirect_uris: &[RedirectUri]) -> Option<&PreconfiguredClient> {
        self.0
            .iter()
            .filter(|c| !c.is_confidential())
            .find(|client| {
                redirect_uris.iter().all(|asked| {
                    client
                        .redirect_uris
                        .iter()
                        .any(|own| own.matches(asked.as_str()))
                })
            })
    }
}

fn parse(json: &str) -> Result<Vec<PreconfiguredClient>, InvalidClients> {
    let invalid = InvalidClients;
    let clients: Vec<PreconfiguredClient> =
        serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for client in &clients {
        if client.client_id.is_empty() || client.redirect_uris.is_empty() {
            return Err(invalid(format!(
                "client `{}` needs a client_id and at least one redirect URI",
                client.client_id
            )));
        }
        if !seen.insert(client.client_id.as_str()) {
            return Err(invalid(format!(
                "client_id `{}` appears twice",
                client.client_id
            )));
        }
    }
    Ok(clients)
}

/// The client secrets of confidential pre-configured clients, read from Secrets Manager
/// on first use and kept for the container's life.
pub struct PreconfiguredSecrets {
    client: Option<aws_sdk_secretsmanager::Client>,
    cache: RwLock<HashMap<String, SecretString>>,
}

impl PreconfiguredSecrets {
    pub fn new(client: Option<aws_sdk_secretsmanager::Client>) -> Self {
        Self {
            client,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The secret of a confidential client; `None` for a public one.
    pub async fn secret_of(
        &self,
        client: &PreconfiguredClient,
    ) -> Result<Option<SecretString>, KeyError> {
        let Some(secret_id) = &client.client_secret_secret_id else {
            return Ok(None);
        };
        if let Some(secret) = self.cache.read().await.get(secret_id) {
            return Ok(Some(secret.clone()));
        }
        let secret = crate::keys::secret_string(self.client.as_ref(), secret_id)
            .await?
            .map(|s| SecretString::new(s.trim()))
            .filter(|s| !s.secret().is_empty())
            .ok_or_else(|| KeyError::InvalidSecret(format!("secret {secret_id} is empty")))?;
        self.cache
            .write()
            .await
            .insert(secret_id.clone(), secret.clone());
        Ok(Some(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_claude_and_cursor_public() {
        let clients = PreconfiguredClients::from_setting(None).unwrap();
        let claude = clients.find("claude").unwrap();
        assert!(!claude.is_confidential());
        assert!(clients.find("cursor").is_some());
        assert!(!clients.any_confidential());
        let cursor_uri =
            RedirectUri::parse("cursor://anysphere.cursor-mcp/oauth/callback").unwrap();
        assert_eq!(
            clients
                .public_owner_of(&[cursor_uri])
                .map(|c| c.client_id.as_str()),
            Some("cursor")
        );
    }

    #[test]
    fn preconfigured_clients_parse_from_json() {
        let clients = PreconfiguredClients::from_setting(Some(
            r#"[{"client_id":"claude","client_name":"Claude",
                "redirect_uris":["https://claude.ai/api/mcp/auth_callback"],
                "client_secret_secret_id":"alta/claude-secret"}]"#,
        ))
        .unwrap();
        let claude = clients.find("claude").unwrap();
        assert!(claude.is_confidential());
        assert!(clients.find("cursor").is_none());
        let uri = RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").unwrap();
        assert!(
            clients.public_owner_of(&[uri]).is_none(),
            "a confidential client is never handed out"
        );
    }

    #[test]
    fn a_bad_redirect_uri_or_a_duplicate_id_is_refused() {
        assert!(
            PreconfiguredClients::from_setting(Some(
                r#"[{"client_id":"x","client_name":"X","redirect_uris":["http://evil.example/cb"]}]"#
            ))
            .is_err()
        );
        let one = r#"{"client_id":"x","client_name":"X","redirect_uris":["https://x.example/cb"]}"#;
        assert!(PreconfiguredClients::from_setting(Some(&format!("[{one},{one}]"))).is_err());
    }
}
