//! A bounded per-container cache of fetched documents and key sets, and of failures.

use super::*;

/// A remembered fetch: a document's client or a key set, or why it cannot be used.
pub(super) struct Cached<T> {
    pub(super) outcome: Result<T, MetadataDocumentError>,
    pub(super) until: u64,
    pub(super) fetched_at: u64,
}

/// At most [`MAX_CACHED_DOCUMENTS`] entries; past that, the ones that expire soonest make room.
pub(super) struct BoundedCache<T> {
    pub(super) entries: RwLock<HashMap<String, Cached<T>>>,
}

impl<T: Clone> BoundedCache<T> {
    pub(super) fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The live entry for `key`: its outcome and when it was fetched.
    pub(super) async fn get(
        &self,
        key: &str,
        now: u64,
    ) -> Option<(Result<T, MetadataDocumentError>, u64)> {
        self.entries
            .read()
            .await
            .get(key)
            .filter(|cached| cached.until > now)
            .map(|cached| (cached.outcome.clone(), cached.fetched_at))
    }

    pub(super) async fn remember(
        &self,
        key: &str,
        outcome: Result<T, MetadataDocumentError>,
        until: u64,
        now: u64,
    ) {
        let mut entries = self.entries.write().await;
        if entries.len() >= MAX_CACHED_DOCUMENTS && !entries.contains_key(key) {
            entries.retain(|_, cached| cached.until > now);
            while entries.len() >= MAX_CACHED_DOCUMENTS {
                let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, cached)| cached.until)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                entries.remove(&soonest);
            }
        }
        entries.insert(
            key.to_owned(),
            Cached {
                outcome,
                until,
                fetched_at: now,
            },
        );
    }
}
