//! OAuth clients: the metadata of RFC 7591 as this server registers it, and the
//! identity of a client across its three sources (dynamic, pre-configured, metadata document).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::redirect_uri::RedirectUri;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
}

/// How a client authenticates at the token and revocation endpoints (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A public client: PKCE is its only proof.
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    pub const SUPPORTED: [&'static str; 3] = ["none", "client_secret_basic", "client_secret_post"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
}

/// OpenID Connect Dynamic Registration's `application_type`, which RFC 8252 clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    Web,
    Native,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// The SHA-256 of a client secret, as stored: the secret itself is shown once, at registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecretHash(String);

impl ClientSecretHash {
    /// A plain SHA-256 suffices: the secret is 256 random bits, not a guessable password.
    pub fn of(secret: &str) -> Self {
        Self(hex(&Sha256::digest(secret.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        Self::of(presented)
            .0
            .as_bytes()
            .ct_eq(self.0.as_bytes())
            .into()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A dynamically registered client, as stored in the clients table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret_hash: Option<ClientSecretHash>,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub application_type: ApplicationType,
    /// The scopes the client may ask for; `None` means every supported scope.
    pub scope: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Vec<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub client_id_issued_at: u64,
    /// The client is forgotten when unused until then (a DynamoDB TTL attribute); each use
    /// pushes it forward.
    pub expires_at: u64,
}

impl RegisteredClient {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn redirect_uri_matching(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|u| u.matches(requested))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_matches_only_its_secret() {
        let hash = ClientSecretHash::of("s3cret");
        assert!(hash.matches("s3cret"));
        assert!(!hash.matches("s3cret "));
        assert_eq!(hash.as_str().len(), 64);
        assert!(!hash.as_str().contains("s3cret"));
    }

    #[test]
    fn auth_method_names_round_trip() {
        for name in TokenEndpointAuthMethod::SUPPORTED {
            assert_eq!(TokenEndpointAuthMethod::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(TokenEndpointAuthMethod::parse("private_key_jwt"), None);
    }
}

/// Where a client's registration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// Dynamic registration (RFC 7591), stored in the clients table, kept until
    /// `expires_at` unless used.
    Registered { expires_at: u64 },
    /// Configuration (Claude, Cursor).
    Preconfigured,
    /// A Client ID Metadata Document: the `client_id` is the https URL of its metadata.
    MetadataDocument,
}

/// How a client proves itself at the token and revocation endpoints.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    /// A public client: PKCE is its only proof.
    None,
    /// A dynamically registered confidential client's secret, as its hash.
    Hashed(ClientSecretHash),
    /// A pre-configured confidential client, whose secret is in Secrets Manager.
    Preconfigured(crate::config::PreconfiguredClient),
    /// A metadata-document client that signs assertions with its private key
    /// (`private_key_jwt`), optionally bound to one algorithm.
    PrivateKeyJwt {
        keys: ClientKeySource,
        alg: Option<jsonwebtoken::Algorithm>,
    },
}

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone)]
pub enum ClientKeySource {
    /// `jwks` in its metadata document.
    Inline(std::sync::Arc<crate::oauth::client_assertion::ClientKeys>),
    /// `jwks_uri`: fetched (and cached) with the same guards as the document.
    Remote(url::Url),
}

/// Any client, whatever its source: what the authorization and token endpoints check.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub credential: ClientCredential,
    /// The scopes the client registered for; `None` means every supported scope.
    pub allowed_scopes: Option<crate::scope::ScopeSet>,
    pub source: ClientSource,
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn is_public(&self) -> bool {
        matches!(self.credential, ClientCredential::None)
    }

    /// The registered redirect URI that `requested` names (exact, or loopback on any port).
    pub fn redirect_uri_matching(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|u| u.matches(requested))
    }

    /// What the consent page calls the client.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    pub fn from_registered(c: RegisteredClient) -> Self {
        Self {
            allowed_scopes: c.scope.as_deref().map(crate::scope::ScopeSet::parse_known),
            credential: match c.client_secret_hash {
                Some(hash) if c.token_endpoint_auth_method != TokenEndpointAuthMethod::None => {
                    ClientCredential::Hashed(hash)
                }
                _ => ClientCredential::None,
            },
            client_id: c.client_id,
            client_name: c.client_name,
            redirect_uris: c.redirect_uris,
            grant_types: c.grant_types,
            source: ClientSource::Registered {
                expires_at: c.expires_at,
            },
        }
    }

    pub fn from_preconfigured(c: &crate::config::PreconfiguredClient) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_name: Some(c.client_name.clone()),
            redirect_uris: c.redirect_uris.clone(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            credential: if c.is_confidential() {
                ClientCredential::Preconfigured(c.clone())
            } else {
                ClientCredential::None
            },
            allowed_scopes: None,
            source: ClientSource::Preconfigured,
        }
    }
}
