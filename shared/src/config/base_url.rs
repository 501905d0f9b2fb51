//! `<BASE>`: the one canonical string every URL, issuer and audience derives from.

use url::Url;

/// The canonical public base URL (`<BASE>` in docs/oauth.md): no trailing slash, so the issuer,
/// the `iss` parameter, the JWT `iss` and `authorization_servers[0]` are byte-identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    base: String,
    /// Its web origin (scheme, host, port), which browsers send as `Origin`.
    origin: String,
}

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
        let loopback = matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        );
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err("must be https (http only on a loopback host)".into()),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
            origin: url.origin().ascii_serialization(),
        })
    }

    /// The OAuth issuer identifier: the base URL itself.
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// `https://host[:port]`, without the base's path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// An absolute URL under the base, e.g. `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The protected resource: the URL a person pastes and the access token's audience.
    pub fn mcp_resource(&self) -> String {
        self.url("/mcp")
    }

    pub fn protected_resource_metadata_url(&self) -> String {
        self.url("/.well-known/oauth-protected-resource/mcp")
    }
}
