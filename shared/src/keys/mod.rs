//! Keys, each kind in a secret of its own so that a function reads only what it uses:
//! the ES256 signing key set (the newest key signs; only the token function and the
//! rotation read it), its public half (`public`: published as the JWKS, read by discovery
//! and revoke, written by the rotation), the pages' form key (`form`: the authorize
//! function's alone), and the per-container cache that reads any of them (`ring`).

mod form;
mod public;
mod ring;

pub use form::FormKey;
pub use public::PublicKeySet;
pub use ring::{KeyRing, RingKeys, SecretsManagerKeys};

use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::jwks::{Jwk, Jwks, VerificationKeys};

/// The current string value of a Secrets Manager secret (`None`: it holds no string),
/// read with `client`, which a process without Secrets Manager does not have.
pub async fn secret_string(
    client: Option<&aws_sdk_secretsmanager::Client>,
    secret_id: &str,
) -> Result<Option<String>, KeyError> {
    let client = client
        .ok_or_else(|| KeyError::Unavailable("no Secrets Manager client is configured".into()))?;
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        // Explicit, so a rotation's pending version is never read by mistake.
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| {
            KeyError::Unavailable(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
        })?;
    Ok(out.secret_string().map(str::to_owned))
}

#[derive(Debug, Clone, Error)]
pub enum KeyError {
    #[error("the key set secret is not valid: {0}")]
    InvalidSecret(String),
    #[error("the key set is empty")]
    Empty,
    #[error("could not read the signing key secret: {0}")]
    Unavailable(String),
    #[error("could not generate a key")]
    Generation,
}

/// One P-256 key pair. The private half is held only as a signing key, never printed.
pub struct SigningKey {
    kid: String,
    created_at: u64,
    pkcs8: Vec<u8>,
    encoding: EncodingKey,
    pub(crate) x: String,
    pub(crate) y: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate(created_at: u64) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| KeyError::Generation)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8(pkcs8.as_ref().to_vec(), created_at)
    }

    fn from_pkcs8(pkcs8: Vec<u8>, created_at: u64) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|e| KeyError::InvalidSecret(format!("not a P-256 PKCS#8 key: {e}")))?;
        // An uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(KeyError::InvalidSecret(
                "unexpected public key encoding".into(),
            ));
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        let kid = thumbprint(&x, &y);
        let encoding = EncodingKey::from_ec_der(&pkcs8);
        Ok(Self {
            kid,
            created_at,
            pkcs8,
            encoding,
            x,
            y,
        })
    }

    /// The RFC 7638 JWK thumbprint: a key id that anyone can recompute from the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn public_jwk(&self) -> Jwk {
        Jwk::es256(&self.kid, &self.x, &self.y)
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub(crate) fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The set of keys in the secret, newest first.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
    /// Decoded once: the set lives for the container, and every check uses them.
    verification: VerificationKeys,
}

/// How the key set is written in Secrets Manager.
#[derive(Serialize, Deserialize)]
struct StoredKeySet {
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created_at: u64,
    /// Standard base64 of the PKCS#8 v1 DER private key.
    pkcs8: String,
}

impl KeySet {
    /// `keys` must not be empty and must be sorted newest first.
    fn new(keys: Vec<SigningKey>) -> Self {
        let mut set = Self {
            keys,
            verification: VerificationKeys::default(),
        };
        set.verification = VerificationKeys::from(&set.jwks());
        set
    }

    pub fn generate(now: u64) -> Result<Self, KeyError> {
        Ok(Self::new(vec![SigningKey::generate(now)?]))
    }

    pub fn from_secret_json(json: &str) -> Result<Self, KeyError> {
        let stored: StoredKeySet =
            serde_json::from_str(json).map_err(|e| KeyError::InvalidSecret(e.to_string()))?;
        let mut keys = stored
            .keys
            .into_iter()
            .map(|k| {
                let der = STANDARD
                    .decode(k.pkcs8.as_bytes())
                    .map_err(|e| KeyError::InvalidSecret(format!("key {}: {e}", k.kid)))?;
                let key = SigningKey::from_pkcs8(der, k.created_at)?;
                if key.kid != k.kid {
                    return Err(KeyError::InvalidSecret(format!(
                        "key {} does not match its public key's thumbprint",
                        k.kid
                    )));
                }
                Ok(key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        Ok(Self::new(keys))
    }

    pub fn to_secret_json(&self) -> String {
        let stored = StoredKeySet {
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    created_at: k.created_at,
                    pkcs8: STANDARD.encode(&k.pkcs8),
                })
                .collect(),
        };
        // Plain strings and numbers: serialising cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The newest key, whether or not it signs yet.
    pub fn newest_key(&self) -> &SigningKey {
        // `from_secret_json` and `generate` never build an empty set.
        &self.keys[0]
    }

    /// The key that signs at `now`: the newest one published at least `activation` ago,
    /// when every container can verify it (`Config::key_activation`); while no newer key
    /// is that old, the oldest. A set of one key signs with it at once (a fresh stack).
    pub fn signing_key(&self, now: u64, activation: Duration) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.created_at.saturating_add(activation.as_secs()) <= now)
            .unwrap_or_else(|| &self.keys[self.keys.len() - 1])
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// Every key, so that tokens signed by a key that has just been superseded still verify.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(SigningKey::public_jwk).collect(),
        }
    }

    /// The published keys, decoded for verifying what this server signed.
    pub fn verification_keys(&self) -> &VerificationKeys {
        &self.verification
    }

    /// The public half, as the rotation publishes it for discovery and revoke.
    pub fn public(&self) -> PublicKeySet {
        PublicKeySet::of(&self.keys)
    }

    /// The next key set of a rotation: a fresh key, which signs once `activation` has
    /// passed, and the keys whose tokens may still be alive. A key stops signing when its
    /// successor activates; it is dropped once `retain_after_superseded` has passed after
    /// that (containers may sign with it until they re-read the secret, and its tokens live
    /// on after that).
    pub fn rotated(
        self,
        now: u64,
        activation: Duration,
        retain_after_superseded: Duration,
    ) -> Result<Self, KeyError> {
        let mut keys = vec![SigningKey::generate(now)?];
        let mut successor_created_at = now;
        for key in self.keys {
            let superseded_at = successor_created_at.saturating_add(activation.as_secs());
            if superseded_at.saturating_add(retain_after_superseded.as_secs()) > now {
                successor_created_at = key.created_at;
                keys.push(key);
            } else {
                break;
            }
        }
        Ok(Self::new(keys))
    }
}

impl RingKeys for KeySet {
    const WHAT: &'static str = "signing key set";

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

    #[test]
    fn generated_key_has_a_thumbprint_kid_and_p256_coordinates() {
        let key = SigningKey::generate(1).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.x).unwrap().len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.y).unwrap().len(), 32);
        assert_eq!(key.kid(), thumbprint(&jwk.x, &jwk.y));
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn rfc7638_thumbprint_of_a_known_ec_key() {
        // The P-256 key of RFC 7515 Appendix A.3; its thumbprint computed independently
        // (python: base64url(sha256(canonical JSON))).
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(
            thumbprint(x, y),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn secret_json_round_trips() {
        let set = KeySet::generate(100).unwrap();
        let again = KeySet::from_secret_json(&set.to_secret_json()).unwrap();
        assert_eq!(again.newest_key().kid(), set.newest_key().kid());
        assert_eq!(again.jwks().keys, set.jwks().keys);
    }

    #[test]
    fn the_newest_key_is_found_whatever_the_stored_order() {
        let rotated = KeySet::generate(100)
            .unwrap()
            .rotated(200, ACTIVATION, Duration::from_secs(7200))
            .unwrap();
        let newest = rotated.newest_key().kid().to_owned();
        let mut stored: serde_json::Value =
            serde_json::from_str(&rotated.to_secret_json()).unwrap();
        stored["keys"].as_array_mut().unwrap().reverse();
        let reloaded = KeySet::from_secret_json(&stored.to_string()).unwrap();
        assert_eq!(reloaded.newest_key().kid(), newest);
        assert_eq!(reloaded.signing_key(10_000, ACTIVATION).kid(), newest);
        assert_eq!(reloaded.jwks().keys.len(), 2);
    }

    const ACTIVATION: Duration = Duration::from_secs(1200);

    #[test]
    fn a_fresh_stacks_only_key_signs_at_once() {
        let set = KeySet::generate(100).unwrap();
        assert_eq!(
            set.signing_key(100, ACTIVATION).kid(),
            set.newest_key().kid()
        );
    }

    #[test]
    fn a_new_key_signs_only_once_every_container_can_verify_it() {
        let first = KeySet::generate(0).unwrap();
        let first_kid = first.newest_key().kid().to_owned();
        let second = first
            .rotated(10_000, ACTIVATION, Duration::from_secs(7200))
            .unwrap();
        let second_kid = second.newest_key().kid().to_owned();
        assert_eq!(second.signing_key(10_000, ACTIVATION).kid(), first_kid);
        assert_eq!(second.signing_key(11_199, ACTIVATION).kid(), first_kid);
        assert_eq!(second.signing_key(11_200, ACTIVATION).kid(), second_kid);
        // Two rotations in quick succession: the key published longest signs meanwhile.
        let third = second
            .rotated(10_100, ACTIVATION, Duration::from_secs(7200))
            .unwrap();
        assert_eq!(third.signing_key(10_200, ACTIVATION).kid(), first_kid);
        assert_eq!(third.signing_key(11_250, ACTIVATION).kid(), second_kid);
    }

    #[test]
    fn rotation_keeps_the_superseded_key_until_its_tokens_expire() {
        let retain = Duration::from_secs(7200);
        let first = KeySet::generate(0).unwrap();
        let first_kid = first.newest_key().kid().to_owned();
        let second = first.rotated(10_000, ACTIVATION, retain).unwrap();
        assert_eq!(second.keys().len(), 2);
        assert_eq!(second.keys()[1].kid(), first_kid);
        // The first key is superseded when the second activates, and kept `retain` after.
        let copy = KeySet::from_secret_json(&second.to_secret_json()).unwrap();
        let kept = copy
            .rotated(10_000 + 1200 + 7200 - 1, ACTIVATION, retain)
            .unwrap();
        assert!(kept.keys().iter().any(|k| k.kid() == first_kid));
        let third = second
            .rotated(10_000 + 1200 + 7200, ACTIVATION, retain)
            .unwrap();
        let kids: Vec<_> = third.keys().iter().map(|k| k.kid().to_owned()).collect();
        assert_eq!(kids.len(), 2);
        assert!(!kids.contains(&first_kid));
    }

    #[test]
    fn verification_keys_follow_the_set_through_a_rotation() {
        let first = KeySet::generate(0).unwrap();
        let first_kid = first.newest_key().kid().to_owned();
        let second = first
            .rotated(10_000, ACTIVATION, Duration::from_secs(7200))
            .unwrap();
        let verification = second.verification_keys();
        assert_eq!(verification.len(), 2);
        assert!(verification.get(&first_kid).is_some());
        assert!(verification.get(second.newest_key().kid()).is_some());
        let reloaded = KeySet::from_secret_json(&second.to_secret_json()).unwrap();
        assert_eq!(reloaded.verification_keys().len(), 2);
    }

    #[test]
    fn tampered_kid_is_refused() {
        let set = KeySet::generate(1).unwrap();
        let json = set
            .to_secret_json()
            .replace(set.newest_key().kid(), "forged");
        assert!(matches!(
            KeySet::from_secret_json(&json),
            Err(KeyError::InvalidSecret(_))
        ));
    }

    #[test]
    fn empty_or_garbage_secret_is_refused() {
        assert!(matches!(
            KeySet::from_secret_json(r#"{"keys":[]}"#),
            Err(KeyError::Empty)
        ));
        assert!(KeySet::from_secret_json("not json").is_err());
        assert!(
            KeySet::from_secret_json(r#"{"keys":[{"kid":"a","created_at":1,"pkcs8":"AAAA"}]}"#)
                .is_err()
        );
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let key = SigningKey::generate(1).unwrap();
        let printed = format!("{key:?}");
        assert!(!printed.contains(&STANDARD.encode(&key.pkcs8)));
    }
}
