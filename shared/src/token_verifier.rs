//! Verifying access tokens as the resource server does: against the trusted issuer's JWKS
//! (`jwks::JwksClient`: fetched, cached, fetched again for a key it has not seen), for this
//! resource, remembering the tokens this container has already verified.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::jwks::{JwksClient, JwksError};
use crate::jwt::{self, AccessTokenClaims, JwtError, verify_access_token};

pub enum VerificationError {
    /// Not a valid token for this resource: the 401's `error_description`.
    Invalid(JwtError),
    /// The issuer's keys could not be fetched: worth retrying.
    Unavailable(JwksError),
}

pub struct TokenVerifier {
    jwks: JwksClient,
    verified: VerifiedTokens,
}

impl TokenVerifier {
    pub fn new(jwks: JwksClient) -> Self {
        Self {
            jwks,
            verified: VerifiedTokens::default(),
        }
    }

    /// The token's claims if `issuer` signed it for `audience` and it has not expired at `now`.
    /// Revocation is the caller's to check, on every request.
    pub async fn verify(
        &self,
        token: &str,
        now: u64,
        issuer: &str,
        audience: &str,
    ) -> Result<AccessTokenClaims, VerificationError> {
        if let Some(claims) = self.verified.get(token, now) {
            return Ok(claims);
        }
        let keys = self
            .jwks
            .keys()
            .await
            .map_err(VerificationError::Unavailable)?;
        let claims = match verify_access_token(token, &keys, issuer, audience) {
            Err(JwtError::UnknownKey(_)) => {
                // A key rotated in since the keys were fetched.
                let keys = self
                    .jwks
                    .refresh_for_unknown_kid()
                    .await
                    .map_err(VerificationError::Unavailable)?;
                verify_access_token(token, &keys, issuer, audience)
            }
            other => other,
        };
        let claims = claims.map_err(VerificationError::Invalid)?;
        self.verified.insert(token, &claims);
        Ok(claims)
    }
}

/// Access tokens this container has already verified, by their SHA-256: a client sends
/// the same token on every call for an hour, and the ES256 signature check is most of a
/// request's CPU. Expiry is still checked on every use, and revocation by the caller on
/// every request.
#[derive(Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], AccessTokenClaims>>,
}

impl VerifiedTokens {
    /// Bounded: when full, the map starts afresh (tokens simply verify again).
    const CAPACITY: usize = 10_000;

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, token: &str, now: u64) -> Option<AccessTokenClaims> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&Self::key(token))
            .filter(|c| c.exp + jwt::LEEWAY_SECONDS > now)
            .cloned()
    }

    fn insert(&self, token: &str, claims: &AccessTokenClaims) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
            entries.insert(Self::key(token), claims.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp,
            iat: 0,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "campaigns:read".into(),
            grant_id: None,
            account_id: None,
            idp: None,
        }
    }

    #[test]
    fn a_cached_token_still_expires() {
        let cache = VerifiedTokens::default();
        cache.insert("tok", &claims(1_000));
        assert!(cache.get("tok", 900).is_some());
        assert!(cache.get("tok", 1_000 + jwt::LEEWAY_SECONDS).is_none());
        assert!(cache.get("other", 900).is_none());
    }
}
