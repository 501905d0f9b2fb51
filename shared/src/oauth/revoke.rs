//! `POST /revoke` (RFC 7009): the client authenticates as at the token endpoint; a
//! refresh token revokes its whole family, an access token its `jti` until it expires.
//! An unknown, foreign or already dead token answers 200 all the same (§2.2), so the
//! endpoint tells a prober nothing.

use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clients::Client;
use crate::deps::Deps;
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::OAuthError;
use crate::http::{self as h, Headers, Params};
use crate::jwt::{self, verify_access_token};
use crate::oauth::client_auth::authenticate_client;
use crate::oauth::grant_end::end_grant;
use crate::records::grant::{TokenHash, revocation_expiry, revoked_jti_key};
use crate::records::ids::{FamilyId, UserId};

const MAX_FORM_BYTES: usize = 16 * 1024;

const ENDPOINT: Endpoint = Endpoint {
    name: "revoke",
    paths: &["/revoke"],
    methods: Methods::Post,
    cors: Cors::Public,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        revoke(req, deps)
            .await
            .unwrap_or_else(OAuthError::into_response)
    })
    .await
}

async fn revoke(req: &Request, deps: &Deps) -> Result<Response<Body>, OAuthError> {
    let params = Params::from_form(req, MAX_FORM_BYTES)?;
    let token = params
        .single("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let client = authenticate_client(req, &params, deps).await?;
    // The hint only decides which lookup goes first (§2.1); both are tried.
    let access_first = params.single("token_type_hint").ok().flatten() == Some("access_token");
    if access_first {
        if !revoke_access_token(token, &client, deps).await? {
            revoke_refresh_token(token, &client, deps).await?;
        }
    } else if !revoke_refresh_token(token, &client, deps).await? {
        revoke_access_token(token, &client, deps).await?;
    }
    Ok(h::json_response(
        StatusCode::OK,
        &serde_json::json!({}),
        Headers::no_store(),
    ))
}

async fn revoke_refresh_token(
    token: &str,
    client: &Client,
    deps: &Deps,
) -> Result<bool, OAuthError> {
    let Some(record) = deps
        .refresh_tokens
        .refresh_token(&TokenHash::of(token))
        .await?
    else {
        return Ok(false);
    };
    if record.client_id == client.client_id {
        end_grant(
            deps,
            Some(&record.user_id),
            &record.family_id,
            record.family_expires_at,
        )
        .await?;
        tracing::info!(client_id = %client.client_id, family_id = %record.family_id, "refresh token family revoked");
    }
    Ok(true)
}

async fn revoke_access_token(
    token: &str,
    client: &Client,
    deps: &Deps,
) -> Result<bool, OAuthError> {
    let keys = deps
        .public_keys
        .with_kid(jwt::key_id(token).as_deref())
        .await
        .map_err(OAuthError::unavailable)?;
    let base = &deps.config.base_url;
    let Ok(claims) = verify_access_token(
        token,
        keys.verification_keys(),
        base.issuer(),
        &base.mcp_resource(),
    ) else {
        return Ok(false);
    };
    if client.client_id == claims.client_id.as_str() {
        deps.revocations
            .revoke(&revoked_jti_key(&claims.jti), revocation_expiry(claims.exp))
            .await?;
        // Revoking either token of a grant ends the grant: its refresh tokens and every
        // access token minted under it. No family outlives its start plus its lifetime.
        if let Some(grant_id) = &claims.grant_id {
            end_grant(
                deps,
                Some(&UserId::new(claims.sub.clone())),
                &FamilyId::new(grant_id.clone()),
                claims.iat + deps.config.tokens.family,
            )
            .await?;
        }
        tracing::info!(client_id = %client.client_id, "access token revoked, and its grant");
    }
    Ok(true)
}
