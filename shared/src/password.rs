//! Password hashing: argon2id with the OWASP-recommended parameters (19 MiB, 2 passes).

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::secret::SecretString;

/// A PHC-format argon2id hash (`$argon2id$v=19$m=19456,t=2,p=1$…`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// A hash of a random password nobody knows, verified when the email is unknown so that a
/// sign-in takes as long for a stranger as for a user with a wrong password (no user
/// enumeration by timing). Made with the same parameters as real hashes, so it costs the same.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(crate::random::token(32).as_bytes())
        .map(|h| h.to_string())
        .unwrap_or_default()
});

impl PasswordHash {
    pub fn create(password: &SecretString) -> Result<Self, String> {
        Argon2::default()
            .hash_password(password.secret().as_bytes())
            .map(|h| Self(h.to_string()))
            .map_err(|e| e.to_string())
    }

    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn verify(&self, password: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), self.0.as_str())
            .is_ok()
    }

    /// Spends the time of one verification and fails.
    pub fn verify_decoy(password: &str) -> bool {
        let _ = Argon2::default().verify_password(password.as_bytes(), DECOY.as_str());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_its_password_only() {
        let hash = PasswordHash::create(&SecretString::new("alta-demo")).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(hash.verify("alta-demo"));
        assert!(!hash.verify("alta-demo "));
        assert!(!hash.as_str().contains("alta-demo"));
    }

    #[test]
    fn decoy_never_verifies() {
        assert!(!PasswordHash::verify_decoy("anything"));
        assert!(DECOY.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn garbage_hash_fails_closed() {
        assert!(!PasswordHash::from_stored("not-a-hash".into()).verify("x"));
    }
}
