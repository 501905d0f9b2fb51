//! What the authorization server remembers between requests: authorization codes,
//! refresh tokens and their families, and revocations. Codes and tokens are stored only
//! as SHA-256 hashes; the raw values exist only in the responses that hand them out.

use sha2::{Digest, Sha256};

/// An authorization code lives long enough for one redirect and one token request.
pub const CODE_LIFETIME_SECONDS: u64 = 60;
/// How long a redeemed code remembers what it issued, for replay handling.
pub const REDEEMED_CODE_MEMORY_SECONDS: u64 = 24 * 3600;
pub const ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 3600;
/// A refresh token unused this long dies; each rotation starts the window again.
pub const REFRESH_TOKEN_SLIDING_SECONDS: u64 = 30 * 24 * 3600;
/// No family of refresh tokens outlives this, however often it rotates: the person signs in again.
pub const REFRESH_FAMILY_MAX_SECONDS: u64 = 90 * 24 * 3600;
/// A rotated refresh token presented again this soon is a client retrying after a lost
/// response, not a thief: it gets a fresh successor instead of revoking the family.
pub const REFRESH_REUSE_GRACE_SECONDS: u64 = 60;

use crate::oauth::client::hex;

/// The SHA-256 of a code or token, as its storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// A plain SHA-256 suffices: codes and tokens are ≥128 random bits, never guessable.
    pub fn of(raw: &str) -> Self {
        Self(hex(&Sha256::digest(raw.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    pub code_hash: TokenHash,
    pub client_id: String,
    /// Exactly as sent in the authorization request: the token request must repeat it.
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    /// The refresh-token family this grant will start, fixed at consent so that a
    /// replayed code can revoke what its first redemption issued.
    pub family_id: String,
    pub created_at: u64,
    pub expires_at: u64,
}

/// What a redeemed code left behind, so that a second redemption can revoke its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    pub code_hash: TokenHash,
    pub family_id: String,
    pub access_token_jti: String,
    pub access_token_expires_at: u64,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: TokenHash,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub issued_at: u64,
    /// Sliding: each rotation issues a token valid for another window.
    pub expires_at: u64,
    /// Absolute: no rotation carries a family past this.
    pub family_expires_at: u64,
    /// Set once the token has been exchanged for its successor.
    pub rotated_at: Option<u64>,
    pub replaced_by: Option<TokenHash>,
}

/// The keys of the revocations table.
pub fn revoked_jti_key(jti: &str) -> String {
    format!("jti#{jti}")
}

pub fn revoked_family_key(family_id: &str) -> String {
    format!("family#{family_id}")
}

/// A grant is one person's standing permission for one client at one resource (and, for
/// a metadata-document client, one redirect URI). A new grant replaces the previous one.
pub fn grant_key(
    user_id: &str,
    client_id: &str,
    resource: &str,
    redirect_uri: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [user_id, client_id, resource, redirect_uri.unwrap_or("")] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    format!("grant#{}", hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn grant_keys_do_not_collide_across_field_boundaries() {
        assert_ne!(
            grant_key("ab", "c", "r", None),
            grant_key("a", "bc", "r", None)
        );
        assert_ne!(
            grant_key("u", "c", "r", None),
            grant_key("u", "c", "r", Some("x"))
        );
    }
}
