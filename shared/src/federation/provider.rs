//! The identity providers people may sign in through: records in the directory (their
//! client secrets apart, in a secret only the authorize function reads), or, on the local
//! server, the JSON list in `ALTA_IDENTITY_PROVIDERS`.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::BaseUrl;
use crate::secret::SecretString;

pub const DEFAULT_SCOPES: &str = "openid email profile";
const MAX_ID_CHARS: usize = 40;
const MAX_TEXT_CHARS: usize = 200;
const MAX_URL_CHARS: usize = 500;
const MAX_DOMAINS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    /// A slug: the `idp` claim of the tokens of people who signed in here.
    pub id: String,
    pub display_name: String,
    /// The OpenID issuer identifier, exactly as its ID tokens' `iss`.
    pub issuer: String,
    pub client_id: String,
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// Email domains whose people sign in here (lower case); may be empty.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Offer "Sign in with <display_name>" to everyone.
    #[serde(default)]
    pub button: bool,
    /// Trusted for enterprise-managed authorization (ID-JAG).
    #[serde(default)]
    pub id_jag: bool,
    /// Microsoft Entra ID's tenant: the ID token's `tid` must equal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

fn default_scopes() -> String {
    DEFAULT_SCOPES.to_owned()
}

impl IdentityProvider {
    /// Whether this provider claims the domain of `email` (normalised).
    pub fn claims_email(&self, email: &str) -> bool {
        email_domain(email).is_some_and(|domain| self.domains.iter().any(|d| d == domain))
    }

    /// The scopes to ask for: always `openid`.
    pub fn scope_parameter(&self) -> String {
        let mut scopes: Vec<&str> = self.scopes.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            scopes.insert(0, "openid");
        }
        scopes.join(" ")
    }

    /// Checks a record before it is stored or loaded: ids, lengths, and an issuer that is
    /// https (http only on loopback, and only when Alta itself runs on loopback http).
    pub fn validate(&mut self, base: Option<&BaseUrl>) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_ID_CHARS
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok || self.id == crate::directory::PASSWORD_IDP {
            return Err(format!(
                "provider id `{}` must be 1–{MAX_ID_CHARS} lower-case letters, digits or dashes (and not `password`)",
                self.id
            ));
        }
        for (name, value) in [
            ("display_name", &self.display_name),
            ("client_id", &self.client_id),
            ("scopes", &self.scopes),
        ] {
            if value.trim().is_empty() || value.chars().count() > MAX_TEXT_CHARS {
                return Err(format!(
                    "provider {}: {name} must be 1–{MAX_TEXT_CHARS} characters",
                    self.id
                ));
            }
        }
        check_issuer(&self.issuer, base).map_err(|why| format!("provider {}: {why}", self.id))?;
        if self.domains.len() > MAX_DOMAINS {
            return Err(format!(
                "provider {}: at most {MAX_DOMAINS} domains",
                self.id
            ));
        }
        for domain in &mut self.domains {
            *domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
            let ok = domain.contains('.')
                && domain.len() <= 253
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(format!(
                    "provider {}: `{domain}` is not an email domain",
                    self.id
                ));
            }
        }
        // An ID-JAG arrives with no person present: only people of the company's own
        // domains may be linked through one.
        if self.id_jag && self.domains.is_empty() {
            return Err(format!(
                "provider {}: a provider trusted for identity assertions (id_jag) needs its email domains",
                self.id
            ));
        }
        if self
            .tenant
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > MAX_TEXT_CHARS)
        {
            return Err(format!("provider {}: tenant is empty or too long", self.id));
        }
        Ok(())
    }
}

/// The part after the `@` of a normalised email.
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain)
}

/// An issuer Alta will talk to: https with a host and no query or fragment; http only on
/// a loopback host, and only when `base` is itself loopback http (local runs and tests).
pub fn check_issuer(issuer: &str, base: Option<&BaseUrl>) -> Result<(), String> {
    if issuer.len() > MAX_URL_CHARS {
        return Err("the issuer is too long".into());
    }
    let url = url::Url::parse(issuer).map_err(|_| format!("issuer `{issuer}` is not a URL"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("issuer `{issuer}` has a query, fragment or user"));
    }
    let loopback_host = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if loopback_host && base.is_none_or(is_loopback_http) => Ok(()),
        _ => Err(format!(
            "issuer `{issuer}` must be https (http only on loopback, for a server that runs on loopback)"
        )),
    }
}

pub fn is_loopback_http(base: &BaseUrl) -> bool {
    url::Url::parse(base.issuer()).is_ok_and(|url| {
        url.scheme() == "http"
            && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

/// One entry of `ALTA_IDENTITY_PROVIDERS`: the record, its client secret, and the accounts
/// that require it.
#[derive(Deserialize)]
struct LocalEntry {
    #[serde(flatten)]
    provider: IdentityProvider,
    client_secret: String,
    #[serde(default)]
    accounts: Vec<String>,
}

/// The local server's providers (`ALTA_IDENTITY_PROVIDERS`), loaded at start.
#[derive(Debug, Default)]
pub struct LocalProviders {
    pub providers: Vec<IdentityProvider>,
    pub secrets: HashMap<String, SecretString>,
    /// (account id, provider id) requirements.
    pub required_by: Vec<(String, String)>,
}

impl LocalProviders {
    pub fn parse(json: &str, base: &BaseUrl) -> Result<Self, String> {
        let entries: Vec<LocalEntry> = serde_json::from_str(json)
            .map_err(|e| format!("ALTA_IDENTITY_PROVIDERS is not a JSON list of providers: {e}"))?;
        let mut local = Self::default();
        let mut seen = BTreeSet::new();
        let mut id_jag_issuers = BTreeSet::new();
        for mut entry in entries {
            entry.provider.validate(Some(base))?;
            let id = entry.provider.id.clone();
            if !seen.insert(id.clone()) {
                return Err(format!("provider id `{id}` appears twice"));
            }
            if entry.provider.id_jag && !id_jag_issuers.insert(entry.provider.issuer.clone()) {
                return Err(format!(
                    "provider {id}: another provider already takes ID-JAGs from {}",
                    entry.provider.issuer
                ));
            }
            if entry.client_secret.is_empty() {
                return Err(format!("provider {id}: client_secret is empty"));
            }
            for account in entry.accounts {
                local.required_by.push((account, id.clone()));
            }
            local
                .secrets
                .insert(id, SecretString::new(entry.client_secret));
            local.providers.push(entry.provider);
        }
        Ok(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> BaseUrl {
        BaseUrl::parse(url).unwrap()
    }

    #[test]
    fn issuers_are_https_or_loopback_http_for_a_loopback_server() {
        let local = base("http://127.0.0.1:3000");
        let deployed = base("https://mcp.alta.example");
        assert!(check_issuer("https://accounts.google.com", Some(&deployed)).is_ok());
        assert!(check_issuer("http://127.0.0.1:4000", Some(&local)).is_ok());
        assert!(check_issuer("http://127.0.0.1:4000", Some(&deployed)).is_err());
        assert!(check_issuer("http://idp.example", Some(&local)).is_err());
        assert!(check_issuer("https://idp.example/?x=1", Some(&deployed)).is_err());
        assert!(check_issuer("ftp://idp.example", Some(&deployed)).is_err());
    }

    #[test]
    fn local_providers_parse_with_secrets_and_required_accounts() {
        let local = LocalProviders::parse(
            r#"[{"id":"globex-sso","display_name":"Globex SSO","issuer":"http://127.0.0.1:4000",
                 "client_id":"alta","client_secret":"s3cret","domains":["Globex.Example"],
                 "accounts":["acct_globex"]}]"#,
            &base("http://127.0.0.1:3000"),
        )
        .unwrap();
        let provider = &local.providers[0];
        assert_eq!(provider.scopes, DEFAULT_SCOPES);
        assert_eq!(provider.domains, ["globex.example"]);
        assert!(provider.claims_email("sso@globex.example"));
        assert!(!provider.claims_email("sso@globex.example.evil"));
        assert!(!provider.button);
        assert_eq!(local.secrets["globex-sso"].secret(), "s3cret");
        assert_eq!(
            local.required_by,
            [("acct_globex".to_owned(), "globex-sso".to_owned())]
        );
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let local = base("http://127.0.0.1:3000");
        let entry = |fields: &str| {
            format!(
                r#"[{{"id":"p","display_name":"P","issuer":"http://127.0.0.1:4000","client_id":"c","client_secret":"s"{fields}}}]"#
            )
        };
        assert!(LocalProviders::parse(&entry(""), &local).is_ok());
        for bad in [
            r#","id":"Bad Id""#,
            r#","id":"password""#,
            r#","client_secret":"""#,
            r#","issuer":"http://idp.example""#,
            r#","domains":["not a domain"]"#,
            r#","display_name":"""#,
            r#","id_jag":true"#,
        ] {
            let json = entry(bad);
            assert!(LocalProviders::parse(&json, &local).is_err(), "{json}");
        }
        let twice = format!(
            "[{0},{0}]",
            entry("").trim_start_matches('[').trim_end_matches(']')
        );
        assert!(LocalProviders::parse(&twice, &local).is_err());
        // Two providers of one issuer, both trusted for its ID-JAGs: which one's domains
        // and account would apply is not for the order of records to decide.
        let provider = |id: &str, id_jag: bool| {
            format!(
                r#"{{"id":"{id}","display_name":"P","issuer":"http://127.0.0.1:4000","client_id":"c","client_secret":"s","domains":["globex.example"],"id_jag":{id_jag}}}"#
            )
        };
        let both = format!("[{},{}]", provider("a", true), provider("b", true));
        let err = LocalProviders::parse(&both, &local).unwrap_err();
        assert!(
            err.contains("another provider already takes ID-JAGs"),
            "{err}"
        );
        let one_trusted = format!("[{},{}]", provider("a", true), provider("b", false));
        assert!(LocalProviders::parse(&one_trusted, &local).is_ok());
    }

    #[test]
    fn openid_is_always_asked_for() {
        let mut provider: IdentityProvider = serde_json::from_str(
            r#"{"id":"p","display_name":"P","issuer":"https://idp.example","client_id":"c","scopes":"email profile"}"#,
        )
        .unwrap();
        provider.validate(None).unwrap();
        assert_eq!(provider.scope_parameter(), "openid email profile");
    }
}
