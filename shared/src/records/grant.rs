//! What the authorization server remembers between requests: authorization codes,
//! refresh tokens and their families, and revocations. Codes and tokens are stored only
//! as SHA-256 hashes; the raw values exist only in the responses that hand them out.

/// An authorization code lives long enough for one redirect and one token request.
pub const CODE_LIFETIME_SECONDS: u64 = 60;
/// How long a redeemed code remembers what it issued, for replay handling.
pub const REDEEMED_CODE_MEMORY_SECONDS: u64 = 24 * 3600;
/// A rotated refresh token presented again this soon is a client retrying after a lost
/// response, or another process of the same app refreshing at the same moment, not a
/// thief: it gets a fresh successor instead of revoking the family…
pub const REFRESH_REUSE_GRACE_SECONDS: u64 = 60;
/// …at most this many times. One more presentation is theft (docs/security.md, "Refresh
/// tokens"): an unbounded grace would let a thief who races the owner mint live chains.
pub const REFRESH_REUSE_GRACE_RETRIES: u32 = 4;

use serde::{Deserialize, Serialize};

use crate::config::settings::CLOCK_LEEWAY_SECONDS;
use crate::digest::sha256_hex;
use crate::pkce::CodeChallenge;
use crate::records::ids::{ClientId, FamilyId, Jti, UserId};
use crate::scope::ScopeSet;

/// The SHA-256 of a code or token, as its storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// A plain SHA-256 suffices: codes and tokens are ≥128 random bits, never guessable.
    pub fn of(raw: &str) -> Self {
        Self(sha256_hex(raw.as_bytes()))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCodeRecord {
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    /// Exactly as sent in the authorization request: the token request must repeat it.
    pub redirect_uri: String,
    pub code_challenge: CodeChallenge,
    pub user_id: UserId,
    pub scope: ScopeSet,
    pub resource: String,
    /// The Alta account chosen at consent.
    #[serde(default)]
    pub account_id: String,
    /// The refresh-token family this grant will start, fixed at consent so that a
    /// replayed code can revoke what its first redemption issued.
    pub family_id: FamilyId,
    /// How the person signed in (`password` or an identity provider's id): the tokens'
    /// `idp`. Records from before sign-in through providers were all passwords.
    #[serde(default = "password_idp")]
    pub idp: String,
    pub created_at: u64,
    pub expires_at: u64,
}

fn password_idp() -> String {
    crate::directory::PASSWORD_IDP.to_owned()
}

/// What a redeemed code left behind, so that a second redemption can revoke its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemedCode {
    pub code_hash: TokenHash,
    pub family_id: FamilyId,
    /// Whose grant the code started, so that a replay can end it (absent in items
    /// written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    pub access_token_jti: Jti,
    pub access_token_expires_at: u64,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    pub token_hash: TokenHash,
    pub family_id: FamilyId,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub scope: ScopeSet,
    pub resource: String,
    /// The Alta account chosen at consent; empty for a family from before account choice
    /// (the first accessible account, as then).
    #[serde(default)]
    pub account_id: String,
    /// How the person signed in (`password` or an identity provider's id): the tokens'
    /// `idp`. Records from before sign-in through providers were all passwords.
    #[serde(default = "password_idp")]
    pub idp: String,
    pub issued_at: u64,
    /// Sliding: each rotation issues a token valid for another window.
    pub expires_at: u64,
    /// Absolute: no rotation carries a family past this.
    pub family_expires_at: u64,
    /// Set once the token has been exchanged for its successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<TokenHash>,
    /// The token this one succeeded: its use tells the predecessor's grace that the
    /// response carrying it was not lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<TokenHash>,
    /// Presentations after the rotation that got a successor within the grace.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grace_retries: u32,
    /// Set when one of its successors was used: the grace is over for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor_used_at: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The keys of the revocations table.
pub fn revoked_jti_key(jti: &str) -> String {
    format!("jti#{jti}")
}

pub fn revoked_family_key(family_id: &str) -> String {
    format!("family#{family_id}")
}

/// How long a family's revocation is kept: until the last access token the family can
/// have minted is dead too (a refresh in the family's last hour mints one that lives an
/// hour past the family's end; were the revocation gone by then, that token would work
/// again until its own `exp`), with the leeway `exp` is checked with.
pub fn family_revocation_expiry(family_expires_at: u64, access_token_lifetime: u64) -> u64 {
    revocation_expiry(family_expires_at + access_token_lifetime)
}

/// How long the revocation of something that expires at `exp` is kept: past the leeway
/// with which `exp` is checked.
pub fn revocation_expiry(exp: u64) -> u64 {
    exp + CLOCK_LEEWAY_SECONDS
}

/// How many grants one person keeps for one client and resource when the client's id is
/// shared by every install (pre-configured clients, metadata documents): a new sign-in on
/// a sixth laptop ends the least recent of the five before it. A dynamically registered
/// client is one install, so its new grant replaces its previous one.
pub const MAX_GRANTS_PER_SHARED_CLIENT: usize = 5;

/// The most bytes a grant keeps of the app's name and of its redirect host. With client
/// ids of at most 2,000 bytes (a metadata document's URL) a grant stays under 3 KB, so
/// a person's grants item at its cap of 100 stays well below DynamoDB's 400 KB.
pub const MAX_GRANT_NAME_BYTES: usize = 200;
pub const MAX_GRANT_HOST_BYTES: usize = 253;

/// `text` cut to at most `max_bytes`, on a character boundary.
pub fn truncated(text: &str, max_bytes: usize) -> String {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A grant: one person's standing permission for one client at one resource, in one Alta
/// account; its id is the refresh-token family's (`grant_id` in access tokens). What the
/// connections page lists and Disconnect ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: FamilyId,
    /// Kept in the key of the person's grants item, not in each grant.
    #[serde(skip)]
    pub user_id: UserId,
    pub client_id: ClientId,
    /// The app's name as the consent page showed it.
    pub client_name: String,
    /// Where the app's redirect URI goes (a host, or a private-use scheme's name).
    pub redirect_host: String,
    pub scope: ScopeSet,
    pub resource: String,
    pub account_id: String,
    /// How the person signed in (`password` or an identity provider's id): the tokens'
    /// `idp`. Records from before sign-in through providers were all passwords.
    #[serde(default = "password_idp")]
    pub idp: String,
    /// The identity provider that made this grant through enterprise-managed
    /// authorization (an ID-JAG), with no consent page: "managed by" it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    pub created_at: u64,
    /// The last time a token was issued for it (the code exchange or a refresh).
    pub last_used_at: u64,
    /// The family's absolute end.
    pub expires_at: u64,
}

impl GrantRecord {
    /// Not yet past the family's absolute end (a revoked grant is live here until it is
    /// forgotten: the revocations table says whether it was ended early).
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("Claude", 200), "Claude");
        assert_eq!(truncated("ééé", 5), "éé");
        assert_eq!(truncated("ééé", 4), "éé");
    }

    #[test]
    fn a_family_revocation_outlives_the_last_access_token_it_can_mint() {
        let family_end = 1_000_000;
        let access = 3600;
        let accepted_until = family_end - 1 + access + CLOCK_LEEWAY_SECONDS;
        assert!(family_revocation_expiry(family_end, access) > accepted_until);
    }

    #[test]
    fn token_hash_is_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
