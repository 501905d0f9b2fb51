//! Finding a client by its id (registered, pre-configured or metadata document) and
//! authenticating it at the token and revocation endpoints (RFC 6749 §2.3): no
//! authentication (public clients), a client secret (Basic or in the form), or a signed
//! client assertion (`private_key_jwt`, RFC 7523).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Request;

use crate::clients::assertion::{self, ASSERTION_TYPE, AssertionError, Expected};
use crate::clients::metadata_document::{
    FETCH_BUDGET, FetchAllowance, MAX_UNCACHED_FETCHES_PER_SOURCE, MetadataDocumentError,
    is_metadata_document_url,
};
use crate::clients::{Client, ClientCredential, ClientKeySource};
use crate::deps::Deps;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::http::Params;
use crate::records::grant::TokenHash;
use crate::store::{AddressCounter, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown client_id")]
    Unknown,
    #[error(transparent)]
    MetadataDocument(#[from] MetadataDocumentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One request's allowance for fetching metadata documents and key sets: one deadline for
/// all of them, and each uncached fetch counted against the request's source address in
/// the clients table, so that the limit holds across every container of the stack.
pub struct RequestFetches<'a> {
    deps: &'a Deps,
    source: Option<String>,
    deadline: tokio::time::Instant,
}

impl<'a> RequestFetches<'a> {
    pub fn of(req: &Request, deps: &'a Deps) -> Self {
        Self {
            deps,
            source: crate::http::source_address_key(req),
            deadline: tokio::time::Instant::now() + FETCH_BUDGET,
        }
    }
}

#[async_trait::async_trait]
impl FetchAllowance for RequestFetches<'_> {
    fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    async fn charge(&self) -> Result<(), MetadataDocumentError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        let now = self.deps.clock.now();
        match self
            .deps
            .clients
            .count_for_address(AddressCounter::DocumentFetches, source, now, now + 60)
            .await
        {
            Ok(count) if count > MAX_UNCACHED_FETCHES_PER_SOURCE => {
                Err(MetadataDocumentError::Busy)
            }
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, "could not count a metadata-document fetch");
                Err(MetadataDocumentError::Fetch(
                    "the fetch could not be counted; try again".into(),
                ))
            }
        }
    }
}

/// The client `client_id` names; a metadata document is fetched within `fetches`.
pub async fn resolve_client(
    deps: &Deps,
    client_id: &str,
    fetches: &dyn FetchAllowance,
) -> Result<Client, ResolveError> {
    if client_id.is_empty() || client_id.len() > 2000 {
        return Err(ResolveError::Unknown);
    }
    if let Some(preconfigured) = deps.preconfigured.find(client_id) {
        return Ok(Client::from_preconfigured(preconfigured));
    }
    let now = deps.clock.now();
    if is_metadata_document_url(client_id) {
        return Ok(deps
            .metadata_documents
            .client(client_id, now, fetches)
            .await?);
    }
    match deps.clients.get_client(client_id, now).await? {
        Some(registered) => Ok(Client::from_registered(registered)),
        None => Err(ResolveError::Unknown),
    }
}

/// The credentials a request presents: HTTP Basic, a client assertion, or `client_id`
/// (+ `client_secret`) in the form.
struct Presented {
    client_id: String,
    secret: Option<String>,
    assertion: Option<String>,
    basic: bool,
}

fn presented(req: &Request, params: &Params) -> Result<Presented, OAuthError> {
    let form_id = params.single("client_id")?;
    let form_secret = params.single("client_secret")?;
    if let Some(assertion) = params.single("client_assertion")? {
        return presented_assertion(req, form_id, form_secret, assertion, params);
    }
    if params.single("client_assertion_type")?.is_some() {
        return Err(OAuthError::invalid_request(
            "client_assertion_type without client_assertion",
        ));
    }
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let Some(encoded) = header.and_then(|h| {
        h.strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    }) {
        let invalid = || {
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "the Basic authorization header is malformed",
            )
            .with_basic_challenge()
        };
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
        // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let (id, secret) = (
            decode(id).ok_or_else(invalid)?,
            decode(secret).ok_or_else(invalid)?,
        );
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both Basic and client_secret",
            ));
        }
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            assertion: None,
            basic: true,
        });
    }
    let client_id = form_id
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidClient, "client_id is required"))?;
    Ok(Presented {
        client_id: client_id.to_owned(),
        secret: form_secret.map(str::to_owned),
        assertion: None,
        basic: false,
    })
}

/// RFC 7521 §4.2 / RFC 7523 §2.2: the assertion names the client (`iss` = `sub`), so
/// `client_id` is optional and, when sent, must agree; one authentication method only.
fn presented_assertion(
    req: &Request,
    form_id: Option<&str>,
    form_secret: Option<&str>,
    assertion: &str,
    params: &Params,
) -> Result<Presented, OAuthError> {
    let invalid_client = |why: String| OAuthError::new(OAuthErrorCode::InvalidClient, why);
    match params.single("client_assertion_type")? {
        Some(ASSERTION_TYPE) => {}
        Some(other) => {
            return Err(invalid_client(format!(
                "client_assertion_type `{other}` is not supported; use {ASSERTION_TYPE}"
            )));
        }
        None => {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type is required with client_assertion: {ASSERTION_TYPE}"
            )));
        }
    }
    if form_secret.is_some() || req.headers().contains_key("authorization") {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not a client assertion and a secret",
        ));
    }
    let client_id =
        assertion::claimed_client_id(assertion).map_err(|e| invalid_client(e.to_string()))?;
    if form_id.is_some_and(|f| f != client_id) {
        return Err(invalid_client(
            "client_id differs from the client the assertion names".into(),
        ));
    }
    Ok(Presented {
        client_id,
        secret: None,
        assertion: Some(assertion.to_owned()),
        basic: false,
    })
}

/// The authenticated client, or `invalid_client` (401). An unknown or expired `client_id`
/// is `invalid_client` too, which tells SDK clients to register again.
pub async fn authenticate_client(
    req: &Request,
    params: &Params,
    deps: &Deps,
) -> Result<Client, OAuthError> {
    let presented = presented(req, params)?;
    let fail = |description: &'static str| {
        let err = OAuthError::new(OAuthErrorCode::InvalidClient, description);
        if presented.basic {
            err.with_basic_challenge()
        } else {
            err
        }
    };
    let fetches = RequestFetches::of(req, deps);
    let client = match resolve_client(deps, &presented.client_id, &fetches).await {
        Ok(client) => client,
        Err(ResolveError::Store(err)) => return Err(err.into()),
        Err(ResolveError::MetadataDocument(err @ MetadataDocumentError::Busy)) => {
            return Err(OAuthError::too_many_requests(err.to_string(), 60));
        }
        Err(ResolveError::Unknown) => {
            return Err(fail(
                "unknown or expired client_id; register the client again",
            ));
        }
        Err(ResolveError::MetadataDocument(err)) => {
            tracing::info!(error = %err, "client metadata document refused at the token endpoint");
            return Err(fail("the client metadata document could not be used"));
        }
    };
    if let ClientCredential::PrivateKeyJwt { keys, alg } = &client.credential {
        let Some(assertion) = presented.assertion.as_deref() else {
            // Declared private_key_jwt: no falling back to PKCE alone or to a secret.
            return Err(fail(
                "this client authenticates with private_key_jwt: send client_assertion",
            ));
        };
        verify_assertion(deps, &client.client_id, keys, *alg, assertion, &fetches).await?;
        return Ok(client);
    }
    if presented.assertion.is_some() {
        return Err(fail(
            "this client does not authenticate with client assertions",
        ));
    }
    let authenticated = match (&client.credential, presented.secret.as_deref()) {
        (ClientCredential::None, None) => true,
        (ClientCredential::None, Some(_)) => false,
        (_, None) => false,
        (ClientCredential::PrivateKeyJwt { .. }, Some(_)) => false,
        (ClientCredential::Hashed(hash), Some(secret)) => hash.matches(secret),
        (ClientCredential::Preconfigured(pre), Some(secret)) => {
            let expected = deps
                .client_secrets
                .secret_of(pre)
                .await
                .map_err(OAuthError::unavailable)?;
            expected.is_some_and(|e| e.constant_time_eq(secret))
        }
    };
    if !authenticated {
        return Err(fail("client authentication failed"));
    }
    Ok(client)
}

/// Checks a client assertion against the client's keys (fetching its `jwks_uri` again once
/// if the assertion names a key the cached set lacks), then uses its `jti` once.
async fn verify_assertion(
    deps: &Deps,
    client_id: &str,
    source: &ClientKeySource,
    alg: Option<jsonwebtoken::Algorithm>,
    assertion: &str,
    fetches: &dyn FetchAllowance,
) -> Result<(), OAuthError> {
    let now = deps.clock.now();
    let refused = |err: AssertionError| {
        tracing::info!(client_id, error = %err, "client assertion refused");
        OAuthError::new(OAuthErrorCode::InvalidClient, err.to_string())
    };
    let keys = match source {
        ClientKeySource::Inline(keys) => keys.clone(),
        ClientKeySource::Remote(url) => {
            let fetch = |refresh| {
                deps.metadata_documents
                    .client_keys(url, now, refresh, fetches)
            };
            let keys = match fetch(false).await {
                Ok(keys) if !keys.knows_key_of(assertion) => fetch(true).await,
                other => other,
            };
            keys.map_err(|err| {
                tracing::info!(client_id, error = %err, "client keys could not be used");
                OAuthError::new(
                    OAuthErrorCode::InvalidClient,
                    "the client's jwks_uri could not be used",
                )
            })?
        }
    };
    let base = &deps.config.base_url;
    let audiences = [
        base.issuer().to_owned(),
        base.url("/token"),
        base.url("/revoke"),
    ];
    let verified = assertion::verify(
        assertion,
        &keys,
        &Expected {
            client_id,
            audiences: &audiences,
            declared_alg: alg,
            now,
        },
    )
    .map_err(refused)?;
    // One use per assertion (RFC 7523 §3, item 7), remembered until it expires.
    let key = format!(
        "assertion#{}",
        TokenHash::of(&format!("{client_id}\n{}", verified.jti)).as_str()
    );
    if !deps.revocations.use_once(&key, verified.exp, now).await? {
        return Err(refused(AssertionError::Replayed));
    }
    Ok(())
}
