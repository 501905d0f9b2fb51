//! The upstream leg, as Alta the relying party walks it: the provider's discovery
//! document (OpenID Connect Discovery §4, its `issuer` exactly the record's), the
//! authorization URL, the code exchanged at its token endpoint with Alta's client
//! credentials (client_secret_basic or _post, as its metadata offers), and the ID token
//! validated with its keys, fetched again once when the token names a key they lack.
//! Every fetch goes through the metadata-document fetcher's guards (public addresses only,
//! size and time limits, a cache), on `Deps::provider_fetcher`.

use base64::Engine as _;
use serde_json::Value;
use url::Url;

use super::id_token::{self, Expected, IdTokenError, Identity};
use super::provider::IdentityProvider;
use crate::clients::assertion::SignatureError;
use crate::clients::metadata_document::{
    FetchAllowance, FormPost, MetadataDocumentError, MetadataDocuments,
};
use crate::secret::SecretString;

const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// A provider's key set: several keys, some with certificate chains (Entra ID's).
pub const MAX_PROVIDER_KEYS_BYTES: usize = 64 * 1024;
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The provider could not be reached, or answered out of time.
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    /// Its discovery document is unusable, or it does not offer what Alta needs.
    #[error("the identity provider is not set up as Alta needs: {0}")]
    Misconfigured(String),
    /// Its token endpoint refused the code (the `error` it sent).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
}

impl From<MetadataDocumentError> for UpstreamError {
    fn from(err: MetadataDocumentError) -> Self {
        match err {
            MetadataDocumentError::Invalid(why) => Self::Misconfigured(why),
            MetadataDocumentError::BadUrl(why) => Self::Misconfigured(why),
            MetadataDocumentError::PrivateAddress => {
                Self::Misconfigured("its host is not a public address".into())
            }
            MetadataDocumentError::Fetch(why) | MetadataDocumentError::Unreachable(why) => {
                Self::Unreachable(why)
            }
            MetadataDocumentError::Busy => Self::Unreachable("too many fetches at once".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthentication {
    Basic,
    Post,
}

/// What Alta uses of a provider's discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    pub authentication: ClientAuthentication,
    /// RFC 9207: the provider says it sends `iss` with every authorization response.
    pub iss_parameter_supported: bool,
}

fn discovery_url(issuer: &str) -> Result<Url, UpstreamError> {
    Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .map_err(|e| UpstreamError::Misconfigured(e.to_string()))
}

/// The provider's discovery document, checked.
pub async fn metadata(
    fetcher: &MetadataDocuments,
    provider: &IdentityProvider,
    now: u64,
    allowance: &dyn FetchAllowance,
) -> Result<ProviderMetadata, UpstreamError> {
    let document = fetcher
        .json_document(
            &discovery_url(&provider.issuer)?,
            MAX_DISCOVERY_BYTES,
            now,
            allowance,
        )
        .await?;
    parse_metadata(&document, provider)
}

pub fn parse_metadata(
    document: &Value,
    provider: &IdentityProvider,
) -> Result<ProviderMetadata, UpstreamError> {
    let misconfigured = |why: String| UpstreamError::Misconfigured(why);
    if document.get("issuer").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
        return Err(misconfigured(
            "its discovery document names another issuer".into(),
        ));
    }
    let endpoint = |name: &str| -> Result<Url, UpstreamError> {
        let raw = document
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| misconfigured(format!("its discovery document has no {name}")))?;
        let url = Url::parse(raw).map_err(|_| misconfigured(format!("its {name} is not a URL")))?;
        // The issuer was checked (https, or loopback http for a loopback server): its
        // endpoints must not be weaker.
        let issuer_scheme = Url::parse(&provider.issuer).map(|u| u.scheme().to_owned());
        match url.scheme() {
            "https" => Ok(url),
            "http" if issuer_scheme.as_deref() == Ok("http") => Ok(url),
            _ => Err(misconfigured(format!("its {name} is not https"))),
        }
    };
    let strings = |name: &str| -> Vec<&str> {
        document
            .get(name)
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let methods = strings("token_endpoint_auth_methods_supported");
    // OpenID Connect Discovery §3: absent means client_secret_basic.
    let authentication = if methods.is_empty() || methods.contains(&"client_secret_basic") {
        ClientAuthentication::Basic
    } else if methods.contains(&"client_secret_post") {
        ClientAuthentication::Post
    } else {
        return Err(misconfigured(
            "its token endpoint accepts neither client_secret_basic nor client_secret_post".into(),
        ));
    };
    let challenges = strings("code_challenge_methods_supported");
    if !challenges.is_empty() && !challenges.contains(&"S256") {
        return Err(misconfigured("it does not support PKCE with S256".into()));
    }
    Ok(ProviderMetadata {
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
        jwks_uri: endpoint("jwks_uri")?,
        authentication,
        iss_parameter_supported: document
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// What one upstream sign-in sends the provider.
pub struct AuthorizationParameters<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
    pub login_hint: Option<&'a str>,
}

pub fn authorization_url(
    metadata: &ProviderMetadata,
    provider: &IdentityProvider,
    p: &AuthorizationParameters<'_>,
) -> Url {
    let mut url = metadata.authorization_endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", p.redirect_uri)
            .append_pair("scope", &provider.scope_parameter())
            .append_pair("state", p.state)
            .append_pair("nonce", p.nonce)
            .append_pair("code_challenge", p.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = p.login_hint {
            query.append_pair("login_hint", hint);
        }
    }
    url
}

/// RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined.
fn basic_credentials(client_id: &str, secret: &SecretString) -> SecretString {
    let encode =
        |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    let joined = format!("{}:{}", encode(client_id), encode(secret.secret()));
    SecretString::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(joined)
    ))
}

/// What the callback brings to the exchange.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub redirect_uri: &'a str,
    pub nonce: &'a str,
    pub now: u64,
}

/// Exchanges the code and validates the ID token it brings: who signed in.
pub async fn sign_in(
    fetcher: &MetadataDocuments,
    metadata: &ProviderMetadata,
    provider: &IdentityProvider,
    client_secret: &SecretString,
    exchange: &CodeExchange<'_>,
    allowance: &dyn FetchAllowance,
) -> Result<Identity, UpstreamError> {
    let id_token = redeem_code(
        fetcher,
        metadata,
        provider,
        client_secret,
        exchange,
        allowance,
    )
    .await?;
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        nonce: exchange.nonce,
        now: exchange.now,
    };
    let keys = fetcher
        .client_keys(&metadata.jwks_uri, exchange.now, false, allowance)
        .await?;
    match id_token::validate(&id_token, &keys, &expected) {
        // The provider may have rotated its keys since they were cached.
        Err(IdTokenError::Signature(SignatureError::UnknownKey)) => {
            let keys = fetcher
                .client_keys(&metadata.jwks_uri, exchange.now, true, allowance)
                .await?;
            Ok(id_token::validate(&id_token, &keys, &expected)?)
        }
        outcome => Ok(outcome?),
    }
}

async fn redeem_code(
    fetcher: &MetadataDocuments,
    metadata: &ProviderMetadata,
    provider: &IdentityProvider,
    client_secret: &SecretString,
    exchange: &CodeExchange<'_>,
    allowance: &dyn FetchAllowance,
) -> Result<String, UpstreamError> {
    // Built apart: the serializer is not `Send`, and must not live across an await.
    let post = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", exchange.code)
            .append_pair("redirect_uri", exchange.redirect_uri)
            .append_pair("code_verifier", exchange.code_verifier);
        let authorization = match metadata.authentication {
            ClientAuthentication::Basic => {
                Some(basic_credentials(&provider.client_id, client_secret))
            }
            ClientAuthentication::Post => {
                form.append_pair("client_id", &provider.client_id)
                    .append_pair("client_secret", client_secret.secret());
                None
            }
        };
        FormPost {
            body: form.finish(),
            authorization,
        }
    };
    let (status, body) = fetcher
        .post_form(
            &metadata.token_endpoint,
            post,
            MAX_TOKEN_RESPONSE_BYTES,
            exchange.now,
            allowance,
        )
        .await?;
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status != 200 {
        let error = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        return Err(UpstreamError::Refused(format!(
            "its token endpoint answered {status} ({})",
            error.chars().take(100).collect::<String>()
        )));
    }
    answer
        .get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| UpstreamError::Misconfigured("its token endpoint sent no id_token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> IdentityProvider {
        serde_json::from_value(json!({"id": "okta", "display_name": "Okta",
            "issuer": "https://globex.okta.com", "client_id": "0oa1 b"}))
        .unwrap()
    }

    fn document(extra: Value) -> Value {
        let mut doc = json!({
            "issuer": "https://globex.okta.com",
            "authorization_endpoint": "https://globex.okta.com/oauth2/v1/authorize",
            "token_endpoint": "https://globex.okta.com/oauth2/v1/token",
            "jwks_uri": "https://globex.okta.com/oauth2/v1/keys",
        });
        doc.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        doc
    }

    #[test]
    fn metadata_names_the_endpoints_and_the_client_authentication() {
        let meta = parse_metadata(&document(json!({})), &provider()).unwrap();
        assert_eq!(meta.authentication, ClientAuthentication::Basic);
        assert!(!meta.iss_parameter_supported);
        let post = parse_metadata(
            &document(json!({"token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "authorization_response_iss_parameter_supported": true})),
            &provider(),
        )
        .unwrap();
        assert_eq!(post.authentication, ClientAuthentication::Post);
        assert!(post.iss_parameter_supported);
    }

    #[test]
    fn unusable_metadata_is_refused() {
        for extra in [
            json!({"issuer": "https://globex.okta.com/"}),
            json!({"issuer": "https://evil.example"}),
            json!({"token_endpoint": "http://globex.okta.com/token"}),
            json!({"jwks_uri": null}),
            json!({"token_endpoint_auth_methods_supported": ["private_key_jwt"]}),
            json!({"code_challenge_methods_supported": ["plain"]}),
        ] {
            assert!(
                matches!(
                    parse_metadata(&document(extra.clone()), &provider()),
                    Err(UpstreamError::Misconfigured(_))
                ),
                "{extra}"
            );
        }
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_and_the_hint() {
        let meta = parse_metadata(&document(json!({})), &provider()).unwrap();
        let url = authorization_url(
            &meta,
            &provider(),
            &AuthorizationParameters {
                redirect_uri: "https://mcp.alta.example/authorize/callback",
                state: "st",
                nonce: "no",
                code_challenge: "ch",
                login_hint: Some("sso@globex.example"),
            },
        );
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "0oa1 b");
        assert_eq!(query["scope"], "openid email profile");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["login_hint"], "sso@globex.example");
        assert_eq!(query["state"], "st");
        assert_eq!(query["nonce"], "no");
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let header = basic_credentials("0oa1 b", &SecretString::new("s:e+cret"));
        let encoded = header.secret().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"0oa1+b:s%3Ae%2Bcret");
    }
}
