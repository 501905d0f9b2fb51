//! JSON Web Key Sets (RFC 7517): what the discovery function publishes and what the MCP
//! function verifies tokens with.

use std::collections::HashMap;

use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    #[serde(default)]
    pub x: String,
    #[serde(default)]
    pub y: String,
    #[serde(default)]
    pub kid: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    pub fn es256(kid: &str, x: &str, y: &str) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: x.into(),
            y: y.into(),
            kid: kid.into(),
            key_use: Some("sig".into()),
            alg: Some("ES256".into()),
        }
    }

    /// Only P-256 signature keys can verify our ES256 tokens; anything else a foreign
    /// issuer publishes (RSA keys, encryption keys) is skipped, not an error.
    fn es256_decoding_key(&self) -> Option<DecodingKey> {
        let usable = self.kty == "EC"
            && self.crv == "P-256"
            && !self.kid.is_empty()
            && self.key_use.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == "ES256");
        if !usable {
            return None;
        }
        DecodingKey::from_ec_components(&self.x, &self.y).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The keys a verifier trusts, by `kid`.
#[derive(Clone, Default)]
pub struct VerificationKeys(HashMap<String, DecodingKey>);

impl VerificationKeys {
    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.0.get(kid)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for VerificationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl From<&Jwks> for VerificationKeys {
    fn from(jwks: &Jwks) -> Self {
        Self(
            jwks.keys
                .iter()
                .filter_map(|jwk| Some((jwk.kid.clone(), jwk.es256_decoding_key()?)))
                .collect(),
        )
    }
}

/// Whether a JWKS URL is served under a certificate Amazon's roots vouch for: API
/// Gateway's own `execute-api` hostnames (a custom domain may carry an imported
/// certificate from another CA), or plain http (no certificate at all).
fn amazon_roots_suffice(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(url) if url.scheme() == "http" => true,
        Ok(url) => url.host_str().is_some_and(|host| {
            let labels: Vec<&str> = host.split('.').collect();
            labels.len() >= 5
                && labels[1] == "execute-api"
                && labels[labels.len() - 2..] == ["amazonaws", "com"]
        }),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    #[test]
    fn published_jwk_has_the_rfc7517_members() {
        let set = KeySet::generate(1).unwrap();
        let json = serde_json::to_value(set.jwks()).unwrap();
        let key = &json["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["kid"], set.newest_key().kid());
        assert!(
            key.get("d").is_none(),
            "the private key must never be published"
        );
    }

    #[test]
    fn foreign_keys_are_skipped_not_fatal() {
        let set = KeySet::generate(1).unwrap();
        let mut jwks = set.jwks();
        jwks.keys.push(Jwk {
            kty: "RSA".into(),
            crv: String::new(),
            x: String::new(),
            y: String::new(),
            kid: "rsa-1".into(),
            key_use: Some("sig".into()),
            alg: Some("RS256".into()),
        });
        let mut enc = set.jwks().keys[0].clone();
        enc.kid = "enc-1".into();
        enc.key_use = Some("enc".into());
        jwks.keys.push(enc);
        let keys = VerificationKeys::from(&jwks);
        assert_eq!(keys.len(), 1);
        assert!(keys.get(set.newest_key().kid()).is_some());
    }

    #[test]
    fn jwks_parses_from_a_foreign_issuer_with_extra_members() {
        let set = KeySet::generate(1).unwrap();
        let mut json = serde_json::to_value(set.jwks()).unwrap();
        json["keys"][0]["x5t"] = "ignored".into();
        let parsed: Jwks = serde_json::from_value(json).unwrap();
        assert_eq!(VerificationKeys::from(&parsed).len(), 1);
    }
}

/// The verifier's view of an issuer's JWKS: fetched over HTTP(S) on first use, kept for
/// `max_age`, fetched again early when a token names an unknown `kid` (a rotation) but
/// at most every `MIN_REFRESH_INTERVAL`, so that forged `kid`s cannot make the server
/// hammer the issuer. A failed fetch keeps the keys already held.
pub struct JwksClient {
    url: String,
    /// How long fetched keys are trusted (`Config::jwks_cache_ttl`).
    max_age: std::time::Duration,
    /// Built on first fetch: building it loads the system's CA certificates, which would
    /// otherwise cost every function's cold start tens of milliseconds.
    http: std::sync::OnceLock<reqwest::Client>,
    state: tokio::sync::Mutex<JwksState>,
}

#[derive(Default)]
struct JwksState {
    keys: Option<std::sync::Arc<VerificationKeys>>,
    fetched_at: Option<std::time::Instant>,
    attempted_at: Option<std::time::Instant>,
}

#[derive(Debug, thiserror::Error)]
#[error("the issuer's keys could not be fetched: {0}")]
pub struct JwksError(String);

impl JwksClient {
    pub const MIN_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

    pub fn new(url: String, max_age: std::time::Duration) -> Self {
        Self {
            url,
            max_age,
            http: std::sync::OnceLock::new(),
            state: tokio::sync::Mutex::new(JwksState::default()),
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            let mut builder = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none());
            // This stack's own issuer behind API Gateway (or plain http, locally) needs
            // only Amazon's roots, not the system's whole store, which costs a cold start
            // milliseconds to load; any other issuer keeps the system's roots.
            if amazon_roots_suffice(&self.url)
                && let Ok(roots) = reqwest::Certificate::from_pem_bundle(crate::aws::AMAZON_ROOTS)
            {
                builder = builder.tls_certs_only(roots);
            }
            builder.build().unwrap_or_default()
        })
    }

    /// A client that already holds `keys` (tests whose issuer is not reachable over HTTP);
    /// it still fetches when a token names a key it lacks.
    pub fn primed(url: String, max_age: std::time::Duration, keys: VerificationKeys) -> Self {
        let client = Self::new(url, max_age);
        if let Ok(mut state) = client.state.try_lock() {
            state.keys = Some(std::sync::Arc::new(keys));
            state.fetched_at = Some(std::time::Instant::now());
        }
        client
    }

    /// The keys to verify with: cached, or fetched when none are held or they are old.
    pub async fn keys(&self) -> Result<std::sync::Arc<VerificationKeys>, JwksError> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < self.max_age);
        match (&state.keys, fresh) {
            (Some(keys), true) => Ok(keys.clone()),
            _ => self.fetch_into(&mut state).await,
        }
    }

    /// Called when a token names a `kid` the held keys lack.
    pub async fn refresh_for_unknown_kid(
        &self,
    ) -> Result<std::sync::Arc<VerificationKeys>, JwksError> {
        let mut state = self.state.lock().await;
        let recently = state
            .attempted_at
            .is_some_and(|t| t.elapsed() < Self::MIN_REFRESH_INTERVAL);
        match (&state.keys, recently) {
            (Some(keys), true) => Ok(keys.clone()),
            _ => self.fetch_into(&mut state).await,
        }
    }

    async fn fetch_into(
        &self,
        state: &mut JwksState,
    ) -> Result<std::sync::Arc<VerificationKeys>, JwksError> {
        state.attempted_at = Some(std::time::Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let keys = std::sync::Arc::new(keys);
                state.keys = Some(keys.clone());
                state.fetched_at = Some(std::time::Instant::now());
                Ok(keys)
            }
            Err(err) => match &state.keys {
                Some(keys) => {
                    tracing::warn!(error = %err, "JWKS fetch failed; keeping the keys already held");
                    Ok(keys.clone())
                }
                None => Err(err),
            },
        }
    }

    async fn fetch(&self) -> Result<VerificationKeys, JwksError> {
        let started = std::time::Instant::now();
        let fetched = self.fetch_unmeasured().await;
        crate::aws_calls::record("HTTP.GetJwks", started);
        fetched
    }

    async fn fetch_unmeasured(&self) -> Result<VerificationKeys, JwksError> {
        let resp = self
            .http()
            .get(&self.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| JwksError(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(JwksError(format!("HTTP status {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(|e| JwksError(e.to_string()))?;
        if bytes.len() > 64 * 1024 {
            return Err(JwksError("the JWKS is larger than 64 KiB".into()));
        }
        let jwks: Jwks = serde_json::from_slice(&bytes).map_err(|e| JwksError(e.to_string()))?;
        Ok(VerificationKeys::from(&jwks))
    }
}

#[cfg(test)]
mod trust_tests {
    use super::amazon_roots_suffice;

    #[test]
    fn amazon_roots_are_enough_for_execute_api_and_http_only() {
        assert!(amazon_roots_suffice(
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/.well-known/jwks.json"
        ));
        assert!(amazon_roots_suffice(
            "http://127.0.0.1:3000/.well-known/jwks.json"
        ));
        assert!(!amazon_roots_suffice(
            "https://mcp.alta.example/.well-known/jwks.json"
        ));
        assert!(!amazon_roots_suffice("https://login.example.com/jwks"));
        assert!(!amazon_roots_suffice(
            "https://execute-api.eu-west-1.amazonaws.com.evil.example/jwks"
        ));
    }
}
