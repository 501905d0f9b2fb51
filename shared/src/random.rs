//! Unguessable identifiers and secrets from the operating system's CSPRNG.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::SecretString;

/// `bytes` random bytes as unpadded base64url (`bytes * 8` bits of entropy).
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS CSPRNG failing means the machine cannot issue secrets at all; there is no
    // safe fallback, so this is the one place a panic is the right answer.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random token that is a credential (a code, a refresh token): kept out of logs.
pub fn secret(bytes: usize) -> SecretString {
    SecretString::new(token(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_asked_entropy_and_differ() {
        let a = token(16);
        assert_eq!(a.len(), 22);
        assert_ne!(a, token(16));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
