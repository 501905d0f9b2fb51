//! `POST /token` (RFC 6749 §3.2, OAuth 2.1): parse → authenticate the client → check the
//! resource → the grant's own checks → issue → respond (§5.1, never cached).
//!
//! Every dead, replayed or foreign code or refresh token is `invalid_grant`: clients such
//! as Claude treat `invalid_request` as fatal, while `invalid_grant` sends them back to
//! sign in.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clients::{Client, ClientSource};
use crate::deps::Deps;
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::http::{self as h, Headers, Params};
use crate::jwt::{AccessTokenClaims, sign_access_token};
use crate::metrics::Measurement;
use crate::oauth::client_auth::authenticate_client;
use crate::oauth::grant_end::{end_grant, revoke_family};
use crate::oauth::resource::requested_resource;
use crate::pkce::CodeVerifier;
use crate::random;
use crate::records::client::GrantType;
use crate::records::grant::{
    ACCESS_TOKEN_LIFETIME_SECONDS, AuthorizationCodeRecord, GrantRecord, MAX_GRANT_HOST_BYTES,
    MAX_GRANT_NAME_BYTES, MAX_GRANTS_PER_SHARED_CLIENT, REDEEMED_CODE_MEMORY_SECONDS,
    REFRESH_FAMILY_MAX_SECONDS, REFRESH_REUSE_GRACE_RETRIES, REFRESH_REUSE_GRACE_SECONDS,
    REFRESH_TOKEN_SLIDING_SECONDS, RedeemedCode, RefreshTokenRecord, TokenHash, revoked_family_key,
    revoked_jti_key, truncated,
};
use crate::records::ids::{FamilyId, Jti, UserId};
use crate::scope::ScopeSet;
use crate::secret::SecretString;
use crate::store::StoreError;

const MAX_FORM_BYTES: usize = 16 * 1024;
const CLIENT_EXTENSION_STEP_SECONDS: u64 = 86_400;
/// 256 bits for a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;
/// Grants one person keeps in all: beyond this, the least recently used end (a person's
/// grants are one stored item, and nobody uses a hundred apps at once).
const MAX_GRANTS_PER_PERSON: usize = 100;

const ENDPOINT: Endpoint = Endpoint {
    name: "token",
    paths: &["/token"],
    methods: Methods::Post,
    cors: Cors::Public,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        token(req, deps)
            .await
            .unwrap_or_else(OAuthError::into_response)
    })
    .await
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    #[serde(serialize_with = "SecretString::serialize_exposed")]
    access_token: SecretString,
    token_type: &'static str,
    expires_in: u64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "SecretString::serialize_exposed_option"
    )]
    refresh_token: Option<SecretString>,
    scope: String,
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, description)
}

async fn token(req: &Request, deps: &Deps) -> Result<Response<Body>, OAuthError> {
    let params = Params::from_form(req, MAX_FORM_BYTES)?;
    let single = |name: &str| params.single(name);
    let grant_type = single("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type `{grant_type}` is not supported; use authorization_code or refresh_token"),
        )
    })?;
    // A refresh reads its token beside the client (neither depends on the other): one
    // round trip for both.
    let refresh_hash = match grant {
        GrantType::RefreshToken => params.single("refresh_token")?.map(TokenHash::of),
        GrantType::AuthorizationCode => None,
    };
    let read_refresh = async {
        match &refresh_hash {
            Some(hash) => deps.refresh_tokens.refresh_token(hash).await,
            None => Ok(None),
        }
    };
    let (client, refresh_record) =
        tokio::join!(authenticate_client(req, &params, deps), read_refresh);
    let client = client?;
    if !client.allows_grant(grant) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client did not register the {} grant", grant.as_str()),
        ));
    }
    let resource = requested_resource(&params, &deps.config.base_url)?;
    let issued = match grant {
        GrantType::AuthorizationCode => redeem_code(&params, &client, &resource, deps).await?,
        GrantType::RefreshToken => {
            rotate_refresh_token(&params, refresh_record?, &client, &resource, deps).await?
        }
    };
    deps.metrics
        .record(Measurement::TokenIssued(grant.as_str()));
    // An active client stays registered: its idle expiry moves forward with use, in steps
    // of at most a day, so that a client's token requests are not each a write.
    if let ClientSource::Registered { expires_at } = client.source {
        let now = deps.clock.now();
        let idle = deps.config.client_idle_expiry.as_secs();
        let extend_to = now + idle;
        if extend_to >= expires_at + (idle / 2).min(CLIENT_EXTENSION_STEP_SECONDS)
            && let Err(err) = deps
                .clients
                .extend_client(&client.client_id, now, extend_to)
                .await
        {
            tracing::warn!(error = %err, "could not extend the client's registration");
        }
    }
    Ok(h::json_response(
        StatusCode::OK,
        &issued,
        Headers::no_store(),
    ))
}

/// The authorization_code grant: the code is consumed first, by one atomic conditional
/// delete, and only then checked, so that no two requests can both pass the checks.
async fn redeem_code(
    params: &Params,
    client: &Client,
    resource: &str,
    deps: &Deps,
) -> Result<TokenResponse, OAuthError> {
    let single = |name: &str| params.single(name);
    let code = single("code")?.ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = match single("code_verifier")? {
        Some(v) => CodeVerifier::parse(v)?,
        None => {
            return Err(invalid_grant(
                "code_verifier is required: this server issues codes only with PKCE",
            ));
        }
    };
    let now = deps.clock.now();
    let code_hash = TokenHash::of(code);
    let Some(record) = deps.codes.take_code(&code_hash, now).await? else {
        // RFC 6749 §4.1.2: a code used twice revokes what its first use issued.
        if let Some(redeemed) = deps.codes.redeemed_code(&code_hash, now).await? {
            tracing::warn!(family_id = %redeemed.family_id, "authorization code replayed; revoking its tokens");
            // The family began at the redemption, before now: it ends before now + 90 days.
            end_grant(
                deps,
                redeemed.user_id.as_ref(),
                &redeemed.family_id,
                now + REFRESH_FAMILY_MAX_SECONDS,
            )
            .await?;
            deps.revocations
                .revoke(
                    &revoked_jti_key(&redeemed.access_token_jti),
                    redeemed.access_token_expires_at,
                )
                .await?;
        }
        return Err(invalid_grant(
            "the authorization code is invalid, expired or already used",
        ));
    };
    if record.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    let redirect_uri = single("redirect_uri")?;
    let redirect_ok = if record.redirect_uri.is_empty() {
        redirect_uri.is_none_or(|r| client.redirect_uri_matching(r).is_some())
    } else {
        redirect_uri == Some(record.redirect_uri.as_str())
    };
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !record.code_challenge.is_satisfied_by(&verifier) {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if record.resource != resource {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "resource differs from the authorization request",
        ));
    }

    let grant = Grant {
        user_id: &record.user_id,
        family_id: &record.family_id,
        account_id: &record.account_id,
    };
    let (access_token, jti) =
        issue_access_token(deps, client, &grant, &record.scope, resource, now).await?;
    let refresh_token = if client.allows_grant(GrantType::RefreshToken) {
        let raw = random::secret(REFRESH_TOKEN_BYTES);
        deps.refresh_tokens
            .put_refresh_token(&RefreshTokenRecord {
                token_hash: TokenHash::of(raw.secret()),
                family_id: record.family_id.clone(),
                client_id: client.client_id.clone(),
                user_id: record.user_id.clone(),
                scope: record.scope.clone(),
                resource: resource.to_owned(),
                account_id: record.account_id.clone(),
                issued_at: now,
                expires_at: now + REFRESH_TOKEN_SLIDING_SECONDS,
                family_expires_at: now + REFRESH_FAMILY_MAX_SECONDS,
                rotated_at: None,
                replaced_by: None,
                previous: None,
                grace_retries: 0,
                successor_used_at: None,
            })
            .await?;
        Some(raw)
    } else {
        None
    };
    deps.codes
        .put_redeemed_code(&RedeemedCode {
            code_hash,
            family_id: record.family_id.clone(),
            user_id: Some(record.user_id.clone()),
            access_token_jti: jti,
            access_token_expires_at: now + ACCESS_TOKEN_LIFETIME_SECONDS,
            expires_at: now + REDEEMED_CODE_MEMORY_SECONDS,
        })
        .await?;
    record_grant(deps, client, &record, now).await?;
    tracing::info!(client_id = %client.client_id, user_id = %record.user_id, "code redeemed");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
        refresh_token,
        scope: record.scope.to_string(),
    })
}

/// The refresh_token grant: rotate on every use. A rotated token presented again revokes
/// its whole family, unless it comes back within a short grace (a client retrying after a
/// lost response, or several processes of one app refreshing together), which gets a
/// fresh successor in the same family instead of signing the person out: at most
/// [`REFRESH_REUSE_GRACE_RETRIES`] times, and never once one of its successors was used.
async fn rotate_refresh_token(
    params: &Params,
    record: Option<RefreshTokenRecord>,
    client: &Client,
    resource: &str,
    deps: &Deps,
) -> Result<TokenResponse, OAuthError> {
    let single = |name: &str| params.single(name);
    let raw = single("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = deps.clock.now();
    let presented = TokenHash::of(raw);
    let dead = || invalid_grant("the refresh token is invalid, expired or revoked");
    let Some(record) = record else {
        return Err(dead());
    };
    if record.client_id != client.client_id {
        return Err(dead());
    }
    if record.expires_at <= now || record.family_expires_at <= now {
        return Err(dead());
    }
    if record.resource != resource {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "resource differs from the original grant",
        ));
    }
    let granted = &record.scope;
    let scope = match single("scope")? {
        None => granted.clone(),
        Some(raw) => {
            let asked = ScopeSet::parse(raw).map_err(|unknown| {
                OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!("scope `{}` is not supported", unknown.0),
                )
            })?;
            if !asked.is_subset(granted) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "a refresh may only narrow the granted scope",
                ));
            }
            // Nothing but scopes this server ignores (`offline_access`): the grant's.
            if asked.is_empty() {
                granted.clone()
            } else {
                asked
            }
        }
    };

    let family_key = revoked_family_key(&record.family_id);
    let successor_raw = random::secret(REFRESH_TOKEN_BYTES);
    let successor = TokenHash::of(successor_raw.secret());
    let successor_record = RefreshTokenRecord {
        token_hash: successor.clone(),
        family_id: record.family_id.clone(),
        client_id: record.client_id.clone(),
        user_id: record.user_id.clone(),
        // RFC 6749 §6: the new refresh token keeps the scope of the grant, even when
        // this access token is narrowed.
        scope: record.scope.clone(),
        resource: record.resource.clone(),
        account_id: record.account_id.clone(),
        issued_at: now,
        expires_at: (now + REFRESH_TOKEN_SLIDING_SECONDS).min(record.family_expires_at),
        family_expires_at: record.family_expires_at,
        rotated_at: None,
        replaced_by: None,
        previous: Some(presented.clone()),
        grace_retries: 0,
        successor_used_at: None,
    };
    let grace_since = now.saturating_sub(REFRESH_REUSE_GRACE_SECONDS);
    let retry_within_grace = || {
        deps.refresh_tokens
            .retry_rotated(&presented, grace_since, REFRESH_REUSE_GRACE_RETRIES)
    };
    match record.rotated_at {
        None => {
            // The usual refresh: the family's revocation check, the rotation, the successor,
            // the grant's "last used" and (while the predecessor's grace may still run) the
            // end of that grace, all in one round trip. If the family turns out revoked,
            // the successor written beside it belongs to a revoked family and can never
            // be used.
            let end_previous_grace = async {
                match &record.previous {
                    Some(previous) if record.issued_at >= grace_since => {
                        deps.refresh_tokens.mark_successor_used(previous, now).await
                    }
                    _ => Ok(()),
                }
            };
            let (revoked, rotated, stored, touched, ended) = tokio::join!(
                deps.revocations.is_revoked(&family_key, now),
                deps.refresh_tokens
                    .mark_rotated(&presented, now, &successor),
                deps.refresh_tokens.put_refresh_token(&successor_record),
                deps.refresh_tokens
                    .touch_grant(&record.user_id, &record.family_id, now),
                end_previous_grace,
            );
            if revoked? {
                return Err(dead());
            }
            match rotated {
                Ok(()) => {}
                // Another request rotated it a moment ago: the same app racing itself,
                // which the grace counts like any other presentation of a rotated token.
                Err(StoreError::Conflict) => match retry_within_grace().await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => return Err(replayed(deps, &record).await),
                    Err(err) => return Err(err.into()),
                },
                Err(err) => return Err(err.into()),
            }
            stored?;
            ended?;
            // "Last used" on the connections page; a failure costs that date, not the refresh.
            if let Err(err) = touched {
                tracing::warn!(error = %err, "could not record the grant's use");
            }
        }
        Some(rotated_at) if rotated_at >= grace_since => {
            let (revoked, retried, stored) = tokio::join!(
                deps.revocations.is_revoked(&family_key, now),
                retry_within_grace(),
                deps.refresh_tokens.put_refresh_token(&successor_record),
            );
            if revoked? {
                return Err(dead());
            }
            match retried {
                Ok(()) => {}
                // Past the count, or a successor was used (the response was not lost):
                // a stolen copy.
                Err(StoreError::Conflict) => return Err(replayed(deps, &record).await),
                Err(err) => return Err(err.into()),
            }
            stored?;
            tracing::info!(family_id = %record.family_id, "rotated refresh token retried within the grace period");
        }
        Some(_) => {
            if deps.revocations.is_revoked(&family_key, now).await? {
                return Err(dead());
            }
            return Err(replayed(deps, &record).await);
        }
    }

    let grant = Grant {
        user_id: &record.user_id,
        family_id: &record.family_id,
        account_id: &record.account_id,
    };
    let (access_token, _) = issue_access_token(deps, client, &grant, &scope, resource, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
        refresh_token: Some(successor_raw),
        scope: scope.to_string(),
    })
}

async fn replayed(deps: &Deps, record: &RefreshTokenRecord) -> OAuthError {
    tracing::warn!(family_id = %record.family_id, client_id = %record.client_id, "rotated refresh token replayed; revoking its family");
    deps.metrics.record(Measurement::RefreshReuseDetected);
    if let Err(err) = end_grant(
        deps,
        Some(&record.user_id),
        &record.family_id,
        record.family_expires_at,
    )
    .await
    {
        return err.into();
    }
    invalid_grant("the refresh token was already used; sign in again")
}

/// Whose grant an access token is issued under.
struct Grant<'a> {
    user_id: &'a UserId,
    family_id: &'a FamilyId,
    /// Empty for a grant made before account choice.
    account_id: &'a str,
}

/// Records the grant a redeemed code starts, and ends the grants it replaces: for a
/// dynamically registered client (one install), its previous grant for this person and
/// resource; for a client whose id every install shares (pre-configured, metadata
/// document), all but the [`MAX_GRANTS_PER_SHARED_CLIENT`] most recently used, so that
/// signing in on a second laptop does not sign the first one out. Past
/// [`MAX_GRANTS_PER_PERSON`], the least recently used grants end; grants past their end
/// are forgotten in the same write.
async fn record_grant(
    deps: &Deps,
    client: &Client,
    code: &AuthorizationCodeRecord,
    now: u64,
) -> Result<(), OAuthError> {
    let (mut live, expired): (Vec<GrantRecord>, Vec<GrantRecord>) = deps
        .refresh_tokens
        .grants(&code.user_id)
        .await?
        .into_iter()
        .filter(|g| g.grant_id != code.family_id)
        .partition(|g| g.is_live(now));
    // Least recently used first: those end first.
    live.sort_by(|a, b| (a.last_used_at, &a.grant_id).cmp(&(b.last_used_at, &b.grant_id)));
    let keep = match client.source {
        ClientSource::Registered { .. } => 0,
        ClientSource::Preconfigured | ClientSource::MetadataDocument => {
            MAX_GRANTS_PER_SHARED_CLIENT - 1
        }
    };
    let same = |g: &GrantRecord| g.client_id == client.client_id && g.resource == code.resource;
    let same_count = live.iter().filter(|g| same(g)).count();
    let mut to_end = same_count.saturating_sub(keep);
    let (mut ended, mut kept) = (Vec::new(), Vec::new());
    for grant in live {
        if to_end > 0 && same(&grant) {
            to_end -= 1;
            ended.push(grant);
        } else {
            kept.push(grant);
        }
    }
    // The new grant takes one place of MAX_GRANTS_PER_PERSON.
    let crowded = (kept.len() + 1).saturating_sub(MAX_GRANTS_PER_PERSON);
    ended.extend(kept.drain(..crowded));
    for grant in &ended {
        revoke_family(deps, &grant.grant_id, grant.expires_at).await?;
        tracing::info!(user_id = %code.user_id, grant_id = %grant.grant_id, client_id = %grant.client_id, "grant replaced by a newer one");
    }
    let redirect_host = client
        .redirect_uri_matching(&code.redirect_uri)
        .or(client.redirect_uris.first())
        .map(|u| u.display_host())
        .unwrap_or_default();
    let grant = GrantRecord {
        grant_id: code.family_id.clone(),
        user_id: code.user_id.clone(),
        client_id: client.client_id.clone(),
        client_name: truncated(client.display_name(), MAX_GRANT_NAME_BYTES),
        redirect_host: truncated(&redirect_host, MAX_GRANT_HOST_BYTES),
        scope: code.scope.clone(),
        resource: code.resource.clone(),
        account_id: code.account_id.clone(),
        created_at: now,
        last_used_at: now,
        expires_at: now + REFRESH_FAMILY_MAX_SECONDS,
    };
    let forgotten: Vec<FamilyId> = ended
        .iter()
        .chain(&expired)
        .map(|g| g.grant_id.clone())
        .collect();
    deps.refresh_tokens.put_grant(&grant, &forgotten).await?;
    Ok(())
}

async fn issue_access_token(
    deps: &Deps,
    client: &Client,
    grant: &Grant<'_>,
    scope: &ScopeSet,
    resource: &str,
    now: u64,
) -> Result<(SecretString, Jti), OAuthError> {
    let keys = deps
        .signing_keys
        .current()
        .await
        .map_err(OAuthError::unavailable)?;
    let jti = Jti::new(random::token(16));
    let claims = AccessTokenClaims {
        iss: deps.config.base_url.issuer().to_owned(),
        sub: grant.user_id.to_string(),
        aud: resource.to_owned(),
        exp: now + ACCESS_TOKEN_LIFETIME_SECONDS,
        iat: now,
        jti: jti.to_string(),
        client_id: client.client_id.to_string(),
        scope: scope.to_string(),
        grant_id: Some(grant.family_id.to_string()),
        account_id: (!grant.account_id.is_empty()).then(|| grant.account_id.to_owned()),
    };
    let key = keys.signing_key(now, deps.config.key_activation());
    let token = sign_access_token(key, &claims).map_err(OAuthError::internal)?;
    Ok((SecretString::new(token), jti))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_hands_out_the_tokens_and_its_debug_form_does_not() {
        let response = TokenResponse {
            access_token: SecretString::new("at-123"),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: Some(SecretString::new("rt-456")),
            scope: "campaigns:read".into(),
        };
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["access_token"], "at-123");
        assert_eq!(json["refresh_token"], "rt-456");
        let debug = format!("{response:?}");
        assert!(
            !debug.contains("at-123") && !debug.contains("rt-456"),
            "{debug}"
        );
        let without = TokenResponse {
            refresh_token: None,
            ..response
        };
        assert!(
            serde_json::to_value(&without)
                .unwrap()
                .get("refresh_token")
                .is_none()
        );
    }
}
