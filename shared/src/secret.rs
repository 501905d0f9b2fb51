//! Values that must never reach a log line: reached only through `.secret()`.

use std::fmt;

use subtle::ConstantTimeEq;

#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Equality that takes the same time wherever the first difference is, so that a
    /// guesser learns nothing from response timing.
    pub fn constant_time_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl SecretString {
    /// For a response field that hands the secret out (`#[serde(serialize_with)]`): the
    /// one place it is written, so that nothing else serializes it by accident.
    pub fn serialize_exposed<S: serde::Serializer>(
        value: &SecretString,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.0)
    }

    /// `serialize_exposed` for an optional field.
    pub fn serialize_exposed_option<S: serde::Serializer>(
        value: &Option<SecretString>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => Self::serialize_exposed(secret, serializer),
            None => serializer.serialize_none(),
        }
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.secret(), "hunter2");
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        let s = SecretString::new("abc");
        assert!(s.constant_time_eq("abc"));
        assert!(!s.constant_time_eq("abd"));
        assert!(!s.constant_time_eq("ab"));
    }
}
