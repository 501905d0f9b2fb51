//! `GET /connections` and `POST /connections`: a person signs in (the same throttles as the
//! consent page) and sees the apps connected to their Alta accounts (app, where it sends
//! them, scopes, account, when connected, when last used), and disconnects any of them,
//! which revokes that grant's refresh tokens and access tokens at once.
//!
//! The page's state is a signed form bound to its own nonce cookie (`signed_form`), as on
//! the consent page: another site cannot post it (CSRF), and it lapses after 10 minutes.
//! People sign in here the same ways as on the consent page: a password, a "Sign in with
//! …" button, or their email's identity provider (`oauth::upstream`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::clock::civil_date;
use crate::config::BaseUrl;
use crate::deps::Deps;
use crate::directory::{PASSWORD_IDP, normalize_email};
use crate::keys::FormKey;
use crate::oauth::grant_end::end_grant;
use crate::oauth::pages::{ConnectionRow, connections_page, connections_sign_in_page, error_page};
use crate::oauth::pending::SignedIn;
use crate::oauth::sign_in::{Refusal, accessible_accounts, sign_in};
use crate::oauth::signed_form::{
    self, FORM_LIFETIME_SECONDS, FormClaims, NonceCookie, Posted, Unread,
};
use crate::oauth::upstream::{self, AfterSignIn};
use crate::random;
use crate::records::grant::{GrantRecord, revoked_family_key};
use crate::records::ids::UserId;
use crate::store::StoreError;

pub const PATH: &str = signed_form::CONNECTIONS_PATH;

/// The connections page's signed state: before sign-in, and after it (`signed_in`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConnectionsForm {
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    nonce: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signed_in: Option<SignedIn>,
}

impl FormClaims for ConnectionsForm {
    const TYPE: &'static str = "alta-connections+jwt";

    fn iat(&self) -> u64 {
        self.iat
    }

    fn nonce(&self) -> &str {
        &self.nonce
    }
}

fn audience(base: &BaseUrl) -> String {
    base.url(PATH)
}

/// The page's own URL, absolute: its forms post here wherever it is shown (also at
/// `/authorize/callback`, after an identity provider).
fn page_url(deps: &Deps) -> String {
    deps.config.base_url.url(PATH)
}

fn nonce_cookie(deps: &Deps) -> NonceCookie {
    signed_form::connections_cookie(&deps.config.base_url)
}

/// The sign-in form, with a new nonce cookie.
pub async fn show(deps: &Deps) -> Response<Body> {
    fresh_sign_in(deps, StatusCode::OK, None).await
}

/// A new form with a new nonce cookie.
async fn fresh_sign_in(deps: &Deps, status: StatusCode, error: Option<&str>) -> Response<Body> {
    let keys = match deps.form_keys.current().await {
        Ok(keys) => keys,
        Err(err) => return unavailable(err),
    };
    let now = deps.clock.now();
    let form = ConnectionsForm {
        iss: deps.config.base_url.issuer().to_owned(),
        aud: audience(&deps.config.base_url),
        iat: now,
        exp: now + FORM_LIFETIME_SECONDS,
        nonce: random::token(16),
        signed_in: None,
    };
    let field = match signed_form::sign(&keys, &form) {
        Ok(field) => field,
        Err(err) => return unavailable(err),
    };
    let offer = upstream::offer(deps).await;
    let mut resp = connections_sign_in_page(
        status,
        &field,
        "",
        error,
        &offer.buttons(),
        &offer.form_action(None),
        &page_url(deps),
    );
    if let Some(cookie) = nonce_cookie(deps).set(&form.nonce, FORM_LIFETIME_SECONDS) {
        resp.headers_mut().append("set-cookie", cookie);
    }
    resp
}

pub async fn submit(req: &Request, deps: &Deps) -> Response<Body> {
    let audience = audience(&deps.config.base_url);
    let cookie = nonce_cookie(deps);
    let posted = signed_form::read_posted::<ConnectionsForm>(req, deps, "form", &audience, &cookie);
    let Posted {
        params,
        field,
        keys,
        claims: form,
    } = match posted.await {
        Ok(posted) => posted,
        Err(Unread::Malformed(e)) => {
            return error_page(StatusCode::BAD_REQUEST, "Invalid form", &e.to_string());
        }
        Err(Unread::Unavailable(err)) => return unavailable(err),
        Err(Unread::Invalid) => {
            return fresh_sign_in(
                deps,
                StatusCode::BAD_REQUEST,
                Some("This page has expired or was opened in another browser. Sign in again."),
            )
            .await;
        }
    };
    let action = params.single("action").ok().flatten();
    let offer = upstream::offer(deps).await;
    if let Some(id) = params.single("provider").ok().flatten() {
        return match offer.providers.iter().find(|p| p.id == id) {
            Some(provider) => {
                upstream::start(deps, provider, &form.nonce, AfterSignIn::Connections, None).await
            }
            None => connections_sign_in_page(
                StatusCode::BAD_REQUEST,
                &field,
                "",
                Some("That identity provider is not set up. Sign in another way."),
                &offer.buttons(),
                &offer.form_action(None),
                &page_url(deps),
            ),
        };
    }
    match (&form.signed_in, action) {
        (_, Some("sign_in")) | (None, _) => {
            let email = normalize_email(params.single("email").ok().flatten().unwrap_or_default());
            if let Some(provider) = offer.providers.iter().find(|p| p.claims_email(&email)) {
                let after = AfterSignIn::Connections;
                return upstream::start(deps, provider, &form.nonce, after, Some(&email)).await;
            }
            let password = params
                .single("password")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned();
            match sign_in(req, deps, &email, password).await {
                Ok(user) => {
                    let signed_in = SignedIn {
                        user_id: UserId::new(user.user_id),
                        email: user.email,
                        idp: PASSWORD_IDP.to_owned(),
                    };
                    let form = ConnectionsForm {
                        signed_in: Some(signed_in.clone()),
                        ..form
                    };
                    list(deps, &keys, &form, &signed_in, None).await
                }
                Err(Refusal::Retry(status, message)) => connections_sign_in_page(
                    status,
                    &field,
                    &email,
                    Some(message),
                    &offer.buttons(),
                    &offer.form_action(None),
                    &page_url(deps),
                ),
                Err(Refusal::Unavailable(err)) => unavailable(err),
            }
        }
        (Some(signed_in), Some("disconnect")) => {
            let grant_id = params.single("grant").ok().flatten().unwrap_or_default();
            let notice = match disconnect(deps, &signed_in.user_id, grant_id).await {
                Ok(Some(app)) => format!(
                    "Disconnected {app}. Its access has ended; it will ask you to connect again."
                ),
                Ok(None) => "That app was already disconnected.".to_owned(),
                Err(err) => return unavailable(err),
            };
            list(deps, &keys, &form, signed_in, Some(&notice)).await
        }
        (Some(signed_in), _) => list(deps, &keys, &form, signed_in, None).await,
    }
}

/// After a sign-in through an identity provider: the person's connected apps, on a new
/// form bound to the same cookie.
pub(crate) async fn after_sign_in(
    deps: &Deps,
    keys: &FormKey,
    nonce: &str,
    signed_in: SignedIn,
) -> Response<Body> {
    let now = deps.clock.now();
    let form = ConnectionsForm {
        iss: deps.config.base_url.issuer().to_owned(),
        aud: audience(&deps.config.base_url),
        iat: now,
        exp: now + FORM_LIFETIME_SECONDS,
        nonce: nonce.to_owned(),
        signed_in: Some(signed_in.clone()),
    };
    let mut resp = list(deps, keys, &form, &signed_in, None).await;
    if let Some(cookie) = nonce_cookie(deps).set(nonce, FORM_LIFETIME_SECONDS) {
        resp.headers_mut().append("set-cookie", cookie);
    }
    resp
}

/// Ends one of the person's grants: its refresh family and every access token minted
/// under it are revoked (the mcp function checks the grant on every request). The app's
/// name, or `None` if the person has no such live grant.
async fn disconnect(
    deps: &Deps,
    user_id: &UserId,
    grant_id: &str,
) -> Result<Option<String>, StoreError> {
    let now = deps.clock.now();
    let grants = deps.refresh_tokens.grants(user_id).await?;
    let Some(grant) = grants
        .into_iter()
        .find(|g| g.grant_id == grant_id && g.is_live(now))
    else {
        return Ok(None);
    };
    end_grant(deps, Some(user_id), &grant.grant_id, grant.expires_at).await?;
    tracing::info!(%user_id, grant_id, client_id = %grant.client_id, "grant disconnected by the person");
    Ok(Some(grant.client_name))
}

/// The live grants: recorded, not past their end, not revoked (a replayed code or refresh
/// token revokes a grant without the person's doing).
pub(crate) async fn live_grants(
    deps: &Deps,
    user_id: &UserId,
) -> Result<Vec<GrantRecord>, StoreError> {
    let now = deps.clock.now();
    let mut live = Vec::new();
    for grant in deps.refresh_tokens.grants(user_id).await? {
        if grant.is_live(now)
            && !deps
                .revocations
                .is_revoked(&revoked_family_key(&grant.grant_id), now)
                .await?
        {
            live.push(grant);
        }
    }
    // Most recently used first.
    live.sort_by_key(|g| std::cmp::Reverse(g.last_used_at));
    Ok(live)
}

async fn list(
    deps: &Deps,
    keys: &FormKey,
    form: &ConnectionsForm,
    signed_in: &SignedIn,
    notice: Option<&str>,
) -> Response<Body> {
    let field = match signed_form::sign(keys, form) {
        Ok(field) => field,
        Err(err) => return unavailable(err),
    };
    let (grants, accounts) = match tokio::try_join!(
        live_grants(deps, &signed_in.user_id),
        accessible_accounts(deps, &signed_in.user_id)
    ) {
        Ok(found) => found,
        Err(err) => return unavailable(err),
    };
    let account_name = |id: &str| {
        accounts
            .iter()
            .find(|(m, _)| m.account_id == id)
            .map(|(_, a)| a.name.clone())
            .unwrap_or_else(|| {
                if id.is_empty() {
                    "your first account".to_owned()
                } else {
                    format!("{id} (no longer a member)")
                }
            })
    };
    let names: Vec<String> = grants.iter().map(|g| account_name(&g.account_id)).collect();
    // Grants an identity provider made show its name (a store failure shows its id).
    let providers = deps
        .identity_providers
        .all(deps.clock.now(), deps.identities.identity_providers())
        .await
        .unwrap_or_default();
    let provider_name = |id: &str| {
        providers
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_owned(), |p| p.display_name.clone())
    };
    let managers: Vec<Option<String>> = grants
        .iter()
        .map(|g| g.managed_by.as_deref().map(provider_name))
        .collect();
    let rows: Vec<ConnectionRow<'_>> = grants
        .iter()
        .zip(&names)
        .zip(&managers)
        .map(|((g, account), manager)| ConnectionRow {
            grant_id: &g.grant_id,
            app: &g.client_name,
            redirect_host: &g.redirect_host,
            managed_by: manager.as_deref(),
            scopes: g.scope.iter().map(|s| s.as_str()).collect(),
            account,
            connected: utc_time(g.created_at),
            last_used: utc_time(g.last_used_at),
        })
        .collect();
    connections_page(&signed_in.email, &field, &rows, notice, &page_url(deps))
}

/// `2026-11-30 14:05 UTC`
fn utc_time(unix_seconds: u64) -> String {
    let (y, m, d) = civil_date(unix_seconds);
    let minutes = unix_seconds % 86_400 / 60;
    format!(
        "{y}-{m:02}-{d:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

fn unavailable(err: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(cause = %err, "the connections page failed inside the server");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Alta is unavailable",
        "Please try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            utc_time(1_795_910_400 + 14 * 3600 + 5 * 60 + 59),
            "2026-11-29 14:05 UTC"
        );
    }
}
