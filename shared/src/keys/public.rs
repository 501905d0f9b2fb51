//! The public half of the signing key set: what the JWKS publishes and what verifies this
//! server's tokens. The rotation writes it to a secret of its own, so that the functions
//! that only publish or verify (discovery, revoke) never read a private key.

use serde::{Deserialize, Serialize};

use super::{KeyError, RingKeys, SigningKey, thumbprint};
use crate::jwks::{Jwk, Jwks, VerificationKeys};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PublicKey {
    kid: String,
    created_at: u64,
    x: String,
    y: String,
}

/// Newest first.
#[derive(Debug)]
pub struct PublicKeySet {
    keys: Vec<PublicKey>,
    verification: VerificationKeys,
}

#[derive(Serialize, Deserialize)]
struct StoredPublicKeySet {
    keys: Vec<PublicKey>,
}

impl PublicKeySet {
    pub(super) fn of(keys: &[SigningKey]) -> Self {
        Self::new(
            keys.iter()
                .map(|k| PublicKey {
                    kid: k.kid().to_owned(),
                    created_at: k.created_at(),
                    x: k.x.clone(),
                    y: k.y.clone(),
                })
                .collect(),
        )
    }

    fn new(mut keys: Vec<PublicKey>) -> Self {
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        let jwks = Jwks {
            keys: keys
                .iter()
                .map(|k| Jwk::es256(&k.kid, &k.x, &k.y))
                .collect(),
        };
        Self {
            verification: VerificationKeys::from(&jwks),
            keys,
        }
    }

    pub fn from_secret_json(json: &str) -> Result<Self, KeyError> {
        let stored: StoredPublicKeySet =
            serde_json::from_str(json).map_err(|e| KeyError::InvalidSecret(e.to_string()))?;
        if stored.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        for key in &stored.keys {
            if thumbprint(&key.x, &key.y) != key.kid {
                return Err(KeyError::InvalidSecret(format!(
                    "key {} does not match its public key's thumbprint",
                    key.kid
                )));
            }
        }
        let set = Self::new(stored.keys);
        if set.verification.len() != set.keys.len() {
            return Err(KeyError::InvalidSecret(
                "a public key is not a P-256 point".into(),
            ));
        }
        Ok(set)
    }

    pub fn to_secret_json(&self) -> String {
        // Plain strings and numbers: serialising cannot fail.
        serde_json::to_string(&StoredPublicKeySet {
            keys: self.keys.clone(),
        })
        .unwrap_or_default()
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .keys
                .iter()
                .map(|k| Jwk::es256(&k.kid, &k.x, &k.y))
                .collect(),
        }
    }

    pub fn verification_keys(&self) -> &VerificationKeys {
        &self.verification
    }

    /// When the newest key was made: the rotation alarm's gauge.
    pub fn newest_created_at(&self) -> u64 {
        self.keys.first().map_or(0, |k| k.created_at)
    }
}

impl RingKeys for PublicKeySet {
    const WHAT: &'static str = "public key set";

    fn from_secret(value: &str) -> Result<Self, KeyError> {
        Self::from_secret_json(value)
    }

    fn knows_kid(&self, kid: &str) -> bool {
        self.verification.get(kid).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;
    use std::time::Duration;

    #[test]
    fn the_public_half_publishes_and_verifies_like_the_whole_set() {
        let set = KeySet::generate(0)
            .unwrap()
            .rotated(10_000, Duration::from_secs(1200), Duration::from_secs(7200))
            .unwrap();
        let public = PublicKeySet::from_secret_json(&set.public().to_secret_json()).unwrap();
        assert_eq!(public.jwks().keys, set.jwks().keys);
        assert_eq!(public.verification_keys().len(), 2);
        assert_eq!(public.newest_created_at(), 10_000);
        assert!(public.knows_kid(set.newest_key().kid()));
    }

    #[test]
    fn the_public_secret_holds_no_private_key() {
        let set = KeySet::generate(0).unwrap();
        let json = set.public().to_secret_json();
        assert!(!json.contains("pkcs8") && !json.contains("\"d\""), "{json}");
    }

    #[test]
    fn a_forged_or_empty_public_set_is_refused() {
        let json = KeySet::generate(0).unwrap().public().to_secret_json();
        let kid = PublicKeySet::from_secret_json(&json).unwrap().keys[0]
            .kid
            .clone();
        assert!(matches!(
            PublicKeySet::from_secret_json(&json.replace(&kid, "forged")),
            Err(KeyError::InvalidSecret(_))
        ));
        assert!(matches!(
            PublicKeySet::from_secret_json(r#"{"keys":[]}"#),
            Err(KeyError::Empty)
        ));
    }
}
