//! A provider's ID token, validated in full before anyone is signed in with it (OpenID
//! Connect Core §3.1.3.7): the signature with the provider's published keys, asymmetric
//! algorithms only (never `none`, never HMAC, so a public key can never serve as a shared
//! secret); `iss` exactly the provider's issuer; `aud` containing our client id, and `azp`,
//! when present, our client id; `exp` and `iat` with 60 s of leeway; `nonce` the one this
//! sign-in sent. The claims that say who it is (`sub`, `email`, `email_verified`, Entra
//! ID's `tid`) are returned for linking.

use serde::Deserialize;
use serde_json::Value;

use crate::clients::assertion::{ClientKeys, SignatureError};
use crate::jwt::LEEWAY_SECONDS;

/// An ID token older than this is refused even if not expired: it was issued for this
/// sign-in a moment ago.
pub const MAX_AGE_SECONDS: u64 = 600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token's signature could not be verified: {0}")]
    Signature(#[from] SignatureError),
    #[error("the ID token was issued by another issuer")]
    Issuer,
    #[error("the ID token was issued to another client")]
    Audience,
    #[error("the ID token was issued to another authorized party")]
    AuthorizedParty,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token was issued in the future or too long ago")]
    IssuedAt,
    #[error("the ID token does not answer this sign-in (nonce)")]
    Nonce,
    #[error("the ID token names no subject")]
    Subject,
}

/// What this sign-in expects of the token.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: u64,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// `None` when the provider does not say (Microsoft Entra ID).
    pub email_verified: Option<bool>,
    /// Microsoft Entra ID's tenant.
    pub tenant: Option<String>,
    /// Google's `hd`: the Workspace domain the account belongs to (absent for consumer
    /// accounts, whatever their email).
    pub hosted_domain: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Value,
    azp: Option<String>,
    exp: Option<u64>,
    iat: Option<u64>,
    nonce: Option<String>,
    email: Option<String>,
    /// Some providers send it as the string "true".
    #[serde(default)]
    email_verified: Value,
    tid: Option<String>,
    hd: Option<String>,
}

/// `email_verified` as providers send it: a boolean, or (some) the string "true"; `None`
/// when absent.
pub(crate) fn email_verified(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s == "true"),
        _ => None,
    }
}

pub fn validate(
    token: &str,
    keys: &ClientKeys,
    expected: &Expected<'_>,
) -> Result<Identity, IdTokenError> {
    let claims: Claims = keys.verified_claims(token)?;
    if claims.iss.as_deref() != Some(expected.issuer) {
        return Err(IdTokenError::Issuer);
    }
    let ours = |aud: &Value| aud.as_str() == Some(expected.client_id);
    let audience_ok = match &claims.aud {
        Value::Array(list) => list.iter().any(ours),
        single => ours(single),
    };
    if !audience_ok {
        return Err(IdTokenError::Audience);
    }
    if claims
        .azp
        .as_deref()
        .is_some_and(|azp| azp != expected.client_id)
    {
        return Err(IdTokenError::AuthorizedParty);
    }
    let now = expected.now;
    match claims.exp {
        Some(exp) if exp + LEEWAY_SECONDS > now => {}
        _ => return Err(IdTokenError::Expired),
    }
    match claims.iat {
        Some(iat)
            if iat <= now + LEEWAY_SECONDS && iat + MAX_AGE_SECONDS + LEEWAY_SECONDS > now => {}
        _ => return Err(IdTokenError::IssuedAt),
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        crate::secret::SecretString::new(n.to_owned()).constant_time_eq(expected.nonce)
    });
    if !nonce_ok {
        return Err(IdTokenError::Nonce);
    }
    let subject = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::Subject)?;
    let email_verified = email_verified(&claims.email_verified);
    Ok(Identity {
        issuer: expected.issuer.to_owned(),
        subject,
        email: claims.email.map(|e| crate::directory::normalize_email(&e)),
        email_verified,
        tenant: claims.tid,
        hosted_domain: claims.hd.map(|d| d.to_ascii_lowercase()),
    })
}

#[cfg(test)]
mod tests;
