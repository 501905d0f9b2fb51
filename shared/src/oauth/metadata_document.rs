//! Client ID Metadata Documents (MCP 2026-07-28 "Client Registration";
//! draft-ietf-oauth-client-id-metadata-document): a `client_id` that is an https URL names
//! a JSON document, published by the client, describing it.
//!
//! Fetching a URL that anyone can choose is a server-side request forgery risk, so: https
//! only; the host is resolved once, every address must be public, and the connection is
//! made only to the checked addresses (a second DNS answer cannot rebind it); no redirects; 5 KB
//! and 10 s limits. A valid document is cached per its Cache-Control, at most 7 days; an
//! invalid one never is.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::RwLock;
use url::Url;

use crate::oauth::client::{Client, ClientCredential, ClientSource, GrantType};
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;

pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The whole fetch, DNS included: about half the shortest timeout of a function that
/// fetches documents (token and revoke, 10 s), so that a slow client host costs an error
/// answer, not a timed-out invocation.
pub const FETCH_BUDGET: Duration = Duration::from_secs(5);
pub const MAX_CACHE_SECONDS: u64 = 7 * 24 * 3600;
/// When the document says nothing about caching.
const DEFAULT_CACHE_SECONDS: u64 = 3600;
/// A failed fetch or an unusable document is remembered this long, so that anonymous
/// requests naming it do not each fetch it again; a fixed document is seen soon after.
pub const FAILURE_CACHE_SECONDS: u64 = 60;
/// At most this many documents are remembered per container; past that, the ones that
/// expire soonest make room.
pub const MAX_CACHED_DOCUMENTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataDocumentError {
    #[error("the client_id URL is not acceptable: {0}")]
    BadUrl(String),
    #[error("the client_id host does not resolve to a public address")]
    PrivateAddress,
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
}

/// Is this `client_id` a metadata document URL (rather than a registered id)?
pub fn is_metadata_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// Checks the URL rules: https, a host, a path beyond `/`, no userinfo, no fragment, no
/// dot segments (which different parsers resolve differently).
pub fn validate_client_id_url(raw: &str) -> Result<Url, MetadataDocumentError> {
    let bad = |why: &str| MetadataDocumentError::BadUrl(why.to_owned());
    if raw.len() > 2000 {
        return Err(bad("longer than 2000 characters"));
    }
    let url = Url::parse(raw).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("must be https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || raw.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    if raw.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    let raw_path = raw.splitn(4, '/').nth(3).unwrap_or("");
    let raw_path = raw_path.split('?').next().unwrap_or("");
    if raw_path.is_empty() {
        return Err(bad("must have a path"));
    }
    let decoded = raw_path.replace("%2e", ".").replace("%2E", ".");
    if decoded
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(bad("must not contain dot segments"));
    }
    Ok(url)
}

/// Addresses a fetch may never reach: loopback, private, link-local (cloud metadata at
/// 169.254.169.254), shared, multicast, unspecified and documentation ranges.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(high) << 16) | u32::from(low),
                ))
            };
            // Forms that carry an IPv4 address are judged by it: mapped (::ffff:a.b.c.d),
            // compatible (::a.b.c.d, also :: and ::1), 6to4 (2002:aabb:ccdd::) and Teredo
            // (2001:0::, the client's address inverted in the last 32 bits).
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            if s[..6] == [0; 6] {
                return is_public_address(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_address(embedded(s[1], s[2]));
            }
            if s[0] == 0x2001 && s[1] == 0 {
                return is_public_address(embedded(s[2], s[3]))
                    && is_public_address(embedded(!s[6], !s[7]));
            }
            // Otherwise only global unicast (2000::/3), which leaves out unique-local,
            // link- and site-local, multicast and NAT64 (64:ff9b::/96), less documentation.
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Settings for tests only: a loopback https server with its own CA.
#[derive(Debug, Clone, Default)]
pub struct FetchPolicy {
    /// `ALTA_CIMD_ALLOW_LOOPBACK`: allow 127.0.0.0/8 and ::1 (tests), nothing else private.
    pub allow_loopback: bool,
    /// `ALTA_CIMD_TRUSTED_CA_PEM`: trust only this CA (tests' own CA).
    pub trusted_ca_pem: Option<String>,
}

/// A fetched document's client, or why it cannot be used.
struct Cached {
    outcome: Result<Client, MetadataDocumentError>,
    until: u64,
}

pub struct MetadataDocuments {
    policy: FetchPolicy,
    cache: RwLock<HashMap<String, Cached>>,
}

impl MetadataDocuments {
    pub fn new(policy: FetchPolicy) -> Self {
        Self {
            policy,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The client a metadata document URL describes.
    pub async fn client(&self, client_id: &str, now: u64) -> Result<Client, MetadataDocumentError> {
        if let Some(cached) = self.cache.read().await.get(client_id)
            && cached.until > now
        {
            return cached.outcome.clone();
        }
        let url = validate_client_id_url(client_id)?;
        let (outcome, seconds) = match self.fetch(&url).await {
            Ok((body, max_age)) => match parse_document(client_id, &body) {
                Ok(client) => (Ok(client), max_age.min(MAX_CACHE_SECONDS)),
                Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
            },
            Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
        };
        if seconds > 0 {
            self.remember(client_id, outcome.clone(), now + seconds, now)
                .await;
        }
        outcome
    }

    async fn remember(
        &self,
        client_id: &str,
        outcome: Result<Client, MetadataDocumentError>,
        until: u64,
        now: u64,
    ) {
        let mut cache = self.cache.write().await;
        if cache.len() >= MAX_CACHED_DOCUMENTS && !cache.contains_key(client_id) {
            cache.retain(|_, cached| cached.until > now);
            while cache.len() >= MAX_CACHED_DOCUMENTS {
                let Some(soonest) = cache
                    .iter()
                    .min_by_key(|(_, cached)| cached.until)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                cache.remove(&soonest);
            }
        }
        cache.insert(client_id.to_owned(), Cached { outcome, until });
    }

    async fn fetch(&self, url: &Url) -> Result<(Vec<u8>, u64), MetadataDocumentError> {
        tokio::time::timeout(FETCH_BUDGET, self.fetch_unbounded(url))
            .await
            .map_err(|_| MetadataDocumentError::Fetch("timed out".into()))?
    }

    async fn fetch_unbounded(&self, url: &Url) -> Result<(Vec<u8>, u64), MetadataDocumentError> {
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = self.resolve_once(&host, port).await?;

        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_BUDGET)
            .connect_timeout(FETCH_BUDGET)
            .no_proxy()
            .user_agent("alta-mcp (client metadata fetcher)")
            .resolve_to_addrs(&host, &addrs);
        if let Some(pem) = &self.policy.trusted_ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| MetadataDocumentError::Fetch(format!("test CA: {e}")))?;
            builder = builder.tls_certs_only([ca]);
        }
        let http = builder
            .build()
            .map_err(|e| MetadataDocumentError::Fetch(e.to_string()))?;
        let fetch = async {
            let mut resp = http
                .get(url.clone())
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| MetadataDocumentError::Fetch(e.without_url().to_string()))?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(MetadataDocumentError::Fetch(format!(
                    "HTTP status {}",
                    resp.status()
                )));
            }
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
            {
                return Err(MetadataDocumentError::Fetch("larger than 5 KB".into()));
            }
            let max_age = cache_seconds(
                resp.headers()
                    .get("cache-control")
                    .and_then(|v| v.to_str().ok()),
            );
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| MetadataDocumentError::Fetch(e.without_url().to_string()))?
            {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Err(MetadataDocumentError::Fetch("larger than 5 KB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((body, max_age))
        };
        fetch.await
    }

    /// One DNS resolution; every address must be allowed, and only these are connected to.
    async fn resolve_once(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, MetadataDocumentError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| MetadataDocumentError::Fetch("the host does not resolve".into()))?
            .collect();
        let allowed =
            |ip: IpAddr| is_public_address(ip) || (self.policy.allow_loopback && ip.is_loopback());
        if addrs.is_empty() || !addrs.iter().all(|a| allowed(a.ip())) {
            return Err(MetadataDocumentError::PrivateAddress);
        }
        Ok(addrs)
    }
}

/// `max-age` (or `s-maxage`) in seconds; `no-store`/`no-cache` mean do not cache.
fn cache_seconds(header: Option<&str>) -> u64 {
    let Some(header) = header else {
        return DEFAULT_CACHE_SECONDS;
    };
    let mut max_age = None;
    for directive in header.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return 0;
        }
        if let Some(v) = directive
            .strip_prefix("max-age=")
            .or_else(|| directive.strip_prefix("s-maxage="))
        {
            max_age = v.trim_matches('"').parse::<u64>().ok().or(max_age);
        }
    }
    max_age.unwrap_or(DEFAULT_CACHE_SECONDS)
}

/// The document's rules: a JSON object whose `client_id` is its own URL, with a
/// `client_name` and `redirect_uris`, describing a public client (no secrets, no private keys).
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<Client, MetadataDocumentError> {
    let invalid = |why: String| MetadataDocumentError::Invalid(why);
    let doc: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let Value::Object(fields) = doc else {
        return Err(invalid("not a JSON object".into()));
    };
    if fields.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid(
            "its client_id is not the URL it was fetched from".into(),
        ));
    }
    let client_name = match fields.get("client_name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 200 => {
            name.trim().to_owned()
        }
        _ => {
            return Err(invalid(
                "client_name is required (a string of at most 200 characters)".into(),
            ));
        }
    };
    for secret in ["client_secret", "client_secret_expires_at"] {
        if fields.contains_key(secret) {
            return Err(invalid(format!("it must not contain {secret}")));
        }
    }
    if let Some(Value::Object(jwks)) = fields.get("jwks")
        && jwks
            .get("keys")
            .and_then(Value::as_array)
            .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()))
    {
        return Err(invalid("its jwks contains a private key".into()));
    }
    match fields
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{other}` is not supported for metadata documents; use none"
            )));
        }
    }
    let redirect_uris = match fields.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => list
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| invalid("redirect_uris must be strings".into()))
                    .and_then(|s| RedirectUri::parse(s).map_err(invalid))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(invalid(
                "redirect_uris is required: a non-empty array".into(),
            ));
        }
    };
    let grant_types = match fields.get("grant_types").and_then(Value::as_array) {
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        Some(list) => list
            .iter()
            .filter_map(|g| g.as_str().and_then(GrantType::parse))
            .collect(),
    };
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(invalid(
            "grant_types must include authorization_code".into(),
        ));
    }
    Ok(Client {
        client_id: client_id.to_owned(),
        client_name: Some(client_name),
        redirect_uris,
        grant_types,
        credential: ClientCredential::None,
        allowed_scopes: fields
            .get("scope")
            .and_then(Value::as_str)
            .map(ScopeSet::parse_known)
            .filter(|s| !s.is_empty()),
        source: ClientSource::MetadataDocument,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example.com/oauth/client.json";

    #[test]
    fn client_id_url_rules() {
        assert!(validate_client_id_url(ID).is_ok());
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://user@app.example.com/client.json",
            "https://app.example.com/client.json#x",
            "https://app.example.com/a/../client.json",
            "https://app.example.com/./client.json",
            "https://app.example.com/a/%2e%2e/client.json",
        ] {
            assert!(validate_client_id_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_globally_routable_unicast_is_public_whatever_the_form() {
        let table = [
            ("127.0.0.1", false),
            ("10.0.0.1", false),
            ("172.16.5.4", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("224.0.0.1", false),
            ("93.184.216.34", true),
            ("8.8.8.8", true),
            ("::", false),
            ("::1", false),
            ("fc00::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("2001:db8::1", false),
            ("64:ff9b::808:808", false),
            ("2606:4700::1111", true),
            // IPv4-mapped
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            // IPv4-compatible
            ("::127.0.0.1", false),
            ("::169.254.169.254", false),
            ("::10.0.0.1", false),
            ("::8.8.8.8", true),
            // 6to4
            ("2002:7f00:1::", false),
            ("2002:a9fe:a9fe::", false),
            ("2002:a00:1::", false),
            ("2002:808:808::", true),
            // Teredo: server 65.54.227.120, client 127.0.0.1 / 8.8.8.8 inverted
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", false),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", true),
        ];
        for (ip, public) in table {
            assert_eq!(is_public_address(ip.parse().unwrap()), public, "{ip}");
        }
    }

    #[tokio::test]
    async fn the_cache_is_bounded_and_the_soonest_to_expire_make_room() {
        let documents = MetadataDocuments::new(FetchPolicy::default());
        let failure = || Err(MetadataDocumentError::Fetch("down".into()));
        for i in 0..MAX_CACHED_DOCUMENTS as u64 {
            documents
                .remember(&format!("https://a.example/{i}"), failure(), 1_000 + i, 100)
                .await;
        }
        documents
            .remember("https://a.example/new", failure(), 5_000, 100)
            .await;
        let cache = documents.cache.read().await;
        assert_eq!(cache.len(), MAX_CACHED_DOCUMENTS);
        assert!(cache.contains_key("https://a.example/new"));
        assert!(
            !cache.contains_key("https://a.example/0"),
            "it expired soonest"
        );
        assert!(cache.contains_key("https://a.example/1"));
    }

    #[test]
    fn cache_lifetime_follows_cache_control() {
        assert_eq!(cache_seconds(Some("public, max-age=600")), 600);
        assert_eq!(cache_seconds(Some("no-store")), 0);
        assert_eq!(cache_seconds(Some("max-age=0")), 0);
        assert_eq!(cache_seconds(None), DEFAULT_CACHE_SECONDS);
    }

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "client_id": ID,
            "client_name": "Example App",
            "redirect_uris": ["http://127.0.0.1/callback"],
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base.to_string().into_bytes()
    }

    #[test]
    fn valid_document_describes_a_public_client() {
        let client = parse_document(ID, &doc(serde_json::json!({}))).unwrap();
        assert_eq!(client.client_name.as_deref(), Some("Example App"));
        assert!(client.is_public());
        assert_eq!(client.source, ClientSource::MetadataDocument);
    }

    #[test]
    fn invalid_documents_are_refused() {
        for extra in [
            serde_json::json!({"client_id": "https://other.example.com/client.json"}),
            serde_json::json!({"client_name": null}),
            serde_json::json!({"redirect_uris": []}),
            serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
            serde_json::json!({"client_secret": "s"}),
            serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
            serde_json::json!({"jwks": {"keys": [{"kty": "EC", "d": "private"}]}}),
        ] {
            assert!(parse_document(ID, &doc(extra.clone())).is_err(), "{extra}");
        }
        assert!(parse_document(ID, b"[]").is_err());
        assert!(parse_document(ID, b"not json").is_err());
    }
}
