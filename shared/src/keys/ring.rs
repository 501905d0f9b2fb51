//! A per-container cache of one key secret, whatever it holds (the signing key set, its
//! public half, the form key): read on first use, so that a function that never signs
//! never reads the secret, and again after a TTL so that rotations reach warm containers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use super::KeyError;

/// What a key secret holds, parsed.
pub trait RingKeys: Sized + Send + Sync + 'static {
    /// What the secret is called in logs.
    const WHAT: &'static str;
    fn from_secret(value: &str) -> Result<Self, KeyError>;
    /// Whether something signed with key `kid` can be verified with these keys.
    fn knows_kid(&self, kid: &str) -> bool;
}

/// Reads one key secret from Secrets Manager.
#[derive(Clone)]
pub struct SecretsManagerKeys {
    pub client: aws_sdk_secretsmanager::Client,
    pub secret_id: String,
}

impl SecretsManagerKeys {
    pub async fn load<T: RingKeys>(&self) -> Result<T, KeyError> {
        let value = super::secret_string(Some(&self.client), &self.secret_id)
            .await?
            .ok_or_else(|| KeyError::InvalidSecret("the secret has no string value".into()))?;
        T::from_secret(&value)
    }
}

enum KeySource {
    Fixed,
    /// This function was given no such secret (deployed functions get only the ones they
    /// use): asking for it is a bug, answered as unavailable.
    Absent,
    SecretsManager(SecretsManagerKeys),
}

/// The keys as one container sees them. If a re-read fails, the keys already held keep
/// working; if the first read fails (an empty or unreadable secret), callers get the
/// error, and the secret is read again only after `RETRY_AFTER_FAILURE`, not on every
/// request.
pub struct KeyRing<T> {
    source: KeySource,
    ttl: Duration,
    state: RwLock<RingState<T>>,
}

struct RingState<T> {
    keys: Option<(Arc<T>, Instant)>,
    failure: Option<(KeyError, Instant)>,
    /// The last read for a key id the held set lacks.
    forced_at: Option<Instant>,
}

impl<T> Default for RingState<T> {
    fn default() -> Self {
        Self {
            keys: None,
            failure: None,
            forced_at: None,
        }
    }
}

impl<T> RingState<T> {
    fn fresh(&self, ttl: Duration) -> Option<Arc<T>> {
        self.keys
            .as_ref()
            .filter(|(_, loaded)| loaded.elapsed() < ttl)
            .map(|(keys, _)| keys.clone())
    }

    fn failed_recently(&self, ttl: Duration) -> Option<KeyError> {
        let retry = RETRY_AFTER_FAILURE.min(ttl);
        self.failure
            .as_ref()
            .filter(|(_, at)| at.elapsed() < retry)
            .map(|(err, _)| err.clone())
    }
}

/// After a failed read, the next one waits this long (or the key cache's TTL, if shorter).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// A token or form naming an unknown key re-reads the secret at most this often.
pub const MIN_FORCED_REFRESH: Duration = Duration::from_secs(30);

impl<T: RingKeys> KeyRing<T> {
    pub fn fixed(keys: T) -> Self {
        Self {
            source: KeySource::Fixed,
            ttl: Duration::MAX,
            state: RwLock::new(RingState {
                keys: Some((Arc::new(keys), Instant::now())),
                ..RingState::default()
            }),
        }
    }

    pub fn absent() -> Self {
        Self {
            source: KeySource::Absent,
            ttl: Duration::MAX,
            state: RwLock::new(RingState::default()),
        }
    }

    pub fn from_secrets_manager(source: SecretsManagerKeys, ttl: Duration) -> Self {
        Self {
            source: KeySource::SecretsManager(source),
            ttl,
            state: RwLock::new(RingState::default()),
        }
    }

    pub async fn current(&self) -> Result<Arc<T>, KeyError> {
        if let Some(keys) = self.state.read().await.fresh(self.ttl) {
            return Ok(keys);
        }
        let mut state = self.state.write().await;
        // Another task may have refreshed while this one waited for the lock.
        if let Some(keys) = state.fresh(self.ttl) {
            return Ok(keys);
        }
        self.load(&mut state).await
    }

    /// The keys to verify something signed with key `kid`: re-read first (at most every
    /// `MIN_FORCED_REFRESH`) when they lack that key, which may have been published since
    /// this container last read the secret.
    pub async fn with_kid(&self, kid: Option<&str>) -> Result<Arc<T>, KeyError> {
        let keys = self.current().await?;
        let Some(kid) = kid else {
            return Ok(keys);
        };
        if keys.knows_kid(kid) {
            return Ok(keys);
        }
        let mut state = self.state.write().await;
        if state
            .forced_at
            .is_some_and(|t| t.elapsed() < MIN_FORCED_REFRESH)
        {
            return Ok(keys);
        }
        state.forced_at = Some(Instant::now());
        self.load(&mut state).await
    }

    async fn load(&self, state: &mut RingState<T>) -> Result<Arc<T>, KeyError> {
        let source = match &self.source {
            KeySource::SecretsManager(source) => source,
            KeySource::Fixed => {
                return state
                    .keys
                    .as_ref()
                    .map(|(k, _)| k.clone())
                    .ok_or(KeyError::Empty);
            }
            KeySource::Absent => {
                return Err(KeyError::Unavailable(format!(
                    "this function is given no {} secret",
                    T::WHAT
                )));
            }
        };
        if let Some(err) = state.failed_recently(self.ttl) {
            return match &state.keys {
                Some((keys, _)) => Ok(keys.clone()),
                None => Err(err),
            };
        }
        match source.load::<T>().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                state.keys = Some((keys.clone(), Instant::now()));
                state.failure = None;
                Ok(keys)
            }
            Err(err) => {
                state.failure = Some((err.clone(), Instant::now()));
                match &state.keys {
                    Some((keys, _)) => {
                        tracing::warn!(error = %err, secret = %source.secret_id, what = T::WHAT, "keeping the cached keys: re-reading the secret failed");
                        Ok(keys.clone())
                    }
                    None => {
                        tracing::error!(error = %err, secret = %source.secret_id, what = T::WHAT, "no key: requests that need one answer 503 until the secret holds one (tried again in 30 s)");
                        Err(err)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{FormKey, KeySet};

    #[tokio::test]
    async fn fixed_ring_serves_its_keys() {
        let set = KeySet::generate(1).unwrap();
        let kid = set.newest_key().kid().to_owned();
        let ring = KeyRing::fixed(set);
        assert_eq!(ring.current().await.unwrap().newest_key().kid(), kid);
    }

    #[tokio::test]
    async fn an_absent_secret_is_unavailable_never_a_fresh_key() {
        let ring = KeyRing::<FormKey>::absent();
        assert!(matches!(
            ring.current().await,
            Err(KeyError::Unavailable(_))
        ));
    }
}
