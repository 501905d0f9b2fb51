//! `GET /authorize` shows Alta's sign-in and consent page; `POST /authorize` signs the
//! person in and sends them back to the client with a code (or `access_denied`). A person
//! with several Alta accounts chooses one first, on a second page (form field `account`,
//! the first accessible account preselected); a person with one account never sees it.
//!
//! A person may also sign in through an identity provider (a "Sign in with …" button, or
//! an email whose domain a provider claims): `oauth::upstream` sends them there and takes
//! them back at `GET /authorize/callback`, to the account page, where they consent. An
//! account that requires a provider is only connected by people who signed in through it.
//!
//! Order matters: until `client_id` and `redirect_uri` are trusted, every error is an HTML
//! page here, never a redirect (an open redirector otherwise). After that, errors go to
//! the client's redirect URI with `state` and `iss` (RFC 9207).

use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::clients::metadata_document::MetadataDocumentError;
use crate::clients::{Client, ClientSource};
use crate::deps::Deps;
use crate::digest::sha256_hex;
use crate::directory::{Account, Membership, PASSWORD_IDP, normalize_email};
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::http::{Params, route_path};
use crate::keys::FormKey;
use crate::oauth::client_auth::{RequestFetches, ResolveError, resolve_client};
use crate::oauth::connections;
use crate::oauth::pages::{
    AccountChoice, AccountPage, ProviderButton, SignInPage, account_page, error_page, sign_in_page,
};
use crate::oauth::pending::{
    self, AuthorizationRequest, PENDING_LIFETIME_SECONDS, PendingAuthorization, SignedIn,
};
use crate::oauth::resource::requested_resource;
use crate::oauth::sign_in::{Refusal, accessible_accounts, sign_in};
use crate::oauth::signed_form::{self, NonceCookie, Posted, Unread};
use crate::oauth::upstream::{self, AfterSignIn, CALLBACK_PATH, Offer};
use crate::pkce::{ChallengeMethod, CodeChallenge};
use crate::random;
use crate::records::client::GrantType;
use crate::records::grant::{AuthorizationCodeRecord, CODE_LIFETIME_SECONDS, TokenHash};
use crate::records::ids::{FamilyId, UserId};
use crate::scope::ScopeSet;
use crate::secret::SecretString;

pub use crate::oauth::sign_in::{
    MAX_SIGN_IN_FAILURES, MAX_SIGN_IN_FAILURES_PER_ADDRESS, SIGN_IN_FAILURE_WINDOW_SECONDS,
};

mod submit;
use submit::*;

const MAX_STATE_LEN: usize = 4096;
/// 256 bits: a code is a bearer credential for 60 seconds.
const CODE_BYTES: usize = 32;

/// The authorize function's two pages: consent (`/authorize`) and connected apps
/// (`/connections`).
const ENDPOINT: Endpoint = Endpoint {
    name: "authorize",
    paths: &["/authorize", CALLBACK_PATH, connections::PATH],
    methods: Methods::Page,
    cors: Cors::None,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        let post = *req.method() == Method::POST;
        match route_path(req, &deps.config.base_url) {
            connections::PATH if post => connections::submit(req, deps).await,
            connections::PATH => connections::show(deps).await,
            CALLBACK_PATH if !post => match upstream::callback(req, deps).await {
                Ok(returned) => after_upstream_sign_in(req, deps, returned).await,
                Err(page) => page,
            },
            _ if post => submit(req, deps).await,
            _ => show(req, deps).await,
        }
    })
    .await
}

/// Where errors go once the redirect URI is trusted.
struct ClientRedirect {
    redirect_uri: String,
    state: Option<String>,
    issuer: String,
}

impl ClientRedirect {
    fn error(&self, err: OAuthError) -> Response<Body> {
        let mut params = vec![
            ("error", err.code.as_str().to_owned()),
            ("error_description", err.description.into_owned()),
        ];
        self.push_common(&mut params);
        redirect(&self.redirect_uri, &params)
    }

    fn code(&self, code: &SecretString) -> Response<Body> {
        let mut params = vec![("code", code.secret().to_owned())];
        self.push_common(&mut params);
        redirect(&self.redirect_uri, &params)
    }

    fn push_common(&self, params: &mut Vec<(&'static str, String)>) {
        if let Some(state) = &self.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", self.issuer.clone()));
    }
}

/// A 302 to the client, with the parameters added to any query its URI already has.
fn redirect(redirect_uri: &str, params: &[(&str, String)]) -> Response<Body> {
    let location = match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // A registered redirect URI always parses; refuse rather than guess.
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect",
                "The app's redirect URI is invalid.",
            );
        }
    };
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::FOUND;
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert("location", value);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

fn client_error_page(err: ResolveError) -> Response<Body> {
    match err {
        ResolveError::Unknown => error_page(
            StatusCode::BAD_REQUEST,
            "Unknown app",
            "This app is not registered with Alta, or its registration has expired.",
        ),
        ResolveError::MetadataDocument(err @ MetadataDocumentError::Busy) => error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Alta is busy",
            &err.to_string(),
        ),
        ResolveError::MetadataDocument(err) => error_page(
            StatusCode::BAD_REQUEST,
            "This app could not be verified",
            &err.to_string(),
        ),
        ResolveError::Store(err) => {
            tracing::error!(cause = %err, "client lookup failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Alta is unavailable",
                "Please try again in a moment.",
            )
        }
    }
}

/// The redirect URI the request names, checked against the client's registrations; on
/// failure, the title and message of the error page.
fn trusted_redirect_uri(
    client: &Client,
    requested: Option<&str>,
) -> Result<(String, bool), (&'static str, &'static str)> {
    match requested {
        Some(uri) if client.redirect_uri_matching(uri).is_some() => Ok((uri.to_owned(), true)),
        Some(_) => Err((
            "Unregistered redirect",
            "The app asked to be sent to an address it did not register. Nothing was sent to it.",
        )),
        None if client.redirect_uris.len() == 1 => {
            Ok((client.redirect_uris[0].as_str().to_owned(), false))
        }
        None => Err((
            "Missing redirect",
            "The app registered several redirect addresses and did not say which to use.",
        )),
    }
}

fn nonce_cookie(deps: &Deps) -> NonceCookie {
    signed_form::consent_cookie(&deps.config.base_url)
}

/// The CSP `form-action` source for where the post-consent redirect goes.
fn redirect_origin(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url.origin().ascii_serialization(),
        Ok(url) => format!("{}:", url.scheme()),
        Err(_) => "'none'".into(),
    }
}

async fn show(req: &Request, deps: &Deps) -> Response<Body> {
    let params = Params::from_query(req);
    let client_id = match params.single("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Missing app",
                "The request names no client_id.",
            );
        }
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()),
    };
    let client = match resolve_client(deps, client_id, &RequestFetches::of(req, deps)).await {
        Ok(client) => client,
        Err(err) => return client_error_page(err),
    };
    let requested_redirect = match params.single("redirect_uri") {
        Ok(uri) => uri,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()),
    };
    let (redirect_uri, redirect_uri_sent) = match trusted_redirect_uri(&client, requested_redirect)
    {
        Ok(found) => found,
        Err((title, message)) => return error_page(StatusCode::BAD_REQUEST, title, message),
    };
    let mut to_client = ClientRedirect {
        redirect_uri,
        state: None,
        issuer: deps.config.base_url.issuer().to_owned(),
    };
    match validate_request(&params, &client, deps, &mut to_client, redirect_uri_sent) {
        Ok(pending) => render_sign_in(deps, &client, pending).await,
        // Only a pre-configured client's redirect URI is Alta's to trust before the person
        // has done anything: anyone can register (or publish) any URI, and redirecting
        // their malformed requests there would make this page an open redirector (RFC 9700
        // §4.11.2). Their errors are shown here instead.
        Err(err) if !matches!(client.source, ClientSource::Preconfigured) => error_page(
            StatusCode::BAD_REQUEST,
            "The app sent an invalid request",
            &format!(
                "{} ({}). Return to the app and connect to Alta again.",
                err.description,
                err.code.as_str()
            ),
        ),
        Err(err) => to_client.error(err),
    }
}

/// The checks whose failures the client hears about at its redirect URI.
fn validate_request(
    params: &Params,
    client: &Client,
    deps: &Deps,
    to_client: &mut ClientRedirect,
    redirect_uri_sent: bool,
) -> Result<PendingAuthorization, OAuthError> {
    let single = |name: &str| params.single(name);
    let state = single("state")?;
    if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(OAuthError::invalid_request(format!(
            "state is longer than {MAX_STATE_LEN} characters"
        )));
    }
    to_client.state = state.map(str::to_owned);

    match single("response_type")? {
        Some("code") => {}
        None => {
            return Err(OAuthError::invalid_request(
                "response_type is required; use code",
            ));
        }
        Some(other) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported; use code"),
            ));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    // The challenge first: a request without PKCE at all is told that, not that a
    // method it never named is refused.
    let challenge = single("code_challenge")?.ok_or_else(|| {
        OAuthError::invalid_request("code_challenge is required (PKCE with S256)")
    })?;
    ChallengeMethod::parse(single("code_challenge_method")?)?;
    let challenge = CodeChallenge::parse(challenge)?;

    let allowed = client.allowed_scopes.clone().unwrap_or_else(ScopeSet::all);
    let scope = match single("scope")? {
        None => allowed.clone(),
        Some(raw) => ScopeSet::parse(raw).map_err(|unknown| {
            OAuthError::new(
                OAuthErrorCode::InvalidScope,
                format!("scope `{}` is not supported", unknown.0),
            )
        })?,
    };
    let scope = if scope.is_empty() {
        allowed.clone()
    } else {
        scope
    };
    if !scope.is_subset(&allowed) {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "the requested scope exceeds what this client registered",
        ));
    }
    let resource = requested_resource(params, &deps.config.base_url)?;

    let now = deps.clock.now();
    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: to_client.redirect_uri.clone(),
        redirect_uri_sent,
        scope,
        resource,
        code_challenge: challenge,
        state: to_client.state.clone(),
    };
    let nonce = random::token(16);
    Ok(PendingAuthorization::new(
        &deps.config.base_url,
        now,
        nonce,
        request,
    ))
}

/// Back from an identity provider: the page the sign-in was for.
async fn after_upstream_sign_in(
    req: &Request,
    deps: &Deps,
    returned: upstream::Returned,
) -> Response<Body> {
    let upstream::Returned {
        keys,
        nonce,
        signed_in,
        after,
    } = returned;
    match after {
        AfterSignIn::Consent { request } => {
            let now = deps.clock.now();
            let base = &deps.config.base_url;
            let pending = PendingAuthorization {
                signed_in: Some(signed_in),
                ..PendingAuthorization::new(base, now, nonce.clone(), request)
            };
            let mut resp = consent_after_sign_in(req, deps, &keys, pending).await;
            if let Some(value) = nonce_cookie(deps).set(&nonce, PENDING_LIFETIME_SECONDS) {
                resp.headers_mut().append("set-cookie", value);
            }
            resp
        }
        AfterSignIn::Connections => {
            connections::after_sign_in(deps, &keys, &nonce, signed_in).await
        }
    }
}

/// The client of a pending request, read again when its form comes back: it must still
/// have the redirect URI the request named.
async fn pending_client(
    req: &Request,
    deps: &Deps,
    request: &AuthorizationRequest,
) -> Result<Client, Response<Body>> {
    let fetches = RequestFetches::of(req, deps);
    let client = resolve_client(deps, &request.client_id, &fetches)
        .await
        .map_err(client_error_page)?;
    if client
        .redirect_uri_matching(&request.redirect_uri)
        .is_none()
    {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Unregistered redirect",
            "The app no longer has this redirect address.",
        ));
    }
    Ok(client)
}

/// After a sign-in through an identity provider: the account page, always (its Allow is
/// the consent).
async fn consent_after_sign_in(
    req: &Request,
    deps: &Deps,
    keys: &FormKey,
    pending: PendingAuthorization,
) -> Response<Body> {
    let client = match pending_client(req, deps, &pending.request).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let Some(signed_in) = pending.signed_in.clone() else {
        return unavailable("no one signed in after the identity provider");
    };
    let accounts = match accessible_accounts(deps, &signed_in.user_id).await {
        Ok(accounts) => accounts,
        Err(err) => return unavailable(err),
    };
    if accounts.is_empty() {
        return no_account(&signed_in.email);
    }
    let offer = upstream::offer(deps).await;
    let action = deps.config.base_url.url("/authorize");
    render_account_choice(keys, &client, &pending, &accounts, None, (&offer, &action))
}

fn no_account(email: &str) -> Response<Body> {
    error_page(
        StatusCode::FORBIDDEN,
        "No Alta account",
        &format!(
            "You signed in as {email}, but you are not a member of any Alta account yet. Ask an account owner to invite you."
        ),
    )
}

/// Signs the pending request into the form and sets its nonce cookie.
async fn render_sign_in(
    deps: &Deps,
    client: &Client,
    pending: PendingAuthorization,
) -> Response<Body> {
    let keys = match deps.form_keys.current().await {
        Ok(keys) => keys,
        Err(err) => return unavailable(err),
    };
    let field = match pending::sign(&keys, &pending) {
        Ok(field) => field,
        Err(err) => {
            tracing::error!(cause = %err, "signing the pending authorization failed");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again.",
            );
        }
    };
    let offer = upstream::offer(deps).await;
    render_with_field(deps, client, &pending, &field, None, true, &offer)
}

fn render_with_field(
    deps: &Deps,
    client: &Client,
    pending: &PendingAuthorization,
    field: &str,
    error: Option<(StatusCode, &str, &str)>,
    set_cookie: bool,
    offer: &Offer,
) -> Response<Body> {
    let host = client
        .redirect_uri_matching(&pending.request.redirect_uri)
        .map(|u| u.display_host())
        .unwrap_or_default();
    let (status, email, message) = match error {
        Some((status, email, message)) => (status, email, Some(message)),
        None => (StatusCode::OK, "", None),
    };
    let document_host = client.document_host();
    let mut resp = sign_in_page(
        status,
        &SignInPage {
            client_name: client.display_name(),
            client_host: document_host.as_deref(),
            redirect_host: &host,
            scopes: &pending.request.scope,
            pending: field,
            email,
            error: message,
            providers: &offer.buttons(),
            action: &deps.config.base_url.url("/authorize"),
            form_action: &offer.form_action(Some(&redirect_origin(&pending.request.redirect_uri))),
        },
    );
    if set_cookie
        && let Some(value) = nonce_cookie(deps).set(&pending.nonce, PENDING_LIFETIME_SECONDS)
    {
        resp.headers_mut().append("set-cookie", value);
    }
    resp
}

fn unavailable(err: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(cause = %err, "authorization failed inside the server");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Alta is unavailable",
        "Please try again in a moment.",
    )
}
