//! The client metadata of a registration request (RFC 7591 §2), validated: every field
//! this server understands is checked (the rest ignored, §2), with the OAuth error a
//! client gets for each mistake.

use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::records::client::{ApplicationType, GrantType, TokenEndpointAuthMethod};
use crate::redirect_uri::{RedirectKind, RedirectUri};
use crate::scope::ScopeSet;

pub const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME_LEN: usize = 200;
const MAX_URL_LEN: usize = 2000;
const MAX_CONTACTS: usize = 10;

/// The registration request, validated.
#[derive(Debug)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<RedirectUri>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub grant_types: Vec<GrantType>,
    pub application_type: ApplicationType,
    pub client_name: Option<String>,
    pub scope: Option<ScopeSet>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Vec<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

impl ClientMetadata {
    pub fn parse(body: Value) -> Result<Self, OAuthError> {
        let Value::Object(fields) = body else {
            return Err(OAuthError::invalid_client_metadata(
                "the registration request must be a JSON object",
            ));
        };
        let redirect_uris = redirect_uris(&fields)?;
        let application_type = application_type(&fields, &redirect_uris)?;

        let token_endpoint_auth_method = match string(&fields, "token_endpoint_auth_method", 100)? {
            None => TokenEndpointAuthMethod::None,
            Some(m) if m == "private_key_jwt" => {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "private_key_jwt is for Client ID Metadata Documents (an https client_id whose document publishes the keys); register with one of {}",
                    TokenEndpointAuthMethod::SUPPORTED.join(", ")
                )));
            }
            Some(m) => TokenEndpointAuthMethod::parse(&m).ok_or_else(|| {
                OAuthError::invalid_client_metadata(format!(
                    "token_endpoint_auth_method `{m}` is not supported; use one of {}",
                    TokenEndpointAuthMethod::SUPPORTED.join(", ")
                ))
            })?,
        };

        let grant_types = match strings(&fields, "grant_types", 10, 100)? {
            // RFC 7591 defaults to authorization_code alone; refresh tokens are what MCP
            // clients need to stay connected, so a client that says nothing gets both.
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(names) => {
                let mut grants = Vec::new();
                for name in &names {
                    // Advertised, but only for authenticated pre-configured and
                    // metadata-document clients: a registration may name it, and is
                    // registered without it (RFC 7591 §3.2.1 lets the server say so).
                    if name == crate::federation::id_jag::JWT_BEARER_GRANT {
                        continue;
                    }
                    let grant = GrantType::parse(name).ok_or_else(|| {
                        OAuthError::invalid_client_metadata(format!(
                            "grant type `{name}` is not supported; use authorization_code and refresh_token"
                        ))
                    })?;
                    if !grants.contains(&grant) {
                        grants.push(grant);
                    }
                }
                if !grants.contains(&GrantType::AuthorizationCode) {
                    return Err(OAuthError::invalid_client_metadata(
                        "grant_types must include authorization_code",
                    ));
                }
                grants
            }
        };

        if let Some(types) = strings(&fields, "response_types", 10, 100)?
            && (types.is_empty() || types.iter().any(|t| t != "code"))
        {
            return Err(OAuthError::invalid_client_metadata(
                "response_types must be [\"code\"]: only the authorization code flow is supported",
            ));
        }

        let scope = string(&fields, "scope", 1000)?
            .map(|s| ScopeSet::parse_known(&s))
            .filter(|s| !s.is_empty());

        Ok(Self {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            application_type,
            client_name: string(&fields, "client_name", MAX_NAME_LEN)?,
            scope,
            client_uri: web_url(&fields, "client_uri")?,
            logo_uri: web_url(&fields, "logo_uri")?,
            tos_uri: web_url(&fields, "tos_uri")?,
            policy_uri: web_url(&fields, "policy_uri")?,
            contacts: strings(&fields, "contacts", MAX_CONTACTS, MAX_NAME_LEN)?.unwrap_or_default(),
            software_id: string(&fields, "software_id", MAX_NAME_LEN)?,
            software_version: string(&fields, "software_version", MAX_NAME_LEN)?,
        })
    }
}

fn redirect_uris(fields: &Map<String, Value>) -> Result<Vec<RedirectUri>, OAuthError> {
    let missing =
        || OAuthError::invalid_redirect_uri("redirect_uris is required: a non-empty array of URIs");
    let list = match fields.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err(missing()),
    };
    if list.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs may be registered"
        )));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(list.len());
    for value in list {
        let Value::String(raw) = value else {
            return Err(OAuthError::invalid_redirect_uri(
                "each redirect URI must be a string",
            ));
        };
        let uri = RedirectUri::parse(raw).map_err(OAuthError::invalid_redirect_uri)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

/// OpenID Connect Registration's `application_type`. When the client says nothing, its
/// redirect URIs tell. A private-use scheme (`cursor://…`) can only be a native app's,
/// whatever the client says: some Cursor versions register their one `cursor://` URI as
/// `web`. The type gates nothing here (every client uses PKCE; redirect URIs are checked
/// one by one), so it is recorded as native and answered as such.
fn application_type(
    fields: &Map<String, Value>,
    redirect_uris: &[RedirectUri],
) -> Result<ApplicationType, OAuthError> {
    let native_only = redirect_uris
        .iter()
        .any(|u| u.kind() == RedirectKind::PrivateUse);
    match string(fields, "application_type", 20)?.as_deref() {
        None if native_only
            || redirect_uris
                .iter()
                .any(|u| u.kind() == RedirectKind::Loopback) =>
        {
            Ok(ApplicationType::Native)
        }
        None => Ok(ApplicationType::Web),
        Some("native") => Ok(ApplicationType::Native),
        Some("web") if native_only => Ok(ApplicationType::Native),
        Some("web") => Ok(ApplicationType::Web),
        Some(other) => Err(OAuthError::invalid_client_metadata(format!(
            "application_type `{other}` is neither web nor native"
        ))),
    }
}

/// An optional string field; `null` counts as absent, other types are an error.
fn string(
    fields: &Map<String, Value>,
    name: &str,
    max_len: usize,
) -> Result<Option<String>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max_len => {
            Err(OAuthError::invalid_client_metadata(format!(
                "{name} is longer than {max_len} characters"
            )))
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => Err(
            OAuthError::invalid_client_metadata(format!("{name} contains control characters")),
        ),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{name} must be a string"
        ))),
    }
}

fn strings(
    fields: &Map<String, Value>,
    name: &str,
    max_items: usize,
    max_len: usize,
) -> Result<Option<Vec<String>>, OAuthError> {
    let list = match fields.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(OAuthError::invalid_client_metadata(format!(
                "{name} must be an array of strings"
            )));
        }
    };
    if list.len() > max_items {
        return Err(OAuthError::invalid_client_metadata(format!(
            "{name} has more than {max_items} entries"
        )));
    }
    list.iter()
        .map(|v| match v {
            Value::String(s) if s.chars().count() <= max_len => Ok(s.clone()),
            Value::String(_) => Err(OAuthError::invalid_client_metadata(format!(
                "an entry of {name} is longer than {max_len} characters"
            ))),
            _ => Err(OAuthError::invalid_client_metadata(format!(
                "{name} must be an array of strings"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A URL the consent page may show or link to: http(s) only, so that no `javascript:`
/// link ever reaches a page.
fn web_url(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, OAuthError> {
    let Some(raw) = string(fields, name, MAX_URL_LEN)? else {
        return Ok(None);
    };
    match url::Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host_str().is_some() => {
            Ok(Some(raw))
        }
        _ => Err(OAuthError::invalid_client_metadata(format!(
            "{name} must be an http or https URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The error a request gets, whose description says what is wrong.
    fn refused(body: Value, error: &str) -> String {
        let err = ClientMetadata::parse(body).unwrap_err();
        assert_eq!(err.code.as_str(), error, "{err}");
        assert!(!err.description.is_empty());
        err.description.into_owned()
    }

    #[test]
    fn missing_redirect_uris_is_invalid_redirect_uri() {
        refused(json!({"client_name": "x"}), "invalid_redirect_uri");
        refused(json!({"redirect_uris": []}), "invalid_redirect_uri");
        refused(
            json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_redirect_uri",
        );
        refused(json!({"redirect_uris": [42]}), "invalid_redirect_uri");
    }

    #[test]
    fn unsafe_redirect_uris_are_refused() {
        for uri in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@app.example/cb",
        ] {
            let description = refused(json!({"redirect_uris": [uri]}), "invalid_redirect_uri");
            assert!(
                description.contains(uri) || description.contains("scheme"),
                "{description}"
            );
        }
    }

    #[test]
    fn too_many_redirect_uris_are_refused() {
        let uris: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        refused(json!({"redirect_uris": uris}), "invalid_redirect_uri");
    }

    #[test]
    fn the_advertised_jwt_bearer_grant_is_dropped_from_a_registration() {
        let metadata = ClientMetadata::parse(json!({
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code", "refresh_token",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        }))
        .unwrap();
        assert_eq!(
            metadata.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
    }

    #[test]
    fn unsupported_grants_methods_and_response_types_are_refused() {
        let base = |extra: Value| {
            let mut body = json!({"redirect_uris": ["https://app.example/cb"]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };
        for extra in [
            json!({"grant_types": ["client_credentials"]}),
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}),
            json!({"grant_types": ["refresh_token"]}),
            json!({"grant_types": "authorization_code"}),
            json!({"response_types": ["token"]}),
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            json!({"client_name": 7}),
            json!({"client_name": "x".repeat(MAX_NAME_LEN + 1)}),
            json!({"client_uri": "javascript:alert(1)"}),
            json!({"contacts": vec!["a"; MAX_CONTACTS + 1]}),
        ] {
            refused(base(extra), "invalid_client_metadata");
        }
    }
}
