//! A fetched document or key set, validated: what it may declare, and the client it describes.

use super::*;

/// The document's rules: a JSON object whose `client_id` is its own URL, with a
/// `client_name` and `redirect_uris`, describing a public client (no secrets, no private keys).
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<Client, MetadataDocumentError> {
    let invalid = |why: String| MetadataDocumentError::Invalid(why);
    let doc: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let Value::Object(fields) = doc else {
        return Err(invalid("not a JSON object".into()));
    };
    if fields.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid(
            "its client_id is not the URL it was fetched from".into(),
        ));
    }
    let client_name = match fields.get("client_name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 200 => {
            name.trim().to_owned()
        }
        _ => {
            return Err(invalid(
                "client_name is required (a string of at most 200 characters)".into(),
            ));
        }
    };
    for secret in ["client_secret", "client_secret_expires_at"] {
        if fields.contains_key(secret) {
            return Err(invalid(format!("it must not contain {secret}")));
        }
    }
    if let Some(Value::Object(jwks)) = fields.get("jwks")
        && jwks
            .get("keys")
            .and_then(Value::as_array)
            .is_some_and(|keys| {
                keys.iter()
                    .any(|k| k.get("d").is_some() || k.get("k").is_some())
            })
    {
        return Err(invalid("its jwks contains a private key".into()));
    }
    let credential = match fields
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => ClientCredential::None,
        Some("private_key_jwt") => private_key_jwt_credential(&fields)?,
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{other}` is not supported for metadata documents; use none or private_key_jwt"
            )));
        }
    };
    let redirect_uris = match fields.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => list
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| invalid("redirect_uris must be strings".into()))
                    .and_then(|s| RedirectUri::parse(s).map_err(invalid))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(invalid(
                "redirect_uris is required: a non-empty array".into(),
            ));
        }
    };
    let grant_types = match fields.get("grant_types").and_then(Value::as_array) {
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        Some(list) => list
            .iter()
            .filter_map(|g| g.as_str().and_then(GrantType::parse))
            .collect(),
    };
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(invalid(
            "grant_types must include authorization_code".into(),
        ));
    }
    Ok(Client {
        client_id: ClientId::new(client_id),
        client_name: Some(client_name),
        redirect_uris,
        grant_types,
        credential,
        allowed_scopes: fields
            .get("scope")
            .and_then(Value::as_str)
            .map(ScopeSet::parse_known)
            .filter(|s| !s.is_empty()),
        source: ClientSource::MetadataDocument,
    })
}

/// RFC 7591 §2: the keys are in `jwks` or at `jwks_uri` (https, checked like a client_id
/// URL), never both; `token_endpoint_auth_signing_alg`, when given, binds the algorithm.
pub(super) fn private_key_jwt_credential(
    fields: &serde_json::Map<String, Value>,
) -> Result<ClientCredential, MetadataDocumentError> {
    let invalid = |why: &str| MetadataDocumentError::Invalid(why.to_owned());
    let inline_keys = match fields.get("jwks") {
        None | Some(Value::Null) => None,
        Some(set) => Some(
            ClientKeys::parse(set)
                .map_err(|why| MetadataDocumentError::Invalid(format!("jwks: {why}")))?,
        ),
    };
    let alg = match fields.get("token_endpoint_auth_signing_alg") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(
            parse_signing_alg(raw)
                .ok_or_else(|| invalid("token_endpoint_auth_signing_alg must be RS256 or ES256"))?,
        ),
        Some(_) => return Err(invalid("token_endpoint_auth_signing_alg must be a string")),
    };
    let remote = match fields.get("jwks_uri") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(
            validate_client_id_url(raw)
                .map_err(|e| MetadataDocumentError::Invalid(format!("jwks_uri: {e}")))?,
        ),
        Some(_) => return Err(invalid("jwks_uri must be a string")),
    };
    let keys = match (inline_keys, remote) {
        (Some(_), Some(_)) => return Err(invalid("give jwks or jwks_uri, not both")),
        (Some(keys), None) => ClientKeySource::Inline(Arc::new(keys)),
        (None, Some(url)) => ClientKeySource::Remote(url),
        (None, None) => {
            return Err(invalid(
                "private_key_jwt needs the client's public keys: jwks or jwks_uri",
            ));
        }
    };
    Ok(ClientCredential::PrivateKeyJwt { keys, alg })
}

/// A fetched `jwks_uri` document: a JWK Set of public keys.
pub(super) fn parse_key_set(body: &[u8]) -> Result<ClientKeys, MetadataDocumentError> {
    let set: Value = serde_json::from_slice(body).map_err(|e| {
        MetadataDocumentError::Invalid(format!("the jwks_uri document is not JSON: {e}"))
    })?;
    ClientKeys::parse(&set)
        .map_err(|why| MetadataDocumentError::Invalid(format!("the jwks_uri document: {why}")))
}
