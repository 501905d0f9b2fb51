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
    GrantRecord, MAX_GRANT_HOST_BYTES, MAX_GRANT_NAME_BYTES, MAX_GRANTS_PER_SHARED_CLIENT,
    REDEEMED_CODE_MEMORY_SECONDS, REFRESH_REUSE_GRACE_RETRIES, REFRESH_REUSE_GRACE_SECONDS,
    RedeemedCode, RefreshTokenRecord, TokenHash, revocation_expiry, revoked_family_key,
    revoked_jti_key, truncated,
};
use crate::records::ids::{FamilyId, Jti, UserId};
use crate::scope::ScopeSet;
use crate::secret::SecretString;
use crate::store::StoreError;

mod code;
use code::*;
mod refresh;
use refresh::*;
mod id_jag;

const MAX_FORM_BYTES: usize = 16 * 1024;
const CLIENT_EXTENSION_STEP_SECONDS: u64 = 86_400;
/// 256 bits for a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;
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
    // Enterprise-managed authorization: no registration names it, so it is not one of a
    // client's registered grants.
    if grant_type == crate::federation::id_jag::JWT_BEARER_GRANT {
        return id_jag::exchange_assertion(req, &params, deps).await;
    }
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type `{grant_type}` is not supported; use authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:jwt-bearer"),
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

/// Whose grant an access token is issued under.
struct Grant<'a> {
    user_id: &'a UserId,
    family_id: &'a FamilyId,
    /// Empty for a grant made before account choice.
    account_id: &'a str,
    idp: &'a str,
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
        exp: now + deps.config.tokens.access,
        iat: now,
        jti: jti.to_string(),
        client_id: client.client_id.to_string(),
        scope: scope.to_string(),
        grant_id: Some(grant.family_id.to_string()),
        account_id: (!grant.account_id.is_empty()).then(|| grant.account_id.to_owned()),
        idp: Some(grant.idp.to_owned()),
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
