//! Everything the functions and the local server read from the environment, in one struct.
//!
//! `Config::from_env()` is what a Lambda cold start calls; `Config::from_lookup` takes any
//! lookup function so tests pass a map instead of mutating the process environment.

use std::collections::BTreeSet;
use std::time::Duration;

use thiserror::Error;

use crate::scope::Scope;

mod base_url;
pub mod settings;

pub use base_url::BaseUrl;
pub use settings::{SETTINGS, Setting, TokenLifetimes};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name} is required")]
    Missing { name: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the stores keep their data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// In-process maps: the local server's default and the fast unit tests' store.
    Memory,
    /// DynamoDB, at the SDK's regional endpoint or at `endpoint` (dynalite, moto, DynamoDB Local).
    DynamoDb { endpoint: Option<String> },
}

/// The DynamoDB table of each concern; separate tables so that each function's IAM policy
/// names only what it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub clients: String,
    pub authorization_codes: String,
    pub refresh_tokens: String,
    pub revocations: String,
    pub directory: String,
    pub alta_data: String,
}

impl TableNames {
    fn with_prefix(prefix: &str) -> Self {
        Self {
            clients: format!("{prefix}clients"),
            authorization_codes: format!("{prefix}authorization-codes"),
            refresh_tokens: format!("{prefix}refresh-tokens"),
            revocations: format!("{prefix}revocations"),
            directory: format!("{prefix}directory"),
            alta_data: format!("{prefix}alta-data"),
        }
    }
}

/// Where one kind of key comes from: the signing key set, its public half, the form key
/// (`keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySecret {
    /// Fresh keys generated at start: the local server and tests (tokens die with the
    /// process). Only when no key secret at all is configured.
    Generated,
    /// A deployed function given other key secrets but not this one: it never uses it.
    Absent,
    /// A Secrets Manager secret.
    SecretsManager { secret_id: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `ALTA_BASE_URL`: the public base URL. Required unless `default_base_url` is given
    /// (the local server derives it from its port).
    pub base_url: BaseUrl,
    /// `ALTA_STORE` (`memory` | `dynamodb`) and `ALTA_DYNAMODB_ENDPOINT`.
    pub store: StoreBackend,
    /// `ALTA_CREATE_TABLES`: the local server creates missing tables at start.
    pub create_tables: bool,
    /// `ALTA_TABLE_PREFIX` (default `alta-`) or one `ALTA_<NAME>_TABLE` per table.
    pub tables: TableNames,
    /// `ALTA_SIGNING_KEY_SECRET_ID`: the private signing key set (the token function).
    /// With none of the three key secrets set, every key is generated at start.
    pub signing_keys: KeySecret,
    /// `ALTA_PUBLIC_KEYS_SECRET_ID`: its public half (discovery, revoke; the rotation
    /// writes it).
    pub public_keys: KeySecret,
    /// `ALTA_FORM_KEY_SECRET_ID`: the key of the pages' signed forms (authorize).
    pub form_key: KeySecret,
    /// `ALTA_SECRETSMANAGER_ENDPOINT`: an alternative Secrets Manager endpoint (tests: moto).
    pub secretsmanager_endpoint: Option<String>,
    /// `ALTA_SIGNING_KEY_CACHE_SECONDS` (default 300): how long a container trusts its
    /// cached key set before reading the secret again, so that a rotation reaches warm
    /// containers; also the JWKS document's `max-age`.
    pub signing_key_cache_ttl: Duration,
    /// `ALTA_JWKS_CACHE_SECONDS` (default 600): how long `/mcp` keeps the issuer's JWKS.
    pub jwks_cache_ttl: Duration,
    /// Access and refresh token lifetimes.
    pub tokens: TokenLifetimes,
    /// `ALTA_METRICS_NAMESPACE`: the CloudWatch namespace of the embedded-format metrics
    /// written to standard output; unset (the local server) writes none.
    pub metrics_namespace: Option<String>,
    /// `ALTA_PRECONFIGURED_CLIENTS`: a JSON array of pre-configured clients (read by
    /// `clients::preconfigured`); unset, the vendors' defaults there.
    pub preconfigured_clients: Option<String>,
    /// `ALTA_IDENTITY_PROVIDER_SECRET_ID`: the Secrets Manager secret holding identity
    /// providers' client secrets, a JSON object keyed by provider id (the authorize
    /// function's only).
    pub identity_provider_secret_id: Option<String>,
    /// `ALTA_IDENTITY_PROVIDERS`: the local server's providers, loaded at start
    /// (`federation::provider::LocalProviders`).
    pub identity_providers: Option<String>,
    /// Not configurable: scopes are part of the contract (docs/oauth.md).
    pub scopes_supported: BTreeSet<Scope>,
    /// `ALTA_ALLOWED_ORIGINS`: comma-separated browser origins allowed to call `/mcp`.
    pub allowed_origins: Vec<String>,
    /// `ALTA_CLIENT_IDLE_EXPIRY_DAYS` (default 90): an unused dynamic registration expires.
    pub client_idle_expiry: Duration,
    /// `ALTA_ISSUER`: the only issuer whose access tokens `/mcp` accepts (default `<BASE>`;
    /// another value puts an external identity provider in this server's place).
    pub trusted_issuer: String,
    /// `ALTA_JWKS_URL`: where that issuer publishes its keys (default
    /// `<issuer>/.well-known/jwks.json`).
    pub jwks_url: String,
    /// `ALTA_DEMO_PASSWORD` (default `alta-demo`): the local server's demo sign-ins.
    pub demo_password: String,
    /// Test-only: `ALTA_CIMD_ALLOW_LOOPBACK` lets metadata documents be fetched from loopback.
    pub cimd_allow_loopback: bool,
    /// Test-only: `ALTA_CIMD_TRUSTED_CA_PEM` (PEM text or a file path): the only CA trusted
    /// when fetching metadata documents.
    pub cimd_trusted_ca_pem: Option<String>,
    /// Benchmarks: `ALTA_MEASURE_AWS_CALLS` writes each request's AWS calls, rounds and
    /// consumed capacity into its log line (`aws_calls`).
    pub measure_aws_calls: bool,
}

const DAY: u64 = 24 * 60 * 60;

impl Config {
    /// How long a new signing key is published before it signs: until then a container
    /// may still hold the previous key set (the key cache), an HTTP cache the previous JWKS
    /// (its `max-age`, the same length), and `/mcp` its copy of that JWKS (the JWKS cache).
    /// After this, every container can verify what the new key signs.
    pub fn key_activation(&self) -> Duration {
        self.signing_key_cache_ttl * 2 + self.jwks_cache_ttl
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), None)
    }

    /// `default_base_url` is what `ALTA_BASE_URL` means when unset (local server only).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_base_url: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let env = settings::Reader::new(lookup);
        let get = |name: &'static str| env.get(name);

        let base_url = match get("ALTA_BASE_URL").or(default_base_url.map(str::to_owned)) {
            Some(raw) => BaseUrl::parse(&raw).map_err(|reason| ConfigError::Invalid {
                name: "ALTA_BASE_URL",
                reason,
            })?,
            None => {
                return Err(ConfigError::Missing {
                    name: "ALTA_BASE_URL",
                });
            }
        };

        let store = match get("ALTA_STORE").as_deref() {
            None | Some("memory") => StoreBackend::Memory,
            Some("dynamodb") => StoreBackend::DynamoDb {
                endpoint: get("ALTA_DYNAMODB_ENDPOINT"),
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "ALTA_STORE",
                    reason: format!("`{other}` is neither `memory` nor `dynamodb`"),
                });
            }
        };

        let prefix = get("ALTA_TABLE_PREFIX").unwrap_or_else(|| "alta-".into());
        let defaults = TableNames::with_prefix(&prefix);
        let tables = TableNames {
            clients: get("ALTA_CLIENTS_TABLE").unwrap_or(defaults.clients),
            authorization_codes: get("ALTA_AUTHORIZATION_CODES_TABLE")
                .unwrap_or(defaults.authorization_codes),
            refresh_tokens: get("ALTA_REFRESH_TOKENS_TABLE").unwrap_or(defaults.refresh_tokens),
            revocations: get("ALTA_REVOCATIONS_TABLE").unwrap_or(defaults.revocations),
            directory: get("ALTA_DIRECTORY_TABLE").unwrap_or(defaults.directory),
            alta_data: get("ALTA_ALTA_DATA_TABLE").unwrap_or(defaults.alta_data),
        };

        let key_secrets = [
            "ALTA_SIGNING_KEY_SECRET_ID",
            "ALTA_PUBLIC_KEYS_SECRET_ID",
            "ALTA_FORM_KEY_SECRET_ID",
        ]
        .map(&get);
        let deployed = env.on_lambda() || key_secrets.iter().any(Option::is_some);
        let [signing_keys, public_keys, form_key] = key_secrets.map(|id| match id {
            Some(secret_id) => KeySecret::SecretsManager { secret_id },
            None if deployed => KeySecret::Absent,
            None => KeySecret::Generated,
        });

        let allowed_origins = get("ALTA_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let trusted_issuer = get("ALTA_ISSUER").unwrap_or_else(|| base_url.issuer().to_owned());
        let days = |name| env.number(name).map(|d| Duration::from_secs(d * DAY));
        let seconds = |name| env.number(name).map(Duration::from_secs);

        Ok(Self {
            base_url,
            store,
            create_tables: env.flag("ALTA_CREATE_TABLES"),
            tables,
            signing_keys,
            public_keys,
            form_key,
            secretsmanager_endpoint: get("ALTA_SECRETSMANAGER_ENDPOINT"),
            signing_key_cache_ttl: seconds("ALTA_SIGNING_KEY_CACHE_SECONDS")?,
            jwks_cache_ttl: seconds("ALTA_JWKS_CACHE_SECONDS")?,
            tokens: TokenLifetimes::read(&env)?,
            metrics_namespace: get("ALTA_METRICS_NAMESPACE"),
            preconfigured_clients: get("ALTA_PRECONFIGURED_CLIENTS"),
            identity_provider_secret_id: get("ALTA_IDENTITY_PROVIDER_SECRET_ID"),
            identity_providers: get("ALTA_IDENTITY_PROVIDERS"),
            scopes_supported: Scope::ALL.into_iter().collect(),
            allowed_origins,
            client_idle_expiry: days("ALTA_CLIENT_IDLE_EXPIRY_DAYS")?,
            trusted_issuer: trusted_issuer.clone(),
            jwks_url: get("ALTA_JWKS_URL").unwrap_or_else(|| {
                format!(
                    "{}/.well-known/jwks.json",
                    trusted_issuer.trim_end_matches('/')
                )
            }),
            demo_password: get("ALTA_DEMO_PASSWORD").unwrap_or_else(|| "alta-demo".into()),
            cimd_allow_loopback: env.flag("ALTA_CIMD_ALLOW_LOOPBACK"),
            measure_aws_calls: env.flag("ALTA_MEASURE_AWS_CALLS"),
            cimd_trusted_ca_pem: match get("ALTA_CIMD_TRUSTED_CA_PEM") {
                None => None,
                Some(pem) if pem.contains("-----BEGIN") => Some(pem),
                Some(path) => {
                    Some(
                        std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                            name: "ALTA_CIMD_TRUSTED_CA_PEM",
                            reason: format!("{path}: {e}"),
                        })?,
                    )
                }
            },
        })
    }

    /// How long a superseded signing key stays published (`TokenLifetimes::key_retention`).
    pub fn key_retention(&self) -> Duration {
        self.tokens.key_retention(self.signing_key_cache_ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned(), None)
    }

    /// `Config` reads exactly the declared settings (`ALTA_LOG_LEVEL` is telemetry's,
    /// read before the configuration exists), and whether it runs on Lambda.
    #[test]
    fn the_configuration_reads_every_declared_setting_and_nothing_else() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(
            |name| {
                asked.borrow_mut().insert(name.to_owned());
                match name {
                    "ALTA_BASE_URL" => Some("https://mcp.alta.example".into()),
                    "ALTA_STORE" => Some("dynamodb".into()),
                    _ => None,
                }
            },
            None,
        )
        .unwrap();
        let declared: std::collections::BTreeSet<String> = SETTINGS
            .iter()
            .map(|s| s.name.to_owned())
            .filter(|n| n != "ALTA_LOG_LEVEL")
            .chain(["AWS_LAMBDA_FUNCTION_NAME".to_owned()])
            .collect();
        assert_eq!(asked.into_inner(), declared);
    }

    #[test]
    fn a_lambda_function_never_generates_a_key_it_is_not_given() {
        let cfg = config(&[
            ("ALTA_BASE_URL", "https://mcp.alta.example"),
            ("AWS_LAMBDA_FUNCTION_NAME", "alta-mcp-McpFunction"),
        ])
        .unwrap();
        assert_eq!(cfg.signing_keys, KeySecret::Absent);
        assert_eq!(cfg.public_keys, KeySecret::Absent);
        assert_eq!(cfg.form_key, KeySecret::Absent);
    }

    #[test]
    fn token_lifetimes_are_settings_within_bounds() {
        let cfg = config(&[("ALTA_BASE_URL", "https://mcp.alta.example")]).unwrap();
        assert_eq!(cfg.tokens.access, 3600);
        assert_eq!(cfg.tokens.refresh_idle, 30 * DAY);
        assert_eq!(cfg.tokens.family, 90 * DAY);
        for (name, value) in [
            ("ALTA_ACCESS_TOKEN_SECONDS", "59"),
            ("ALTA_ACCESS_TOKEN_SECONDS", "86401"),
            ("ALTA_SIGNING_KEY_CACHE_SECONDS", "0"),
            ("ALTA_REFRESH_FAMILY_DAYS", "10"),
        ] {
            let refused = config(&[("ALTA_BASE_URL", "https://mcp.alta.example"), (name, value)]);
            assert!(
                matches!(refused, Err(ConfigError::Invalid { .. })),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn base_url_is_required() {
        assert!(matches!(
            config(&[]),
            Err(ConfigError::Missing {
                name: "ALTA_BASE_URL"
            })
        ));
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let cfg = config(&[("ALTA_BASE_URL", "https://mcp.alta.example/")]).unwrap();
        assert_eq!(cfg.base_url.issuer(), "https://mcp.alta.example");
        assert_eq!(cfg.base_url.mcp_resource(), "https://mcp.alta.example/mcp");
    }

    #[test]
    fn base_url_keeps_a_path_prefix() {
        let base = BaseUrl::parse("https://api.example.com/prod/").unwrap();
        assert_eq!(base.url("/token"), "https://api.example.com/prod/token");
        assert_eq!(base.origin(), "https://api.example.com");
        let local = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn plain_http_base_url_is_refused_off_loopback() {
        assert!(BaseUrl::parse("http://mcp.alta.example").is_err());
        assert!(BaseUrl::parse("http://127.0.0.1:3000").is_ok());
        assert!(BaseUrl::parse("https://mcp.alta.example?x=1").is_err());
    }

    #[test]
    fn a_function_given_some_key_secrets_never_generates_the_others() {
        let cfg = config(&[
            ("ALTA_BASE_URL", "http://127.0.0.1:3000"),
            ("ALTA_PUBLIC_KEYS_SECRET_ID", "public"),
        ])
        .unwrap();
        assert_eq!(
            cfg.public_keys,
            KeySecret::SecretsManager {
                secret_id: "public".into()
            }
        );
        assert_eq!(cfg.signing_keys, KeySecret::Absent);
        assert_eq!(cfg.form_key, KeySecret::Absent);
    }

    #[test]
    fn defaults_are_memory_store_and_generated_keys() {
        let cfg = config(&[("ALTA_BASE_URL", "http://127.0.0.1:3000")]).unwrap();
        assert_eq!(cfg.store, StoreBackend::Memory);
        assert_eq!(cfg.signing_keys, KeySecret::Generated);
        assert_eq!(cfg.public_keys, KeySecret::Generated);
        assert_eq!(cfg.form_key, KeySecret::Generated);
        assert_eq!(cfg.tables.clients, "alta-clients");
        assert_eq!(cfg.preconfigured_clients, None);
        assert_eq!(cfg.client_idle_expiry, Duration::from_secs(90 * DAY));
    }

    #[test]
    fn table_prefix_and_single_table_override_combine() {
        let cfg = config(&[
            ("ALTA_BASE_URL", "http://127.0.0.1:3000"),
            ("ALTA_TABLE_PREFIX", "test-"),
            ("ALTA_CLIENTS_TABLE", "my-clients"),
        ])
        .unwrap();
        assert_eq!(cfg.tables.clients, "my-clients");
        assert_eq!(cfg.tables.refresh_tokens, "test-refresh-tokens");
    }

    #[test]
    fn idle_expiry_must_be_a_positive_number_of_days() {
        for raw in ["0", "ninety"] {
            let err = config(&[
                ("ALTA_BASE_URL", "http://127.0.0.1:3000"),
                ("ALTA_CLIENT_IDLE_EXPIRY_DAYS", raw),
            ])
            .unwrap_err();
            assert!(matches!(
                err,
                ConfigError::Invalid {
                    name: "ALTA_CLIENT_IDLE_EXPIRY_DAYS",
                    ..
                }
            ));
        }
    }

    #[test]
    fn unknown_store_is_refused() {
        let err = config(&[
            ("ALTA_BASE_URL", "http://127.0.0.1:3000"),
            ("ALTA_STORE", "postgres"),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "ALTA_STORE",
                ..
            }
        ));
    }
}
