//! The providers a container knows: their records, read from the directory and kept
//! briefly (every sign-in page lists them), and their client secrets, from the local
//! server's own list or the Secrets Manager secret only the authorize function reads.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::RwLock;

use super::provider::IdentityProvider;
use crate::keys::KeyError;
use crate::secret::SecretString;

/// How long a container keeps the provider records: a provider added with `alta-admin`
/// shows on sign-in pages within this.
pub const RECORDS_CACHE_SECONDS: u64 = 30;
/// How long it keeps the client secrets; a provider it has no secret for reads them again
/// (at most this often).
pub const SECRETS_CACHE_SECONDS: u64 = 300;
const SECRETS_REFETCH_SECONDS: u64 = 10;

pub struct ProviderRegistry {
    records: RwLock<Option<(u64, Arc<Vec<IdentityProvider>>)>>,
    /// The local server's secrets (`ALTA_IDENTITY_PROVIDERS`).
    fixed_secrets: HashMap<String, SecretString>,
    secret_id: Option<String>,
    client: Option<aws_sdk_secretsmanager::Client>,
    /// (read at, secrets by provider id)
    stored_secrets: RwLock<Option<(u64, HashMap<String, SecretString>)>>,
}

impl ProviderRegistry {
    pub fn new(
        fixed_secrets: HashMap<String, SecretString>,
        secret_id: Option<String>,
        client: Option<aws_sdk_secretsmanager::Client>,
    ) -> Self {
        Self {
            records: RwLock::new(None),
            fixed_secrets,
            secret_id,
            client,
            stored_secrets: RwLock::new(None),
        }
    }

    /// Every provider, from `read` (the store) at most every [`RECORDS_CACHE_SECONDS`].
    pub async fn all<E>(
        &self,
        now: u64,
        read: impl Future<Output = Result<Vec<IdentityProvider>, E>>,
    ) -> Result<Arc<Vec<IdentityProvider>>, E> {
        if let Some((until, records)) = self.records.read().await.as_ref()
            && *until > now
        {
            return Ok(records.clone());
        }
        let mut providers = read.await?;
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        let providers = Arc::new(providers);
        *self.records.write().await = Some((now + RECORDS_CACHE_SECONDS, providers.clone()));
        Ok(providers)
    }

    /// The client secret Alta holds for `provider_id`.
    pub async fn secret_of(&self, provider_id: &str, now: u64) -> Result<SecretString, KeyError> {
        if let Some(secret) = self.fixed_secrets.get(provider_id) {
            return Ok(secret.clone());
        }
        let missing = || {
            KeyError::InvalidSecret(format!(
                "no client secret is configured for identity provider {provider_id}"
            ))
        };
        let Some(secret_id) = &self.secret_id else {
            return Err(missing());
        };
        if let Some((read_at, secrets)) = self.stored_secrets.read().await.as_ref() {
            let fresh = read_at + SECRETS_CACHE_SECONDS > now;
            match secrets.get(provider_id) {
                Some(secret) if fresh => return Ok(secret.clone()),
                None if read_at + SECRETS_REFETCH_SECONDS > now => return Err(missing()),
                _ => {}
            }
        }
        let secrets = self.read_secrets(secret_id).await?;
        let found = secrets.get(provider_id).cloned();
        *self.stored_secrets.write().await = Some((now, secrets));
        found.ok_or_else(missing)
    }

    async fn read_secrets(
        &self,
        secret_id: &str,
    ) -> Result<HashMap<String, SecretString>, KeyError> {
        let value = crate::keys::secret_string(self.client.as_ref(), secret_id).await?;
        parse_secrets(value.as_deref().unwrap_or("{}"))
    }
}

/// The secret's JSON object, provider id → client secret.
pub fn parse_secrets(json: &str) -> Result<HashMap<String, SecretString>, KeyError> {
    let map: HashMap<String, String> = serde_json::from_str(json).map_err(|_| {
        KeyError::InvalidSecret(
            "the identity provider secret is not a JSON object of strings".into(),
        )
    })?;
    Ok(map
        .into_iter()
        .map(|(id, secret)| (id, SecretString::new(secret)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_a_json_object_of_strings() {
        let secrets = parse_secrets(r#"{"okta":"s1","google":"s2"}"#).unwrap();
        assert_eq!(secrets["okta"].secret(), "s1");
        assert!(parse_secrets(r#"{"okta":1}"#).is_err());
        assert!(parse_secrets("[]").is_err());
    }

    #[tokio::test]
    async fn records_are_kept_briefly_and_secrets_come_from_the_local_list() {
        let registry = ProviderRegistry::new(
            HashMap::from([("p".to_owned(), SecretString::new("s"))]),
            None,
            None,
        );
        let read = |found: Vec<IdentityProvider>| async move { Ok::<_, ()>(found) };
        assert!(registry.all(100, read(vec![])).await.unwrap().is_empty());
        let provider: IdentityProvider = serde_json::from_str(
            r#"{"id":"p","display_name":"P","issuer":"https://p.example","client_id":"c","domains":["p.example"]}"#,
        )
        .unwrap();
        let stored = || read(vec![provider.clone()]);
        let kept = registry
            .all(100 + RECORDS_CACHE_SECONDS - 1, stored())
            .await;
        assert!(kept.unwrap().is_empty(), "kept");
        let read_again = registry.all(100 + RECORDS_CACHE_SECONDS, stored()).await;
        assert_eq!(*read_again.unwrap(), [provider]);
        assert_eq!(registry.secret_of("p", 0).await.unwrap().secret(), "s");
        assert!(registry.secret_of("q", 0).await.is_err());
    }
}
