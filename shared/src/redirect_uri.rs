//! Redirect URIs: which ones a client may register, and how a request's URI matches one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::{Host, Url};

/// Longest redirect URI accepted; real ones are well under 300 characters.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// Schemes that are not an app's callback and would turn a redirect into script execution,
/// a local file read or a browser-internal page.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "chrome",
    "ftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "filesystem",
    "view-source",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `https://…`: a web client, or a native app's claimed https URL.
    Https,
    /// `http://127.0.0.1|[::1]|localhost[:port]/…`: a native app's loopback listener (RFC 8252 §7.3).
    Loopback,
    /// `com.example.app:/…`, `cursor://…`: a native app's private-use scheme (RFC 8252 §7.1).
    PrivateUse,
}

/// A redirect URI exactly as registered. The original string is kept, because the
/// authorization request must match it exactly (OAuth 2.1 §2.3.1), not a normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    kind: RedirectKind,
}

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("redirect URI is empty".into());
        }
        if raw.len() > MAX_REDIRECT_URI_LEN {
            return Err(format!(
                "redirect URI is longer than {MAX_REDIRECT_URI_LEN} characters"
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("redirect URI contains whitespace or control characters".into());
        }
        let url = Url::parse(raw).map_err(|_| format!("`{raw}` is not an absolute URI"))?;
        // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        if raw.contains('#') {
            return Err(format!("`{raw}` has a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{raw}` carries credentials"));
        }
        let kind = match url.scheme() {
            "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(format!("`{raw}` has no host"));
                }
                RedirectKind::Https
            }
            "http" => {
                if !is_loopback(&url) {
                    return Err(format!(
                        "`{raw}` uses http, which is only allowed for a loopback host \
                         (127.0.0.1, [::1] or localhost)"
                    ));
                }
                RedirectKind::Loopback
            }
            scheme if FORBIDDEN_SCHEMES.contains(&scheme) => {
                return Err(format!(
                    "`{raw}` uses the scheme `{scheme}`, which is not allowed"
                ));
            }
            _ => RedirectKind::PrivateUse,
        };
        Ok(Self {
            raw: raw.to_owned(),
            kind,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn kind(&self) -> RedirectKind {
        self.kind
    }

    /// Whether `requested` (from an authorization or token request) names this URI:
    /// byte for byte, except that a loopback URI matches on any port (RFC 8252 §7.3),
    /// because a native app binds whatever port is free at the time.
    pub fn matches(&self, requested: &str) -> bool {
        if self.raw == requested {
            return true;
        }
        if self.kind != RedirectKind::Loopback {
            return false;
        }
        match (Url::parse(&self.raw), Url::parse(requested)) {
            (Ok(mut registered), Ok(mut asked))
                if asked.scheme() == "http" && is_loopback(&asked) =>
            {
                // Ignoring the port cannot fail on an http URL.
                let _ = registered.set_port(None);
                let _ = asked.set_port(None);
                !requested.contains('#') && registered == asked
            }
            _ => false,
        }
    }

    /// The host a person sees on the consent page ("you will be sent to …").
    pub fn display_host(&self) -> String {
        match Url::parse(&self.raw) {
            Ok(url) => match url.host_str() {
                Some(host) if !host.is_empty() => host.to_owned(),
                _ => format!("{}:", url.scheme()),
            },
            Err(_) => self.raw.clone(),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for RedirectUri {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> Result<RedirectKind, String> {
        RedirectUri::parse(raw).map(|u| u.kind())
    }

    #[test]
    fn claude_callback_is_https() {
        assert_eq!(
            kind("https://claude.ai/api/mcp/auth_callback"),
            Ok(RedirectKind::Https)
        );
    }

    #[test]
    fn cursor_callback_is_a_private_use_scheme() {
        assert_eq!(
            kind("cursor://anysphere.cursor-mcp/oauth/callback"),
            Ok(RedirectKind::PrivateUse)
        );
        assert_eq!(
            kind("com.example.app:/oauth2redirect"),
            Ok(RedirectKind::PrivateUse)
        );
    }

    #[test]
    fn vs_code_and_claude_code_loopback_callbacks_are_accepted() {
        assert_eq!(kind("http://127.0.0.1:33418/"), Ok(RedirectKind::Loopback));
        assert_eq!(
            kind("http://localhost:54321/callback"),
            Ok(RedirectKind::Loopback)
        );
        assert_eq!(kind("http://[::1]:8080/cb"), Ok(RedirectKind::Loopback));
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        assert!(kind("http://example.com/cb").is_err());
        assert!(kind("http://127.0.0.2/cb").is_err());
        assert!(kind("http://localhost.evil.example/cb").is_err());
    }

    #[test]
    fn fragments_credentials_and_relative_uris_are_refused() {
        assert!(kind("https://app.example/cb#frag").is_err());
        assert!(kind("https://app.example/cb#").is_err());
        assert!(kind("https://user:pw@app.example/cb").is_err());
        assert!(kind("/callback").is_err());
        assert!(kind("").is_err());
        assert!(kind("https://app.example/c b").is_err());
    }

    #[test]
    fn script_and_file_schemes_are_refused() {
        assert!(kind("javascript:alert(1)").is_err());
        assert!(kind("data:text/html,hi").is_err());
        assert!(kind("file:///etc/passwd").is_err());
    }

    #[test]
    fn overlong_uri_is_refused() {
        let long = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_LEN));
        assert!(kind(&long).is_err());
    }

    #[test]
    fn https_uri_matches_only_byte_for_byte() {
        let uri = RedirectUri::parse("https://claude.ai/api/mcp/auth_callback").unwrap();
        assert!(uri.matches("https://claude.ai/api/mcp/auth_callback"));
        assert!(!uri.matches("https://claude.ai/api/mcp/auth_callback/"));
        assert!(!uri.matches("https://CLAUDE.ai/api/mcp/auth_callback"));
        assert!(!uri.matches("https://claude.ai/api/mcp/auth_callback?x=1"));
    }

    #[test]
    fn loopback_uri_matches_on_any_port() {
        let uri = RedirectUri::parse("http://127.0.0.1/callback").unwrap();
        assert!(uri.matches("http://127.0.0.1:49152/callback"));
        assert!(!uri.matches("http://127.0.0.1:49152/other"));
        assert!(!uri.matches("http://localhost:49152/callback"));
        assert!(!uri.matches("https://127.0.0.1:49152/callback"));
        assert!(!uri.matches("http://127.0.0.1:49152/callback#x"));
    }

    #[test]
    fn display_host_names_the_destination() {
        let cursor = RedirectUri::parse("cursor://anysphere.cursor-mcp/oauth/callback").unwrap();
        assert_eq!(cursor.display_host(), "anysphere.cursor-mcp");
        let app = RedirectUri::parse("com.example.app:/cb").unwrap();
        assert_eq!(app.display_host(), "com.example.app:");
    }
}
