//! What a handler needs, built once per container (or once per local server) and
//! borrowed by every request.

use std::sync::Arc;

use thiserror::Error;

use crate::aws;
use crate::clients::metadata_document::{FetchPolicy, MetadataDocuments};
use crate::clients::preconfigured::{InvalidClients, PreconfiguredClients, PreconfiguredSecrets};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, KeySecret, StoreBackend};
use crate::federation::provider::{LocalProviders, is_loopback_http};
use crate::federation::registry::ProviderRegistry;
use crate::federation::upstream::MAX_PROVIDER_KEYS_BYTES;
use crate::jwks::JwksClient;
use crate::keys::{FormKey, KeyError, KeyRing, KeySet, PublicKeySet, RingKeys, SecretsManagerKeys};
use crate::metrics::Metrics;
use crate::store::dynamo::{DynamoStore, tables};
use crate::store::memory::MemoryStore;
use crate::store::{
    AltaStore, ClientStore, CodeStore, DirectoryStore, IdentityStore, RefreshTokenStore,
    RevocationStore, StoreError, Stores,
};
use crate::token_verifier::TokenVerifier;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Clients(#[from] InvalidClients),
    #[error("{0}")]
    IdentityProviders(String),
}

pub struct Deps {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// The private signing keys: only the token function is given their secret.
    pub signing_keys: Arc<KeyRing<KeySet>>,
    /// Their public half: the JWKS (discovery) and revocation's check of access tokens.
    pub public_keys: Arc<KeyRing<PublicKeySet>>,
    /// The pages' signed forms (authorize).
    pub form_keys: Arc<KeyRing<FormKey>>,
    pub clients: Arc<dyn ClientStore>,
    pub directory: Arc<dyn DirectoryStore>,
    pub identities: Arc<dyn IdentityStore>,
    pub codes: Arc<dyn CodeStore>,
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub alta: Arc<dyn AltaStore>,
    /// Claude, Cursor or whatever `ALTA_PRECONFIGURED_CLIENTS` names.
    pub preconfigured: Arc<PreconfiguredClients>,
    pub client_secrets: Arc<PreconfiguredSecrets>,
    pub metadata_documents: Arc<MetadataDocuments>,
    /// The identity providers' records (kept briefly) and client secrets (authorize).
    pub identity_providers: Arc<ProviderRegistry>,
    /// Fetches from identity providers: the metadata-document guards, with loopback http
    /// allowed only when this server itself runs on loopback http.
    pub provider_fetcher: Arc<MetadataDocuments>,
    /// The local server's `ALTA_IDENTITY_PROVIDERS`, for `federation::seed` at start.
    pub local_providers: Arc<LocalProviders>,
    /// `/mcp`'s check of access tokens: the trusted issuer's keys and the tokens it has
    /// already verified in this container.
    pub token_verifier: Arc<TokenVerifier>,
    pub metrics: Metrics,
    /// argon2id verifications at once: each holds ~19 MiB for tens of milliseconds, and a
    /// burst of sign-ins must not take the local server's memory with it.
    pub password_checks: Arc<tokio::sync::Semaphore>,
}

/// Parallel password verifications per container (Lambda runs one request at a time).
const PASSWORD_CHECKS: usize = 4;

fn provider_fetcher(config: &Config) -> Arc<MetadataDocuments> {
    let local = is_loopback_http(&config.base_url);
    Arc::new(MetadataDocuments::new(FetchPolicy {
        allow_loopback: local,
        allow_http: local,
        trusted_ca_pem: None,
        max_key_set_bytes: Some(MAX_PROVIDER_KEYS_BYTES),
        min_json_cache_seconds: 15 * 60,
    }))
}

fn metadata_documents(config: &Config) -> Arc<MetadataDocuments> {
    Arc::new(MetadataDocuments::new(FetchPolicy {
        allow_loopback: config.cimd_allow_loopback,
        trusted_ca_pem: config.cimd_trusted_ca_pem.clone(),
        ..FetchPolicy::default()
    }))
}

/// One backend seen through each store trait.
struct StoreSet {
    clients: Arc<dyn ClientStore>,
    directory: Arc<dyn DirectoryStore>,
    identities: Arc<dyn IdentityStore>,
    codes: Arc<dyn CodeStore>,
    refresh_tokens: Arc<dyn RefreshTokenStore>,
    revocations: Arc<dyn RevocationStore>,
    alta: Arc<dyn AltaStore>,
}

impl StoreSet {
    fn of<S: Stores + 'static>(store: Arc<S>) -> Self {
        Self {
            clients: store.clone(),
            directory: store.clone(),
            identities: store.clone(),
            codes: store.clone(),
            refresh_tokens: store.clone(),
            revocations: store.clone(),
            alta: store,
        }
    }
}

impl Deps {
    /// A Lambda cold start: configuration from the environment, AWS clients built once.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::from_config(Config::from_env()?, false).await
    }

    /// Builds every dependency the configuration asks for. With `create_tables`, missing
    /// DynamoDB tables are created first (local runs against dynalite or DynamoDB Local).
    pub async fn from_config(config: Config, create_tables: bool) -> Result<Self, StartupError> {
        let preconfigured =
            PreconfiguredClients::from_setting(config.preconfigured_clients.as_deref())?;
        let local_providers = local_providers(&config)?;
        let local_endpoint = matches!(&config.store, StoreBackend::DynamoDb { endpoint: Some(_) })
            || config.secretsmanager_endpoint.is_some();
        let needs_aws = matches!(config.store, StoreBackend::DynamoDb { .. })
            || [&config.signing_keys, &config.public_keys, &config.form_key]
                .iter()
                .any(|k| matches!(k, KeySecret::SecretsManager { .. }))
            || preconfigured.any_confidential()
            || config.identity_provider_secret_id.is_some();
        if config.measure_aws_calls {
            crate::aws_calls::enable();
        }
        let https_elsewhere = match &config.store {
            StoreBackend::DynamoDb { endpoint: Some(e) } => e.starts_with("https://"),
            _ => false,
        } || config
            .secretsmanager_endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("https://"));
        let sdk = if needs_aws {
            Some(aws::sdk_config_with(local_endpoint, https_elsewhere).await)
        } else {
            None
        };
        let secrets_client = sdk
            .as_ref()
            .map(|sdk| aws::secretsmanager_client(sdk, config.secretsmanager_endpoint.as_deref()));

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Generated only when no key secret is configured at all and this is no Lambda
        // function (`Config`): then the three are one process's own.
        let generated = match config.signing_keys {
            KeySecret::Generated => Some(KeySet::generate(clock.now())?),
            _ => None,
        };
        let form = match config.form_key {
            KeySecret::Generated => Some(FormKey::generate()?),
            _ => None,
        };
        let (sm, ttl) = (secrets_client.as_ref(), config.signing_key_cache_ttl);
        let keys = Keys {
            public: key_ring(
                &config.public_keys,
                sm,
                ttl,
                generated.as_ref().map(KeySet::public),
            ),
            form: key_ring(&config.form_key, sm, ttl, form),
            signing: key_ring(&config.signing_keys, sm, ttl, generated),
        };

        let stores = match (&config.store, &sdk) {
            (StoreBackend::DynamoDb { endpoint }, Some(sdk)) => {
                let client = aws::dynamodb_client(sdk, endpoint.as_deref());
                if create_tables {
                    tables::ensure_tables(&client, &config.tables).await?;
                }
                StoreSet::of(Arc::new(DynamoStore::new(client, config.tables.clone())))
            }
            _ => StoreSet::of(Arc::new(MemoryStore::new())),
        };

        let jwks = JwksClient::new(config.jwks_url.clone(), config.jwks_cache_ttl);
        Ok(Self::assemble(
            config,
            clock,
            keys,
            stores,
            (preconfigured, secrets_client),
            jwks,
            local_providers,
        ))
    }

    /// The same dependencies on other stores: every concern seen through `stores` (tests
    /// that put a fault injector in front of the real ones).
    pub fn with_stores<S: Stores + 'static>(mut self, stores: Arc<S>) -> Self {
        let set = StoreSet::of(stores);
        self.clients = set.clients;
        self.directory = set.directory;
        self.identities = set.identities;
        self.codes = set.codes;
        self.refresh_tokens = set.refresh_tokens;
        self.revocations = set.revocations;
        self.alta = set.alta;
        self
    }

    /// The same dependencies on another clock (tests that need time to pass).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Everything in memory, with a fresh key: unit and flow tests.
    pub fn in_memory(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        let key_set = KeySet::generate(clock.now())?;
        let jwks = JwksClient::primed(
            config.jwks_url.clone(),
            config.jwks_cache_ttl,
            key_set.verification_keys().clone(),
        );
        let keys = Keys {
            public: KeyRing::fixed(key_set.public()),
            form: KeyRing::fixed(FormKey::generate()?),
            signing: KeyRing::fixed(key_set),
        };
        let stores = StoreSet::of(Arc::new(MemoryStore::new()));
        let preconfigured =
            PreconfiguredClients::from_setting(config.preconfigured_clients.as_deref())?;
        let local_providers = local_providers(&config)?;
        Ok(Self::assemble(
            config,
            clock,
            keys,
            stores,
            (preconfigured, None),
            jwks,
            local_providers,
        ))
    }

    fn assemble(
        config: Config,
        clock: Arc<dyn Clock>,
        keys: Keys,
        stores: StoreSet,
        (preconfigured, secrets_client): (
            PreconfiguredClients,
            Option<aws_sdk_secretsmanager::Client>,
        ),
        jwks: JwksClient,
        local_providers: LocalProviders,
    ) -> Self {
        let identity_providers = ProviderRegistry::new(
            local_providers.secrets.clone(),
            config.identity_provider_secret_id.clone(),
            secrets_client.clone(),
        );
        Self {
            clock,
            signing_keys: Arc::new(keys.signing),
            public_keys: Arc::new(keys.public),
            form_keys: Arc::new(keys.form),
            clients: stores.clients,
            directory: stores.directory,
            identities: stores.identities,
            codes: stores.codes,
            refresh_tokens: stores.refresh_tokens,
            revocations: stores.revocations,
            alta: stores.alta,
            preconfigured: Arc::new(preconfigured),
            client_secrets: Arc::new(PreconfiguredSecrets::new(secrets_client)),
            metadata_documents: metadata_documents(&config),
            identity_providers: Arc::new(identity_providers),
            provider_fetcher: provider_fetcher(&config),
            local_providers: Arc::new(local_providers),
            token_verifier: Arc::new(TokenVerifier::new(jwks)),
            metrics: Metrics::new(config.metrics_namespace.clone()),
            password_checks: Arc::new(tokio::sync::Semaphore::new(PASSWORD_CHECKS)),
            config: Arc::new(config),
        }
    }
}

fn local_providers(config: &Config) -> Result<LocalProviders, StartupError> {
    config
        .identity_providers
        .as_deref()
        .map(|json| LocalProviders::parse(json, &config.base_url))
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(StartupError::IdentityProviders)
}

/// The three key rings, before they are shared.
struct Keys {
    signing: KeyRing<KeySet>,
    public: KeyRing<PublicKeySet>,
    form: KeyRing<FormKey>,
}

/// One kind of key, from its secret, or the process's own generated one.
fn key_ring<T: RingKeys>(
    source: &KeySecret,
    client: Option<&aws_sdk_secretsmanager::Client>,
    ttl: std::time::Duration,
    generated: Option<T>,
) -> KeyRing<T> {
    match (source, client) {
        (KeySecret::SecretsManager { secret_id }, Some(client)) => KeyRing::from_secrets_manager(
            SecretsManagerKeys {
                client: client.clone(),
                secret_id: secret_id.clone(),
            },
            ttl,
        ),
        (KeySecret::Generated, _) => generated.map_or_else(KeyRing::absent, KeyRing::fixed),
        // A secret with no client cannot happen (`needs_aws`); absent is never generated.
        (KeySecret::SecretsManager { .. } | KeySecret::Absent, _) => KeyRing::absent(),
    }
}
