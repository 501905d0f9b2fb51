//! Proof Key for Code Exchange (RFC 7636), S256 only: OAuth 2.1 and MCP refuse `plain`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::SecretString;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkceError {
    /// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
    MalformedVerifier,
    /// An S256 challenge is the base64url of a SHA-256: exactly 43 characters.
    MalformedChallenge,
    /// A challenge without a method: RFC 7636 §4.3 would read it as `plain`.
    MissingMethod,
    PlainMethodRefused,
    UnknownMethod(String),
}

impl std::fmt::Display for PkceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkceError::MalformedVerifier => {
                f.write_str("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
            }
            PkceError::MalformedChallenge => f.write_str(
                "code_challenge must be the 43-character base64url SHA-256 of the verifier",
            ),
            PkceError::MissingMethod => f.write_str(
                "code_challenge_method is required: S256 (without it the challenge would be plain, which is not allowed)",
            ),
            PkceError::PlainMethodRefused => {
                f.write_str("code_challenge_method plain is not allowed; use S256")
            }
            PkceError::UnknownMethod(m) => {
                write!(f, "code_challenge_method `{m}` is not supported; use S256")
            }
        }
    }
}

/// The client's secret half of PKCE. Not `Clone`: it is checked once and dropped.
#[derive(Debug)]
pub struct CodeVerifier(SecretString);

impl CodeVerifier {
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if !(43..=128).contains(&raw.len()) || !raw.chars().all(unreserved) {
            return Err(PkceError::MalformedVerifier);
        }
        Ok(Self(SecretString::new(raw)))
    }
}

/// The method named in the authorization request; only S256 exists here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    S256,
}

impl ChallengeMethod {
    /// RFC 7636 §4.3 defaults a missing method to `plain`, which OAuth 2.1 forbids, so a
    /// missing method is refused, saying so.
    pub fn parse(raw: Option<&str>) -> Result<Self, PkceError> {
        match raw {
            Some("S256") => Ok(Self::S256),
            None => Err(PkceError::MissingMethod),
            Some("plain") => Err(PkceError::PlainMethodRefused),
            Some(other) => Err(PkceError::UnknownMethod(other.to_owned())),
        }
    }
}

/// `BASE64URL(SHA256(code_verifier))`, as sent in the authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        let decoded = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| PkceError::MalformedChallenge)?;
        if decoded.len() != 32 || raw.len() != 43 {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn from_verifier(verifier: &CodeVerifier) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.secret().as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6, compared in constant time.
    pub fn is_satisfied_by(&self, verifier: &CodeVerifier) -> bool {
        let computed = Self::from_verifier(verifier);
        computed.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// As the challenge string (the pending authorization's signed form carries it).
impl serde::Serialize for CodeChallenge {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CodeChallenge {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = CodeVerifier::parse(RFC_VERIFIER).unwrap();
        assert_eq!(
            CodeChallenge::from_verifier(&verifier).as_str(),
            RFC_CHALLENGE
        );
        let challenge = CodeChallenge::parse(RFC_CHALLENGE).unwrap();
        assert!(challenge.is_satisfied_by(&verifier));
    }

    #[test]
    fn a_different_verifier_fails() {
        let challenge = CodeChallenge::parse(RFC_CHALLENGE).unwrap();
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!challenge.is_satisfied_by(&other));
    }

    #[test]
    fn verifier_length_and_alphabet_are_enforced() {
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(42)).unwrap_err(),
            PkceError::MalformedVerifier
        );
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            CodeVerifier::parse(&"a".repeat(129)).unwrap_err(),
            PkceError::MalformedVerifier
        );
        let with_plus = format!("{}+", "a".repeat(43));
        assert_eq!(
            CodeVerifier::parse(&with_plus).unwrap_err(),
            PkceError::MalformedVerifier
        );
    }

    #[test]
    fn challenge_must_be_a_sha256_in_base64url() {
        assert!(CodeChallenge::parse("short").is_err());
        assert!(CodeChallenge::parse(&"=".repeat(43)).is_err());
        let padded = format!("{RFC_CHALLENGE}=");
        assert!(CodeChallenge::parse(&padded).is_err());
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert_eq!(
            ChallengeMethod::parse(Some("S256")),
            Ok(ChallengeMethod::S256)
        );
        assert_eq!(
            ChallengeMethod::parse(Some("plain")),
            Err(PkceError::PlainMethodRefused)
        );
        assert_eq!(ChallengeMethod::parse(None), Err(PkceError::MissingMethod));
        assert!(matches!(
            ChallengeMethod::parse(Some("s256")),
            Err(PkceError::UnknownMethod(_))
        ));
    }
}
