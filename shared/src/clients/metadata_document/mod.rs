//! Client ID Metadata Documents (MCP 2026-07-28 "Client Registration";
//! draft-ietf-oauth-client-id-metadata-document): a `client_id` that is an https URL names
//! a JSON document, published by the client, describing it.
//!
//! Fetching a URL that anyone can choose is a server-side request forgery risk, so: https
//! only; the host is resolved once, every address must be public, and the connection is
//! made only to the checked addresses (a second DNS answer cannot rebind it); no redirects; 5 KB
//! and 4 s limits. A valid document is cached per its Cache-Control, at most 7 days; an
//! invalid one for a minute. A `private_key_jwt` client's `jwks_uri` is fetched the same
//! way (16 KB, cached at most a day, fetched again when an assertion names an unknown key).
//!
//! Fetching for anonymous callers is also a way to hold a function's containers: a host
//! that accepts connections and never answers costs the whole budget per fetch. So only
//! the https default port; one deadline for all the fetches of one request (document and
//! key set together: [`FETCH_BUDGET`]); at most [`MAX_UNCACHED_FETCHES_PER_SOURCE`]
//! uncached fetches a minute per source address across the whole stack (counted in the
//! store by the caller's [`FetchAllowance`]); and, within a container, a host whose fetch
//! failed is remembered (not only the URL) for a minute, one fetch per host at a time (a
//! request waiting for it finds its answer there), at most [`MAX_FETCHES_IN_FLIGHT`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::RwLock;
use url::Url;

use crate::clients::assertion::{ClientKeys, parse_signing_alg};
use crate::clients::{Client, ClientCredential, ClientKeySource, ClientSource};
use crate::records::client::GrantType;
use crate::records::ids::ClientId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;

mod address;
use address::*;
mod cache;
use cache::*;
mod parse;
use parse::*;

pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// A JWK Set of a few RSA keys fits with room to spare.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
/// Every fetch of one request together, DNS included (a document and then its key set at
/// the token endpoint): well under the shortest timeout of a function that fetches
/// documents (token and revoke, 10 s), so that a slow client host costs an error answer,
/// not a timed-out invocation.
pub const FETCH_BUDGET: Duration = Duration::from_secs(4);
pub const MAX_CACHE_SECONDS: u64 = 7 * 24 * 3600;
/// Keys rotate more often than documents change.
pub const MAX_KEYS_CACHE_SECONDS: u64 = 24 * 3600;
/// When the document says nothing about caching.
const DEFAULT_CACHE_SECONDS: u64 = 3600;
/// A failed fetch or an unusable document is remembered this long, so that anonymous
/// requests naming it do not each fetch it again; a fixed document is seen soon after.
pub const FAILURE_CACHE_SECONDS: u64 = 60;
/// At most this many documents are remembered per container; past that, the ones that
/// expire soonest make room.
pub const MAX_CACHED_DOCUMENTS: usize = 1000;
/// Fetches one container makes at once; past that, a request is refused at once.
pub const MAX_FETCHES_IN_FLIGHT: usize = 4;
/// Fetches one source address may cause per minute, stack-wide (cached answers are free).
pub const MAX_UNCACHED_FETCHES_PER_SOURCE: u32 = 10;

/// What one request may spend on fetches: a deadline for all of them, and a charge for
/// each uncached one to the request's source (refused past its allowance).
#[async_trait::async_trait]
pub trait FetchAllowance: Send + Sync {
    fn deadline(&self) -> tokio::time::Instant;
    async fn charge(&self) -> Result<(), MetadataDocumentError>;
}

/// No charge, one budget from now: for callers with no source to charge (tests).
pub struct Unlimited(pub tokio::time::Instant);

impl Unlimited {
    pub fn from_now() -> Self {
        Self(tokio::time::Instant::now() + FETCH_BUDGET)
    }
}

#[async_trait::async_trait]
impl FetchAllowance for Unlimited {
    fn deadline(&self) -> tokio::time::Instant {
        self.0
    }

    async fn charge(&self) -> Result<(), MetadataDocumentError> {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataDocumentError {
    #[error("the client_id URL is not acceptable: {0}")]
    BadUrl(String),
    #[error("the client_id host does not resolve to a public address")]
    PrivateAddress,
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(String),
    /// The host did not answer in time, refused the connection or does not resolve: the
    /// host is remembered as failing, not only this URL.
    #[error("the client metadata document could not be fetched: {0}")]
    Unreachable(String),
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
    #[error("too many client metadata documents are being fetched: try again in a minute")]
    Busy,
}

/// Is this `client_id` a metadata document URL (rather than a registered id)?
pub fn is_metadata_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// What a fetcher may reach. The defaults are the deployed rules; the rest is for tests
/// and local runs.
#[derive(Debug, Clone, Default)]
pub struct FetchPolicy {
    /// `ALTA_CIMD_ALLOW_LOOPBACK`: allow 127.0.0.0/8 and ::1 (tests), nothing else private.
    pub allow_loopback: bool,
    /// Plain http too (only ever with `allow_loopback`: an identity provider on loopback
    /// for a local server on loopback).
    pub allow_http: bool,
    /// `ALTA_CIMD_TRUSTED_CA_PEM`: trust only this CA (tests' own CA).
    pub trusted_ca_pem: Option<String>,
    /// A larger key-set limit than [`MAX_JWKS_BYTES`] (identity providers publish several
    /// keys, some with certificate chains).
    pub max_key_set_bytes: Option<usize>,
    /// JSON documents are kept at least this long, whatever their Cache-Control says (an
    /// identity provider's discovery document sent with `no-store` is not fetched for
    /// every page).
    pub min_json_cache_seconds: u64,
}

/// A form POSTed by [`MetadataDocuments::post_form`]: an identity provider's token endpoint.
pub struct FormPost {
    pub body: String,
    /// An `Authorization` header value (client_secret_basic).
    pub authorization: Option<crate::secret::SecretString>,
}

pub struct MetadataDocuments {
    policy: FetchPolicy,
    documents: BoundedCache<Client>,
    key_sets: BoundedCache<Arc<ClientKeys>>,
    /// Other JSON documents (identity providers' discovery documents).
    json_documents: BoundedCache<Arc<Value>>,
    /// Hosts whose last fetch failed in transit (no answer, no connection, no public
    /// address): their failure, until it is tried again.
    failing_hosts: BoundedCache<()>,
    /// One lock per host, taken for a fetch from it.
    host_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl MetadataDocuments {
    pub fn new(policy: FetchPolicy) -> Self {
        Self {
            policy,
            documents: BoundedCache::new(),
            key_sets: BoundedCache::new(),
            json_documents: BoundedCache::new(),
            failing_hosts: BoundedCache::new(),
            host_locks: std::sync::Mutex::new(HashMap::new()),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_FETCHES_IN_FLIGHT)),
        }
    }

    /// The client a metadata document URL describes.
    pub async fn client(
        &self,
        client_id: &str,
        now: u64,
        allowance: &dyn FetchAllowance,
    ) -> Result<Client, MetadataDocumentError> {
        if let Some((outcome, _)) = self.documents.get(client_id, now).await {
            return outcome;
        }
        let url = validate_client_id_url(client_id)?;
        let _host = self.host_turn(&url, now, allowance).await?;
        // Whoever held the host before may have fetched this very document.
        if let Some((outcome, _)) = self.documents.get(client_id, now).await {
            return outcome;
        }
        allowance.charge().await?;
        let (outcome, seconds) = match self.fetch(&url, MAX_DOCUMENT_BYTES, now, allowance).await {
            Ok((body, max_age)) => match parse_document(client_id, &body) {
                Ok(client) => (Ok(client), max_age.min(MAX_CACHE_SECONDS)),
                Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
            },
            Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
        };
        if seconds > 0 {
            self.documents
                .remember(client_id, outcome.clone(), now + seconds, now)
                .await;
        }
        outcome
    }

    /// The key set at a `private_key_jwt` client's `jwks_uri`. `refresh` asks for a fresh
    /// copy (an assertion named a key the cached set lacks: the client rotated): granted
    /// at most once per [`FAILURE_CACHE_SECONDS`], so unknown key ids cannot make the
    /// server fetch on every request.
    pub async fn client_keys(
        &self,
        jwks_uri: &Url,
        now: u64,
        refresh: bool,
        allowance: &dyn FetchAllowance,
    ) -> Result<Arc<ClientKeys>, MetadataDocumentError> {
        let key = jwks_uri.as_str();
        let cached = |fetched: Option<(Result<Arc<ClientKeys>, MetadataDocumentError>, u64)>| {
            fetched
                .filter(|(_, fetched_at)| !(refresh && fetched_at + FAILURE_CACHE_SECONDS <= now))
        };
        if let Some((outcome, _)) = cached(self.key_sets.get(key, now).await) {
            return outcome;
        }
        let _host = self.host_turn(jwks_uri, now, allowance).await?;
        if let Some((outcome, _)) = cached(self.key_sets.get(key, now).await) {
            return outcome;
        }
        allowance.charge().await?;
        let limit = self.policy.max_key_set_bytes.unwrap_or(MAX_JWKS_BYTES);
        let (outcome, seconds) = match self.fetch(jwks_uri, limit, now, allowance).await {
            Ok((body, max_age)) => match parse_key_set(&body) {
                Ok(keys) => (Ok(Arc::new(keys)), max_age.min(MAX_KEYS_CACHE_SECONDS)),
                Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
            },
            Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
        };
        if seconds > 0 {
            self.key_sets
                .remember(key, outcome.clone(), now + seconds, now)
                .await;
        }
        outcome
    }

    /// A JSON object at `url` (an identity provider's discovery document), cached as its
    /// Cache-Control says, at most a day.
    pub async fn json_document(
        &self,
        url: &Url,
        max_bytes: usize,
        now: u64,
        allowance: &dyn FetchAllowance,
    ) -> Result<Arc<Value>, MetadataDocumentError> {
        let key = url.as_str();
        if let Some((outcome, _)) = self.json_documents.get(key, now).await {
            return outcome;
        }
        let _host = self.host_turn(url, now, allowance).await?;
        if let Some((outcome, _)) = self.json_documents.get(key, now).await {
            return outcome;
        }
        allowance.charge().await?;
        let parsed = |body: &[u8]| match serde_json::from_slice::<Value>(body) {
            Ok(value @ Value::Object(_)) => Ok(Arc::new(value)),
            _ => Err(MetadataDocumentError::Invalid(
                "the document is not a JSON object".into(),
            )),
        };
        let (outcome, seconds) = match self.fetch(url, max_bytes, now, allowance).await {
            Ok((body, max_age)) => match parsed(&body) {
                Ok(value) => (
                    Ok(value),
                    max_age
                        .min(MAX_KEYS_CACHE_SECONDS)
                        .max(self.policy.min_json_cache_seconds),
                ),
                Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
            },
            Err(err) => (Err(err), FAILURE_CACHE_SECONDS),
        };
        if seconds > 0 {
            self.json_documents
                .remember(key, outcome.clone(), now + seconds, now)
                .await;
        }
        outcome
    }

    /// POSTs a form to `url` with the same guards as a fetch (never cached, never
    /// redirected): the HTTP status and the body, at most `max_bytes`.
    pub async fn post_form(
        &self,
        url: &Url,
        form: FormPost,
        max_bytes: usize,
        now: u64,
        allowance: &dyn FetchAllowance,
    ) -> Result<(u16, Vec<u8>), MetadataDocumentError> {
        let _host = self.host_turn(url, now, allowance).await?;
        let _slot = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| MetadataDocumentError::Busy)?;
        let sent = self.send(url, max_bytes, Some(form));
        tokio::time::timeout_at(allowance.deadline(), sent)
            .await
            .unwrap_or_else(|_| Err(MetadataDocumentError::Unreachable("timed out".into())))
            .map(|(status, body, _)| (status, body))
    }

    /// This request's turn at `url`'s host: refused at once while the host is known to
    /// fail; otherwise after the fetch before it (within the budget), unless that one
    /// found the host failing.
    async fn host_turn(
        &self,
        url: &Url,
        now: u64,
        allowance: &dyn FetchAllowance,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, MetadataDocumentError> {
        let host = host_key(url);
        if !self.policy.allow_loopback && url.port().is_some_and(|p| p != 443) {
            return Err(MetadataDocumentError::BadUrl(
                "must use the https default port".into(),
            ));
        }
        let failing = || async {
            match self.failing_hosts.get(&host, now).await {
                Some((Err(err), _)) => Err(err),
                _ => Ok(()),
            }
        };
        failing().await?;
        let lock = {
            let mut locks = self.host_locks.lock().unwrap_or_else(|p| p.into_inner());
            // Locks nobody holds or waits for are dropped as the map grows.
            if locks.len() >= MAX_CACHED_DOCUMENTS {
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            locks.entry(host.clone()).or_default().clone()
        };
        let guard = tokio::time::timeout_at(allowance.deadline(), lock.lock_owned())
            .await
            .map_err(|_| MetadataDocumentError::Unreachable("timed out".into()))?;
        failing().await?;
        Ok(guard)
    }

    async fn fetch(
        &self,
        url: &Url,
        max_bytes: usize,
        now: u64,
        allowance: &dyn FetchAllowance,
    ) -> Result<(Vec<u8>, u64), MetadataDocumentError> {
        let _slot = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| MetadataDocumentError::Busy)?;
        let fetched = async {
            match self.send(url, max_bytes, None).await? {
                (200, body, max_age) => Ok((body, max_age)),
                (status, _, _) => Err(MetadataDocumentError::Fetch(format!(
                    "HTTP status {status}"
                ))),
            }
        };
        let outcome = tokio::time::timeout_at(allowance.deadline(), fetched)
            .await
            .unwrap_or_else(|_| Err(MetadataDocumentError::Unreachable("timed out".into())));
        // The host itself failed (not one document of it): the next request naming any
        // URL there is refused at once for a while, instead of waiting out the budget.
        if let Err(
            err @ (MetadataDocumentError::Unreachable(_) | MetadataDocumentError::PrivateAddress),
        ) = &outcome
        {
            let host = host_key(url);
            self.failing_hosts
                .remember(&host, Err(err.clone()), now + FAILURE_CACHE_SECONDS, now)
                .await;
        }
        outcome
    }

    /// One request to checked addresses only: the status, the body (at most
    /// `max_bytes`) and how long it may be cached.
    async fn send(
        &self,
        url: &Url,
        max_bytes: usize,
        form: Option<FormPost>,
    ) -> Result<(u16, Vec<u8>, u64), MetadataDocumentError> {
        let too_large =
            || MetadataDocumentError::Fetch(format!("larger than {} KB", max_bytes / 1024));
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = self.resolve_once(&host, port).await?;

        let mut builder = reqwest::Client::builder()
            .https_only(!(self.policy.allow_http && self.policy.allow_loopback))
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
            let request = match form {
                None => http.get(url.clone()),
                Some(form) => {
                    let mut post = http
                        .post(url.clone())
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.body);
                    if let Some(authorization) = &form.authorization {
                        post = post.header("authorization", authorization.secret());
                    }
                    post
                }
            };
            let mut resp = request
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| MetadataDocumentError::Unreachable(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
                return Err(too_large());
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
                .map_err(|e| MetadataDocumentError::Unreachable(e.without_url().to_string()))?
            {
                if body.len() + chunk.len() > max_bytes {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, body, max_age))
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
            .map_err(|_| MetadataDocumentError::Unreachable("the host does not resolve".into()))?
            .collect();
        let allowed =
            |ip: IpAddr| is_public_address(ip) || (self.policy.allow_loopback && ip.is_loopback());
        if addrs.is_empty() || !addrs.iter().all(|a| allowed(a.ip())) {
            return Err(MetadataDocumentError::PrivateAddress);
        }
        Ok(addrs)
    }
}

/// A host as the failure memory and the per-host lock know it: with its port when not the
/// scheme's default (identity providers on loopback in local runs differ only by port).
fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
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
                .documents
                .remember(&format!("https://a.example/{i}"), failure(), 1_000 + i, 100)
                .await;
        }
        documents
            .documents
            .remember("https://a.example/new", failure(), 5_000, 100)
            .await;
        let cache = documents.documents.entries.read().await;
        assert_eq!(cache.len(), MAX_CACHED_DOCUMENTS);
        assert!(cache.contains_key("https://a.example/new"));
        assert!(
            !cache.contains_key("https://a.example/0"),
            "it expired soonest"
        );
        assert!(cache.contains_key("https://a.example/1"));
    }

    #[tokio::test]
    async fn only_the_https_default_port_is_fetched() {
        let documents = MetadataDocuments::new(FetchPolicy::default());
        let refused = documents
            .client(
                "https://app.example:8443/client.json",
                100,
                &Unlimited::from_now(),
            )
            .await;
        assert!(
            matches!(refused, Err(MetadataDocumentError::BadUrl(ref why)) if why.contains("default port")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_failing_host_is_refused_at_once_for_any_of_its_urls() {
        let documents = MetadataDocuments::new(FetchPolicy::default());
        let down = MetadataDocumentError::Unreachable("timed out".into());
        documents
            .failing_hosts
            .remember("app.example", Err(down.clone()), 160, 100)
            .await;
        // No DNS lookup, no connection: the remembered failure.
        let refused = documents
            .client(
                "https://APP.example/other.json",
                120,
                &Unlimited::from_now(),
            )
            .await;
        assert_eq!(refused.err(), Some(down));
        let later = documents
            .client(
                "https://app.example/other.json",
                160,
                &Unlimited::from_now(),
            )
            .await;
        assert!(
            !matches!(later, Err(MetadataDocumentError::Unreachable(ref why)) if why == "timed out"),
            "tried again after a minute: {later:?}"
        );
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

    /// RFC 7517 appendix A.1's public EC key.
    fn public_jwk() -> Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})
    }

    #[test]
    fn private_key_jwt_documents_name_their_keys() {
        let remote = parse_document(
            ID,
            &doc(serde_json::json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks_uri": "https://app.example.com/oauth/jwks.json",
            })),
        )
        .unwrap();
        assert!(!remote.is_public());
        let ClientCredential::PrivateKeyJwt { keys, alg } = remote.credential else {
            panic!("not private_key_jwt: {:?}", remote.credential);
        };
        assert!(
            matches!(keys, ClientKeySource::Remote(ref u) if u.as_str() == "https://app.example.com/oauth/jwks.json")
        );
        assert_eq!(alg, Some(jsonwebtoken::Algorithm::RS256));

        let inline = parse_document(
            ID,
            &doc(serde_json::json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [public_jwk()]},
            })),
        )
        .unwrap();
        assert!(matches!(
            inline.credential,
            ClientCredential::PrivateKeyJwt {
                keys: ClientKeySource::Inline(_),
                alg: None
            }
        ));

        let private_key_jwt = |extra: Value| {
            let mut fields = serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"});
            fields
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse_document(ID, &doc(fields))
        };
        for refused in [
            serde_json::json!({}),
            serde_json::json!({"jwks_uri": "http://app.example.com/jwks.json"}),
            serde_json::json!({"jwks_uri": "https://app.example.com/jwks.json", "jwks": {"keys": [public_jwk()]}}),
            serde_json::json!({"jwks_uri": "https://app.example.com/jwks.json", "token_endpoint_auth_signing_alg": "HS256"}),
            serde_json::json!({"jwks_uri": "https://app.example.com/jwks.json", "token_endpoint_auth_signing_alg": "none"}),
            serde_json::json!({"jwks": {"keys": []}}),
        ] {
            assert!(
                matches!(
                    private_key_jwt(refused.clone()),
                    Err(MetadataDocumentError::Invalid(_))
                ),
                "{refused}"
            );
        }
    }

    /// Claude's document lists a grant type this server does not offer: it is ignored,
    /// and the document stays usable.
    #[test]
    fn grants_we_do_not_offer_are_ignored() {
        let client = parse_document(
            ID,
            &doc(serde_json::json!({"grant_types": [
                "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ]})),
        )
        .unwrap();
        assert_eq!(
            client.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
    }
}
