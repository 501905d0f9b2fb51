//! Signing in through an identity provider from Alta's pages (the consent page and the
//! connected-apps page): the redirect to the provider, and `GET /authorize/callback`.
//!
//! The state sent upstream is signed with the form key, names the provider and what the
//! sign-in is for, lives 10 minutes, is bound to the page's nonce cookie (so a callback URL
//! lifted into another browser is refused) and is spent once (`state#…` in the
//! revocations table). It carries only a MAC of the cookie, never the cookie itself: the
//! provider (and whoever reads its logs) learns nothing that would let another browser
//! present it. The PKCE verifier and the OIDC nonce are derived from the form key, the
//! state's id and the cookie, so nothing secret travels in a URL or is stored. Nothing
//! is issued here: the consent page's Allow still decides.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::clients::metadata_document::Unlimited;
use crate::deps::Deps;
use crate::digest::sha256_hex;
use crate::directory::{IdentityLink, User, normalize_email};
use crate::federation::id_token::Identity;
use crate::federation::link::{Unlinkable, email_to_link};
use crate::federation::provider::{IdentityProvider, check_issuer};
use crate::federation::upstream::{self, AuthorizationParameters, CodeExchange, UpstreamError};
use crate::http::Params;
use crate::keys::FormKey;
use crate::oauth::pages::{ProviderButton, error_page, error_page_with_way_back};
use crate::oauth::pending::{AuthorizationRequest, SignedIn};
use crate::oauth::sign_in::record_sign_in;
use crate::oauth::signed_form::{self, CONNECTIONS_PATH, FormClaims, NonceCookie};
use crate::pkce::{CodeChallenge, CodeVerifier};
use crate::random;
use crate::records::ids::UserId;
use crate::store::StoreError;

pub const CALLBACK_PATH: &str = "/authorize/callback";
pub const STATE_LIFETIME_SECONDS: u64 = 600;
/// The code exchange and the provider's keys together: within the authorize function's
/// timeout with room to answer.
const EXCHANGE_BUDGET: Duration = Duration::from_secs(5);

/// What the sign-in is for: where the callback goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "snake_case")]
pub enum AfterSignIn {
    /// The consent page's pending authorization.
    Consent { request: AuthorizationRequest },
    /// The connected-apps page.
    Connections,
}

impl AfterSignIn {
    fn cookie(&self, deps: &Deps) -> NonceCookie {
        match self {
            AfterSignIn::Consent { .. } => signed_form::consent_cookie(&deps.config.base_url),
            AfterSignIn::Connections => signed_form::connections_cookie(&deps.config.base_url),
        }
    }
}

/// Who signed in at the provider, for the page the sign-in was for.
pub struct Returned {
    /// The form key that verified the state, to sign the next page's form with.
    pub keys: Arc<FormKey>,
    /// The page's cookie nonce, which its next form is bound to as well.
    pub nonce: String,
    pub signed_in: SignedIn,
    pub after: AfterSignIn,
}

/// The `state` sent to the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UpstreamState {
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    /// A MAC of the page's nonce cookie (`cookie_mac`).
    cookie: String,
    jti: String,
    provider: String,
    #[serde(flatten)]
    after: AfterSignIn,
}

impl FormClaims for UpstreamState {
    const TYPE: &'static str = "alta-upstream+jwt";

    fn iat(&self) -> u64 {
        self.iat
    }

    fn nonce(&self) -> &str {
        &self.cookie
    }
}

fn callback_url(deps: &Deps) -> String {
    deps.config.base_url.url(CALLBACK_PATH)
}

fn cookie_mac(key: &FormKey, cookie: &str) -> crate::secret::SecretString {
    key.derive("cookie", &[cookie])
}

fn pkce_verifier(key: &FormKey, state: &UpstreamState, cookie: &str) -> String {
    key.derive("pkce", &[&state.jti, cookie])
        .secret()
        .to_owned()
}

fn oidc_nonce(key: &FormKey, state: &UpstreamState, cookie: &str) -> String {
    key.derive("nonce", &[&state.jti, cookie])
        .secret()
        .to_owned()
}

/// The providers a page offers, and the origins its form may be redirected to.
pub struct Offer {
    pub providers: Arc<Vec<IdentityProvider>>,
    origins: Vec<String>,
}

impl Offer {
    /// Providers with a button, for everyone.
    pub fn buttons(&self) -> Vec<ProviderButton<'_>> {
        self.providers
            .iter()
            .filter(|p| p.button)
            .map(|p| ProviderButton {
                id: &p.id,
                name: &p.display_name,
            })
            .collect()
    }

    pub fn display_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.providers
            .iter()
            .find(|p| p.id == id)
            .map_or(id, |p| p.display_name.as_str())
    }

    /// The CSP `form-action` sources: `first` (the app's redirect, if any) and every
    /// provider's authorization endpoint, where a POST of the page may be redirected.
    pub fn form_action(&self, first: Option<&str>) -> String {
        first
            .into_iter()
            .map(str::to_owned)
            .chain(self.origins.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a page offers: the providers, read as a sign-in page is rendered (a store failure
/// offers none: signing in with a password still works).
pub async fn offer(deps: &Deps) -> Offer {
    let now = deps.clock.now();
    let providers = match providers(deps, now).await {
        Ok(providers) => providers,
        Err(err) => {
            tracing::error!(cause = %err, "identity providers could not be read");
            Arc::new(Vec::new())
        }
    };
    // Normally cached (a day at most); a provider that does not answer costs one page
    // the fetch budget, and is then remembered as failing for a minute.
    let allowance = Unlimited::from_now();
    let origins = futures_util::future::join_all(providers.iter().map(|p| async {
        let endpoint = upstream::metadata(&deps.provider_fetcher, p, now, &allowance)
            .await
            .map(|m| m.authorization_endpoint);
        // Unreachable now: its issuer's origin, where most providers' endpoints live.
        let url = endpoint.or_else(|_| url::Url::parse(&p.issuer));
        url.map(|u| u.origin().ascii_serialization()).ok()
    }))
    .await;
    let mut origins: Vec<String> = origins.into_iter().flatten().collect();
    origins.sort();
    origins.dedup();
    Offer { providers, origins }
}

async fn providers(deps: &Deps, now: u64) -> Result<Arc<Vec<IdentityProvider>>, StoreError> {
    deps.identity_providers
        .all(now, deps.identities.identity_providers())
        .await
}

/// Sends the browser to `provider` to sign in, for `after`; `cookie_nonce` is the page's.
pub async fn start(
    deps: &Deps,
    provider: &IdentityProvider,
    cookie_nonce: &str,
    after: AfterSignIn,
    login_hint: Option<&str>,
) -> Response<Body> {
    let now = deps.clock.now();
    if let Err(why) = check_issuer(&provider.issuer, Some(&deps.config.base_url)) {
        tracing::error!(provider = %provider.id, cause = %why, "identity provider refused");
        return upstream_failed(&UpstreamError::Misconfigured(why));
    }
    let keys = match deps.form_keys.current().await {
        Ok(keys) => keys,
        Err(err) => return unavailable(err),
    };
    let allowance = Unlimited::from_now();
    let metadata = match upstream::metadata(&deps.provider_fetcher, provider, now, &allowance).await
    {
        Ok(metadata) => metadata,
        Err(err) => {
            tracing::warn!(provider = %provider.id, cause = %err, "identity provider metadata unusable");
            return upstream_failed(&err);
        }
    };
    let cookie = after.cookie(deps);
    let state = UpstreamState {
        iss: deps.config.base_url.issuer().to_owned(),
        aud: callback_url(deps),
        iat: now,
        exp: now + STATE_LIFETIME_SECONDS,
        cookie: cookie_mac(&keys, cookie_nonce).secret().to_owned(),
        jti: random::token(16),
        provider: provider.id.clone(),
        after,
    };
    let signed = match signed_form::sign(&keys, &state) {
        Ok(signed) => signed,
        Err(err) => return unavailable(err),
    };
    let verifier = match CodeVerifier::parse(&pkce_verifier(&keys, &state, cookie_nonce)) {
        Ok(verifier) => verifier,
        Err(err) => return unavailable(err),
    };
    let location = upstream::authorization_url(
        &metadata,
        provider,
        &AuthorizationParameters {
            redirect_uri: &callback_url(deps),
            state: &signed,
            nonce: &oidc_nonce(&keys, &state, cookie_nonce),
            code_challenge: CodeChallenge::from_verifier(&verifier).as_str(),
            login_hint,
        },
    );
    tracing::info!(provider = %provider.id, "sign-in sent to the identity provider");
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        headers.insert("location", value);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // The page's cookie lives as long as the state that names it.
    if let Some(value) = cookie.set(cookie_nonce, STATE_LIFETIME_SECONDS) {
        headers.append("set-cookie", value);
    }
    resp
}

/// `GET /authorize/callback`: the provider sends the browser back here. Who signed in, or
/// the page that says why not.
pub async fn callback(req: &Request, deps: &Deps) -> Result<Returned, Response<Body>> {
    let params = Params::from_query(req);
    let single = |name: &str| params.single(name).ok().flatten();
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "The sign-in took longer than 10 minutes, was opened in another browser, or did not start at Alta. Start again from the app.",
        )
    };
    let Some(raw_state) = single("state") else {
        return Err(expired());
    };
    let keys = match deps
        .form_keys
        .with_kid(crate::jwt::key_id(raw_state).as_deref())
        .await
    {
        Ok(keys) => keys,
        Err(err) => return Err(unavailable(err)),
    };
    let base = &deps.config.base_url;
    let Some(state) =
        signed_form::verify_unbound::<UpstreamState>(&keys, base, &callback_url(deps), raw_state)
    else {
        return Err(expired());
    };
    let cookie = state.after.cookie(deps).read(req).map(str::to_owned);
    let Some(cookie) = cookie.filter(|c| cookie_mac(&keys, c).constant_time_eq(&state.cookie))
    else {
        tracing::info!(provider = %state.provider, "upstream callback without its browser's cookie");
        return Err(expired());
    };
    let now = deps.clock.now();
    let spend = format!("state#{}", sha256_hex(state.jti.as_bytes()));
    match deps.revocations.use_once(&spend, state.exp, now).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in was already used",
                "Start again from the app.",
            ));
        }
        Err(err) => return Err(unavailable(err)),
    }
    let found = providers(deps, now)
        .await
        .map(|all| all.iter().find(|p| p.id == state.provider).cloned());
    let provider = match found {
        Ok(Some(provider)) => provider,
        Ok(None) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This identity provider is no longer set up",
                "Alta no longer signs people in through it. Start again from the app.",
            ));
        }
        Err(err) => return Err(unavailable(err)),
    };
    let way_back = way_back(deps, &state.after);
    if let Some(error) = single("error") {
        let description = single("error_description").unwrap_or_default();
        let error: String = error.chars().take(100).collect();
        let description: String = description.chars().take(300).collect();
        tracing::info!(provider = %provider.id, error = %error, "identity provider answered with an error");
        return Err(error_page_with_way_back(
            StatusCode::BAD_REQUEST,
            "The identity provider did not sign you in",
            &format!(
                "{} answered: {error}{}{description}",
                provider.display_name,
                if description.is_empty() { "" } else { " — " }
            ),
            (way_back.0, &way_back.1),
        ));
    }
    let identity = exchange(deps, &provider, &keys, (&state, &cookie), &params, now).await?;
    // The provider's email, hashed as a password sign-in's is: an operator looks for one
    // person's sign-ins however they signed in.
    let email_key = identity
        .email
        .as_deref()
        .map(|email| sha256_hex(normalize_email(email).as_bytes()));
    let user = match linked_user(deps, &provider, &identity, now).await {
        Ok(user) => user,
        Err(LinkFailure::Store(err)) => return Err(unavailable(err)),
        Err(LinkFailure::NoMatch(why)) => {
            record_sign_in(deps, req, &provider.id, "no_match", email_key.as_deref());
            tracing::info!(provider = %provider.id, reason = %why, "no Alta user matches the identity provider's sign-in");
            return Err(error_page_with_way_back(
                StatusCode::FORBIDDEN,
                "No Alta user matches",
                &format!(
                    "You signed in at {}, but no Alta user matches that sign-in ({why}). Ask your Alta administrator to invite you with this email, or sign in another way.",
                    provider.display_name
                ),
                (way_back.0, &way_back.1),
            ));
        }
    };
    record_sign_in(deps, req, &provider.id, "succeeded", email_key.as_deref());
    tracing::info!(provider = %provider.id, user_id = %user.user_id, "signed in through an identity provider");
    let signed_in = SignedIn {
        user_id: UserId::new(user.user_id),
        email: user.email,
        idp: provider.id.clone(),
    };
    Ok(Returned {
        keys,
        nonce: cookie,
        signed_in,
        after: state.after,
    })
}

/// The link back from an error page: to the app with `access_denied`, or to the
/// connected-apps page.
fn way_back(deps: &Deps, after: &AfterSignIn) -> (&'static str, String) {
    match after {
        AfterSignIn::Consent { request } => ("Return to the app", denial_url(deps, request)),
        AfterSignIn::Connections => (
            "Back to connected apps",
            deps.config.base_url.url(CONNECTIONS_PATH),
        ),
    }
}

/// The app's redirect URI with `access_denied` (and its `state`, and `iss`: RFC 9207).
fn denial_url(deps: &Deps, request: &AuthorizationRequest) -> String {
    let Ok(mut url) = url::Url::parse(&request.redirect_uri) else {
        return deps.config.base_url.url("/");
    };
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("error", "access_denied")
            .append_pair("error_description", "the person did not sign in");
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", deps.config.base_url.issuer());
    }
    url.to_string()
}

/// The callback's checks of the provider's answer, the code exchange and the ID token.
async fn exchange(
    deps: &Deps,
    provider: &IdentityProvider,
    keys: &FormKey,
    (state, cookie): (&UpstreamState, &str),
    params: &Params,
    now: u64,
) -> Result<Identity, Response<Body>> {
    if let Err(why) = check_issuer(&provider.issuer, Some(&deps.config.base_url)) {
        return Err(upstream_failed(&UpstreamError::Misconfigured(why)));
    }
    let allowance = Unlimited(tokio::time::Instant::now() + EXCHANGE_BUDGET);
    let metadata = upstream::metadata(&deps.provider_fetcher, provider, now, &allowance)
        .await
        .map_err(|err| upstream_failed(&err))?;
    let single = |name: &str| params.single(name).ok().flatten();
    // RFC 9207: a response naming another issuer came from a mix-up; a provider that says
    // it always sends `iss` must have sent it.
    match single("iss") {
        Some(iss) if iss != provider.issuer => {
            tracing::warn!(provider = %provider.id, "callback iss is not the provider's issuer");
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in came from the wrong place",
                "The answer did not come from the identity provider this sign-in went to. Start again from the app.",
            ));
        }
        None if metadata.iss_parameter_supported => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in came from the wrong place",
                "The answer did not say which identity provider sent it. Start again from the app.",
            ));
        }
        _ => {}
    }
    let Some(code) = single("code") else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The identity provider sent no code",
            "Start again from the app.",
        ));
    };
    let secret = deps
        .identity_providers
        .secret_of(&provider.id, now)
        .await
        .map_err(|err| {
            tracing::error!(provider = %provider.id, cause = %err, "identity provider secret unavailable");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Alta is unavailable",
                "Signing in through this identity provider is not possible right now. Please try again in a moment.",
            )
        })?;
    let exchange = CodeExchange {
        code,
        code_verifier: &pkce_verifier(keys, state, cookie),
        redirect_uri: &callback_url(deps),
        nonce: &oidc_nonce(keys, state, cookie),
        now,
    };
    upstream::sign_in(
        &deps.provider_fetcher,
        &metadata,
        provider,
        &secret,
        &exchange,
        &allowance,
    )
    .await
    .map_err(|err| {
        tracing::warn!(provider = %provider.id, cause = %err, "identity provider sign-in failed");
        upstream_failed(&err)
    })
}

pub(crate) enum LinkFailure {
    NoMatch(Unlinkable),
    Store(StoreError),
}

impl From<StoreError> for LinkFailure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// The Alta user a sign-in (or identity assertion) is, found but not yet linked: what
/// the caller checks before anything is written.
pub(crate) struct Linking {
    pub user: User,
    /// The link to make: this is the person's first sign-in through the issuer.
    new_link: Option<IdentityLink>,
}

/// The Alta user this sign-in is, linked now by its email if it was not yet.
pub(crate) async fn linked_user(
    deps: &Deps,
    provider: &IdentityProvider,
    identity: &Identity,
    now: u64,
) -> Result<User, LinkFailure> {
    let linking = find_linked_user(deps, provider, identity, now).await?;
    complete_link(deps, linking).await
}

/// The Alta user this sign-in (or identity assertion) is: by its link, or by its email
/// under the provider's rules. Writes nothing: [`complete_link`] does, once every other
/// check of the caller has passed.
pub(crate) async fn find_linked_user(
    deps: &Deps,
    provider: &IdentityProvider,
    identity: &Identity,
    now: u64,
) -> Result<Linking, LinkFailure> {
    let no_user = || LinkFailure::NoMatch(Unlinkable::NoUser);
    // A tenant is checked at every sign-in, not only the first.
    if let Some(tenant) = &provider.tenant
        && identity.tenant.as_ref() != Some(tenant)
    {
        return Err(LinkFailure::NoMatch(Unlinkable::OtherTenant));
    }
    let email = email_to_link(provider, identity);
    if let Some(link) = deps
        .identities
        .identity_link(&identity.issuer, &identity.subject)
        .await?
    {
        // Made through another provider of the same issuer (an open one, say): this
        // provider's own rules must hold too, for the same person.
        if link.provider_id != provider.id {
            let email = email.map_err(LinkFailure::NoMatch)?;
            if email != link.email {
                return Err(LinkFailure::NoMatch(Unlinkable::OutsideDomains));
            }
        }
        let user = linked_user_of(deps, &link).await?.ok_or_else(no_user)?;
        return Ok(Linking {
            user,
            new_link: None,
        });
    }
    let email = email.map_err(LinkFailure::NoMatch)?;
    let user = deps
        .directory
        .user_by_email(&email)
        .await?
        .ok_or_else(no_user)?;
    let new_link = IdentityLink {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        user_id: user.user_id.clone(),
        email: user.email.clone(),
        provider_id: provider.id.clone(),
        created_at: now,
    };
    Ok(Linking {
        user,
        new_link: Some(new_link),
    })
}

/// Writes the link [`find_linked_user`] found to make, if any.
pub(crate) async fn complete_link(deps: &Deps, linking: Linking) -> Result<User, LinkFailure> {
    let Linking { user, new_link } = linking;
    let Some(link) = new_link else {
        return Ok(user);
    };
    match deps.identities.create_identity_link(&link).await {
        Ok(()) => {
            tracing::info!(provider = %link.provider_id, user_id = %user.user_id, "identity linked");
            Ok(user)
        }
        // Two first sign-ins at once: whichever link was made decides, and it must be
        // the same person the caller checked.
        Err(StoreError::Conflict) => {
            let made = deps
                .identities
                .identity_link(&link.issuer, &link.subject)
                .await?;
            match made {
                Some(made) if made.user_id == user.user_id => Ok(user),
                _ => Err(LinkFailure::NoMatch(Unlinkable::LinkedElsewhere)),
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// The user a link names, if they still have the email it was made with.
async fn linked_user_of(deps: &Deps, link: &IdentityLink) -> Result<Option<User>, StoreError> {
    Ok(deps
        .directory
        .user_by_email(&link.email)
        .await?
        .filter(|user| user.user_id == link.user_id))
}

/// A page for an upstream failure: the provider's fault or reach (502), or a token that
/// does not hold (400).
fn upstream_failed(err: &UpstreamError) -> Response<Body> {
    match err {
        UpstreamError::IdToken(why) => error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in could not be verified",
            &format!("{why}. Start again from the app."),
        ),
        UpstreamError::Refused(_) => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider refused the sign-in",
            "Start again from the app. If it happens again, tell your Alta administrator.",
        ),
        UpstreamError::Unreachable(_) => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider could not be reached",
            "Please try again in a moment.",
        ),
        UpstreamError::Misconfigured(_) => error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider is not set up correctly",
            "Tell your Alta administrator.",
        ),
    }
}

fn unavailable(err: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(cause = %err, "sign-in through an identity provider failed inside the server");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Alta is unavailable",
        "Please try again in a moment.",
    )
}
