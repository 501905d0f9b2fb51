//! The key of Alta's own pages' signed forms (the pending authorization, the connections
//! page): HMAC-SHA256, since only the authorize function signs and reads them. A key of
//! its own, so that the function showing pages to anyone on the internet holds no key
//! that could mint an access token.

use jsonwebtoken::{DecodingKey, EncodingKey};

use super::{KeyError, RingKeys};
use crate::digest::sha256_hex;
use crate::secret::SecretString;

/// At least 256 bits: CloudFormation generates 64 characters of letters and digits.
const MIN_SECRET_CHARS: usize = 32;

pub struct FormKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Values derived from the key (an upstream sign-in's PKCE verifier and nonce), so
    /// that they need not be carried anywhere.
    derivation: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl FormKey {
    /// A fresh key for a process that keeps its forms to itself (the local server, tests).
    pub fn generate() -> Result<Self, KeyError> {
        Self::new(crate::random::secret(32))
    }

    pub fn from_secret(value: &str) -> Result<Self, KeyError> {
        let value = value.trim();
        if value.chars().count() < MIN_SECRET_CHARS {
            return Err(KeyError::InvalidSecret(format!(
                "the form key must have at least {MIN_SECRET_CHARS} characters"
            )));
        }
        Self::new(SecretString::new(value))
    }

    fn new(secret: SecretString) -> Result<Self, KeyError> {
        // Names the key without revealing it, so that a form signed before the secret
        // changed sends the container to read it again.
        let kid =
            sha256_hex(format!("alta-form-key\n{}", secret.secret()).as_bytes())[..16].to_owned();
        let bytes = secret.secret().as_bytes();
        let invalid = |e: jsonwebtoken::errors::Error| KeyError::InvalidSecret(e.to_string());
        Ok(Self {
            kid,
            encoding: EncodingKey::from_secret(bytes).map_err(invalid)?,
            decoding: DecodingKey::from_secret(bytes).map_err(invalid)?,
            derivation: aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                format!("alta-form-derivation\n{}", secret.secret()).as_bytes(),
            ),
        })
    }

    /// A value only this key's holder can compute from `parts` (base64url, 256 bits),
    /// separate for each `purpose`.
    pub fn derive(&self, purpose: &str, parts: &[&str]) -> crate::secret::SecretString {
        use base64::Engine as _;
        let mut input = purpose.to_owned();
        for part in parts {
            input.push('\n');
            input.push_str(part);
        }
        let tag = aws_lc_rs::hmac::sign(&self.derivation, input.as_bytes());
        crate::secret::SecretString::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref()),
        )
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl RingKeys for FormKey {
    const WHAT: &'static str = "form key";

    fn from_secret(value: &str) -> Result<Self, KeyError> {
        Self::from_secret(value)
    }

    fn knows_kid(&self, kid: &str) -> bool {
        self.kid == kid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_secret_is_refused_and_the_kid_reveals_nothing() {
        assert!(FormKey::from_secret("short").is_err());
        let secret = "a".repeat(64);
        let key = FormKey::from_secret(&secret).unwrap();
        assert_eq!(key.kid().len(), 16);
        assert!(!format!("{key:?}").contains(&secret));
        assert_eq!(
            FormKey::from_secret(&format!("{secret}\n")).unwrap().kid(),
            key.kid()
        );
        assert_ne!(
            FormKey::generate().unwrap().kid(),
            FormKey::generate().unwrap().kid()
        );
    }
}
