//! Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed ES256, verified with an
//! algorithm allow-list so that `none`, HS* and RSA tokens are refused before any key is used.

use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::jwks::VerificationKeys;
use crate::keys::SigningKey;

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clocks of different machines disagree a little (`config::settings`).
pub use crate::config::settings::CLOCK_LEEWAY_SECONDS as LEEWAY_SECONDS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The Alta user id.
    pub sub: String,
    /// The MCP resource URL (`<BASE>/mcp`).
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated scopes (RFC 9068 §2.2.3).
    pub scope: String,
    /// The grant (refresh-token family) the token belongs to: revoking the grant revokes
    /// it. Absent from an external identity provider's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The Alta account chosen at consent. Absent from an external identity provider's
    /// tokens (and from tokens of grants made before account choice): then the first
    /// account the person can access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How the person signed in: `password`, or the identity provider's id. Absent from
    /// tokens issued before it was kept (a password, then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not ES256")]
    AlgorithmNotAllowed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token names no key id")]
    MissingKeyId,
    #[error("the token was signed by an unknown key")]
    UnknownKey(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token signature does not verify")]
    BadSignature,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

/// The key id a JWT's header names, read before anything is verified: only to find the
/// key that verifies it.
pub fn key_id(token: &str) -> Option<String> {
    decode_header(token).ok()?.kid
}

pub fn sign_access_token(key: &SigningKey, claims: &AccessTokenClaims) -> Result<String, JwtError> {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    header.kid = Some(key.kid().to_owned());
    encode(&header, claims, key.encoding_key()).map_err(|e| JwtError::Signing(e.to_string()))
}

/// Verifies signature, algorithm, type, issuer, audience and lifetime. Whether the `jti`
/// has been revoked is the caller's question (it needs the revocations store).
pub fn verify_access_token(
    token: &str,
    keys: &VerificationKeys,
    issuer: &str,
    audience: &str,
) -> Result<AccessTokenClaims, JwtError> {
    let header = decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::ES256 {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    // RFC 9068 §4: reject tokens that are not explicitly typed as access tokens, so that an
    // ID token or another JWT signed by the same key cannot be replayed here.
    let typ = header.typ.as_deref().unwrap_or("").to_ascii_lowercase();
    if typ != ACCESS_TOKEN_TYPE && typ != "application/at+jwt" {
        return Err(JwtError::WrongType);
    }
    let kid = header.kid.ok_or(JwtError::MissingKeyId)?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| JwtError::UnknownKey(kid.clone()))?;

    let mut validation = Validation::new(Algorithm::ES256);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    use jsonwebtoken::errors::ErrorKind;
    decode::<AccessTokenClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
            ErrorKind::InvalidAudience => JwtError::WrongAudience,
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => JwtError::Malformed,
            other => JwtError::Invalid(format!("{other:?}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, SystemClock};
    use crate::keys::KeySet;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const ISS: &str = "https://mcp.alta.example";
    const AUD: &str = "https://mcp.alta.example/mcp";

    fn claims(now: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISS.into(),
            sub: "user-1".into(),
            aud: AUD.into(),
            exp: now + 3600,
            iat: now,
            jti: "jti-1".into(),
            client_id: "claude".into(),
            scope: "campaigns:read".into(),
            grant_id: None,
            account_id: None,
            idp: None,
        }
    }

    fn setup() -> (KeySet, VerificationKeys, u64) {
        let set = KeySet::generate(1).unwrap();
        let keys = VerificationKeys::from(&set.jwks());
        (set, keys, SystemClock.now())
    }

    #[test]
    fn issued_token_verifies_and_round_trips_claims() {
        let (set, keys, now) = setup();
        let token = sign_access_token(set.newest_key(), &claims(now)).unwrap();
        assert_eq!(
            verify_access_token(&token, &keys, ISS, AUD).unwrap(),
            claims(now)
        );
    }

    #[test]
    fn header_is_typed_and_names_its_key() {
        let (set, _, now) = setup();
        let token = sign_access_token(set.newest_key(), &claims(now)).unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(set.newest_key().kid()));
    }

    #[test]
    fn expired_token_is_refused_after_the_leeway() {
        let (set, keys, now) = setup();
        let mut c = claims(now);
        c.exp = now - LEEWAY_SECONDS - 5;
        let token = sign_access_token(set.newest_key(), &c).unwrap();
        assert_eq!(
            verify_access_token(&token, &keys, ISS, AUD),
            Err(JwtError::Expired)
        );
        c.exp = now - 5;
        let token = sign_access_token(set.newest_key(), &c).unwrap();
        assert!(verify_access_token(&token, &keys, ISS, AUD).is_ok());
    }

    #[test]
    fn wrong_issuer_and_audience_are_refused() {
        let (set, keys, now) = setup();
        let token = sign_access_token(set.newest_key(), &claims(now)).unwrap();
        assert_eq!(
            verify_access_token(&token, &keys, "https://other.example", AUD),
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            verify_access_token(&token, &keys, ISS, "https://mcp.alta.example/other"),
            Err(JwtError::WrongAudience)
        );
    }

    #[test]
    fn token_from_another_key_is_refused() {
        let (_, keys, now) = setup();
        let stranger = KeySet::generate(1).unwrap();
        let token = sign_access_token(stranger.newest_key(), &claims(now)).unwrap();
        assert!(matches!(
            verify_access_token(&token, &keys, ISS, AUD),
            Err(JwtError::UnknownKey(_))
        ));
    }

    #[test]
    fn signature_made_by_another_key_under_our_kid_is_refused() {
        let (set, keys, now) = setup();
        let stranger = KeySet::generate(1).unwrap();
        let forged = sign_access_token(stranger.newest_key(), &claims(now)).unwrap();
        let ours = sign_access_token(set.newest_key(), &claims(now)).unwrap();
        // Our header, the stranger's payload and signature.
        let spliced = format!(
            "{}.{}",
            ours.split('.').next().unwrap(),
            forged.split_once('.').unwrap().1
        );
        assert_eq!(
            verify_access_token(&spliced, &keys, ISS, AUD),
            Err(JwtError::BadSignature)
        );
    }

    fn unsigned_token(header: serde_json::Value, now: u64, signature: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims(now)).unwrap());
        format!("{h}.{p}.{signature}")
    }

    #[test]
    fn alg_none_is_refused() {
        let (set, keys, now) = setup();
        let token = unsigned_token(
            serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": set.newest_key().kid()}),
            now,
            "",
        );
        assert!(matches!(
            verify_access_token(&token, &keys, ISS, AUD),
            Err(JwtError::Malformed | JwtError::AlgorithmNotAllowed)
        ));
    }

    #[test]
    fn hs256_token_is_refused() {
        let (set, keys, now) = setup();
        let token = unsigned_token(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": set.newest_key().kid()}),
            now,
            "c2lnbmF0dXJl",
        );
        assert_eq!(
            verify_access_token(&token, &keys, ISS, AUD),
            Err(JwtError::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn untyped_jwt_is_refused() {
        let (set, keys, now) = setup();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(set.newest_key().kid().to_owned());
        let token = encode(&header, &claims(now), set.newest_key().encoding_key()).unwrap();
        assert_eq!(
            verify_access_token(&token, &keys, ISS, AUD),
            Err(JwtError::WrongType)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let (_, keys, _) = setup();
        assert_eq!(
            verify_access_token("abc", &keys, ISS, AUD),
            Err(JwtError::Malformed)
        );
        assert_eq!(
            verify_access_token("", &keys, ISS, AUD),
            Err(JwtError::Malformed)
        );
    }
}
