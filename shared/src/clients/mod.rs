//! Any client, whatever its source (dynamic registration, configuration, metadata
//! document): what the authorization, token and revocation endpoints check. `assertion`
//! verifies a `private_key_jwt` client's assertions; `metadata_document` fetches and
//! validates Client ID Metadata Documents; `preconfigured` holds the pre-configured
//! clients (the vendors' defaults) and their secrets.

pub mod assertion;
pub mod metadata_document;
pub mod preconfigured;

use crate::records::client::{
    ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::records::ids::ClientId;
use crate::redirect_uri::RedirectUri;

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
    Preconfigured(preconfigured::PreconfiguredClient),
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
    Inline(std::sync::Arc<crate::clients::assertion::ClientKeys>),
    /// `jwks_uri`: fetched (and cached) with the same guards as the document.
    Remote(url::Url),
}

/// Any client, whatever its source: what the authorization and token endpoints check.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: ClientId,
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

    /// Where a metadata-document client's self-chosen name comes from: the host of its
    /// `client_id` URL, which the consent page shows beside the name
    /// (draft-ietf-oauth-client-id-metadata-document §6, "client_name" spoofing).
    pub fn document_host(&self) -> Option<String> {
        match self.source {
            ClientSource::MetadataDocument => url::Url::parse(&self.client_id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned)),
            ClientSource::Registered { .. } | ClientSource::Preconfigured => None,
        }
    }

    pub fn from_registered(c: RegisteredClient) -> Self {
        Self {
            allowed_scopes: c.scope,
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

    pub fn from_preconfigured(c: &preconfigured::PreconfiguredClient) -> Self {
        Self {
            client_id: ClientId::new(c.client_id.clone()),
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
