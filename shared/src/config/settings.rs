//! Every setting, declared once: its environment variable, default, bounds, what it does,
//! and the template parameter that sets it on a stack. `Config::from_lookup` reads only
//! what is declared here; `tests/settings.rs` holds template.yaml's environments and
//! parameters and docs/configuration.md's table equal to this list, both ways.

use std::time::Duration;

use super::ConfigError;

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// As docs/configuration.md shows it; for a whole number, the number itself.
    pub default: &'static str,
    /// A whole number's allowed range, inclusive.
    pub bounds: Option<(u64, u64)>,
    pub doc: &'static str,
    /// The template parameter that sets it on a deployed stack, if any.
    pub parameter: Option<&'static str>,
}

const fn text(name: &'static str, default: &'static str, doc: &'static str) -> Setting {
    Setting {
        name,
        default,
        bounds: None,
        doc,
        parameter: None,
    }
}

const fn number(
    name: &'static str,
    default: &'static str,
    bounds: (u64, u64),
    doc: &'static str,
) -> Setting {
    Setting {
        name,
        default,
        bounds: Some(bounds),
        doc,
        parameter: None,
    }
}

const fn by_parameter(setting: Setting, parameter: &'static str) -> Setting {
    Setting {
        parameter: Some(parameter),
        ..setting
    }
}

const DAY: u64 = 24 * 3600;

pub const SETTINGS: &[Setting] = &[
    text(
        "ALTA_BASE_URL",
        "local: http://127.0.0.1:$PORT",
        "The public base URL: the issuer; <BASE>/mcp is the MCP URL.",
    ),
    text("ALTA_STORE", "memory", "memory or dynamodb."),
    text(
        "ALTA_DYNAMODB_ENDPOINT",
        "AWS regional endpoint",
        "Another DynamoDB endpoint (dynalite, DynamoDB Local).",
    ),
    text(
        "ALTA_CREATE_TABLES",
        "off",
        "Local server: create missing tables at start.",
    ),
    text("ALTA_TABLE_PREFIX", "alta-", "Prefix of every table name."),
    text(
        "ALTA_CLIENTS_TABLE",
        "<prefix>clients",
        "The clients table.",
    ),
    text(
        "ALTA_AUTHORIZATION_CODES_TABLE",
        "<prefix>authorization-codes",
        "The authorization codes table.",
    ),
    text(
        "ALTA_REFRESH_TOKENS_TABLE",
        "<prefix>refresh-tokens",
        "The refresh tokens and grants table.",
    ),
    text(
        "ALTA_REVOCATIONS_TABLE",
        "<prefix>revocations",
        "The revocations table.",
    ),
    text(
        "ALTA_DIRECTORY_TABLE",
        "<prefix>directory",
        "The directory table.",
    ),
    text(
        "ALTA_ALTA_DATA_TABLE",
        "<prefix>alta-data",
        "The Alta data table.",
    ),
    text(
        "ALTA_SIGNING_KEY_SECRET_ID",
        "a key generated at start",
        "The secret holding the private signing keys (the token function's).",
    ),
    text(
        "ALTA_PUBLIC_KEYS_SECRET_ID",
        "the generated key's",
        "The secret holding their public half (discovery, revoke; the rotation writes it).",
    ),
    text(
        "ALTA_FORM_KEY_SECRET_ID",
        "a key generated at start",
        "The secret holding the pages' form key (authorize).",
    ),
    text(
        "ALTA_IDENTITY_PROVIDER_SECRET_ID",
        "none",
        "The secret holding the identity providers' client secrets (authorize).",
    ),
    text(
        "ALTA_IDENTITY_PROVIDERS",
        "none",
        "Local server: identity providers loaded at start (a JSON list).",
    ),
    text(
        "ALTA_SECRETSMANAGER_ENDPOINT",
        "AWS regional endpoint",
        "Another Secrets Manager endpoint (moto in tests).",
    ),
    by_parameter(
        number(
            "ALTA_SIGNING_KEY_CACHE_SECONDS",
            "300",
            (1, 3600),
            "How long a container keeps a key secret before reading it again; the JWKS max-age.",
        ),
        "SigningKeyCacheSeconds",
    ),
    by_parameter(
        number(
            "ALTA_JWKS_CACHE_SECONDS",
            "600",
            (1, 3600),
            "How long the mcp function keeps the issuer's JWKS.",
        ),
        "JwksCacheSeconds",
    ),
    number(
        "ALTA_ACCESS_TOKEN_SECONDS",
        "3600",
        (60, DAY),
        "Access-token lifetime.",
    ),
    number(
        "ALTA_REFRESH_TOKEN_IDLE_DAYS",
        "30",
        (1, 365),
        "A refresh token unused this long dies (each rotation starts it again).",
    ),
    number(
        "ALTA_REFRESH_FAMILY_DAYS",
        "90",
        (1, 3650),
        "No grant outlives this, however often it refreshes.",
    ),
    number(
        "ALTA_CLIENT_IDLE_EXPIRY_DAYS",
        "90",
        (1, 3650),
        "A dynamically registered client unused this long is forgotten.",
    ),
    by_parameter(
        text(
            "ALTA_PRECONFIGURED_CLIENTS",
            "Claude and Cursor, public",
            "JSON array of pre-configured clients.",
        ),
        "PreconfiguredClients",
    ),
    by_parameter(
        text(
            "ALTA_ALLOWED_ORIGINS",
            "none",
            "Browser origins allowed to call /mcp, comma-separated.",
        ),
        "AllowedOrigins",
    ),
    text(
        "ALTA_ISSUER",
        "<BASE>",
        "The only issuer whose access tokens /mcp accepts.",
    ),
    text(
        "ALTA_JWKS_URL",
        "<issuer>/.well-known/jwks.json",
        "Where /mcp fetches that issuer's keys.",
    ),
    text(
        "ALTA_METRICS_NAMESPACE",
        "none",
        "CloudWatch namespace of the embedded-format metrics.",
    ),
    text(
        "ALTA_DEMO_PASSWORD",
        "alta-demo",
        "Password of the local server's demo sign-ins.",
    ),
    text(
        "ALTA_CIMD_ALLOW_LOOPBACK",
        "off",
        "Tests only: metadata documents from loopback, any port.",
    ),
    text(
        "ALTA_CIMD_TRUSTED_CA_PEM",
        "none",
        "Tests only: the only CA trusted for metadata documents.",
    ),
    text(
        "ALTA_MEASURE_AWS_CALLS",
        "off",
        "Benchmarks: AWS calls in each request's log line.",
    ),
    by_parameter(
        text(
            "ALTA_LOG_LEVEL",
            "info",
            "Log filter (telemetry reads it, before the configuration).",
        ),
        "LogLevel",
    ),
];

pub fn declared(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The environment, as far as the declared settings go.
pub(super) struct Reader<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    pub(super) fn new(lookup: F) -> Self {
        Self { lookup }
    }

    /// A declared setting's value, unless unset or blank.
    pub(super) fn get(&self, name: &'static str) -> Option<String> {
        // Reading an undeclared name is a bug of this file: the docs and the template
        // would not know the setting.
        debug_assert!(
            declared(name).is_some(),
            "{name} is not declared in SETTINGS"
        );
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether this process is a Lambda function (the runtime sets the function's name):
    /// then a key secret it is not given is absent, never generated.
    pub(super) fn on_lambda(&self) -> bool {
        (self.lookup)("AWS_LAMBDA_FUNCTION_NAME").is_some()
    }

    pub(super) fn flag(&self, name: &'static str) -> bool {
        self.get(name).is_some_and(|v| v == "1" || v == "true")
    }

    /// A whole-number setting, its declared default when unset, within its bounds.
    pub(super) fn number(&self, name: &'static str) -> Result<u64, ConfigError> {
        let setting = declared(name).ok_or(ConfigError::Invalid {
            name,
            reason: "not a declared setting".into(),
        })?;
        let raw = self.get(name).unwrap_or_else(|| setting.default.to_owned());
        let value: u64 = raw.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{raw}` is not a whole number"),
        })?;
        match setting.bounds {
            Some((min, max)) if !(min..=max).contains(&value) => Err(ConfigError::Invalid {
                name,
                reason: format!("{value} is outside {min}..={max}"),
            }),
            _ => Ok(value),
        }
    }
}

/// How long what the server issues lives, and what follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// `ALTA_ACCESS_TOKEN_SECONDS`.
    pub access: u64,
    /// `ALTA_REFRESH_TOKEN_IDLE_DAYS`, in seconds: sliding, each rotation starts it again.
    pub refresh_idle: u64,
    /// `ALTA_REFRESH_FAMILY_DAYS`, in seconds: no rotation carries a grant past it.
    pub family: u64,
}

/// Clocks of different machines disagree a little; JWT checks allow this much.
pub const CLOCK_LEEWAY_SECONDS: u64 = 60;

impl TokenLifetimes {
    pub(super) fn read<F: Fn(&str) -> Option<String>>(
        env: &Reader<F>,
    ) -> Result<Self, ConfigError> {
        let lifetimes = Self {
            access: env.number("ALTA_ACCESS_TOKEN_SECONDS")?,
            refresh_idle: env.number("ALTA_REFRESH_TOKEN_IDLE_DAYS")? * DAY,
            family: env.number("ALTA_REFRESH_FAMILY_DAYS")? * DAY,
        };
        if lifetimes.family < lifetimes.refresh_idle {
            return Err(ConfigError::Invalid {
                name: "ALTA_REFRESH_FAMILY_DAYS",
                reason: "must be at least ALTA_REFRESH_TOKEN_IDLE_DAYS".into(),
            });
        }
        Ok(lifetimes)
    }

    /// How long a superseded signing key stays published: containers may sign with it
    /// until they read the key secret again (`key_cache`), and its last token lives
    /// `access` after that, give or take the clocks' leeway.
    pub fn key_retention(&self, key_cache: Duration) -> Duration {
        key_cache + Duration::from_secs(self.access + CLOCK_LEEWAY_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setting_is_declared_once_with_a_default_that_fits_its_bounds() {
        let mut names: Vec<_> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
        for setting in SETTINGS {
            if let Some((min, max)) = setting.bounds {
                let default: u64 = setting.default.parse().unwrap();
                assert!((min..=max).contains(&default), "{}", setting.name);
            }
        }
    }
}
