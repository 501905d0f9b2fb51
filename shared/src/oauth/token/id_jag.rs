//! The jwt-bearer grant with an Identity Assertion JWT Authorization Grant (RFC 7523;
//! enterprise-managed authorization): a company's identity provider vouches that a person
//! may use this app at Alta, and the app gets an access token without a consent page.
//!
//! Only from an authenticated client (a pre-configured client with its secret, or a
//! metadata-document client with `private_key_jwt`), only with an assertion of a provider
//! marked `id_jag`, each check failing as `invalid_grant` with the check named (never the
//! assertion itself in a log). The assertion's `jti` is spent once per issuer (a
//! conditional write, safe across containers), and the person's first sign-in is linked
//! only then. The person acts in the provider's account: the first one that requires this
//! provider and where they are a member. The scope is
//! what the client asked ∩ what the assertion allows ∩ what the role allows. No refresh
//! token: the app asks its provider for a fresh assertion instead, so the company can cut
//! access centrally. The grant shows on the connected-apps page ("managed by" the
//! provider), and disconnecting or revoking it ends its token at once.

use super::*;
use crate::clients::metadata_document::Unlimited;
use crate::digest::sha256_hex;
use crate::directory::Role;
use crate::federation::id_jag::{self, IdJagError};
use crate::federation::provider::{IdentityProvider, check_issuer};
use crate::federation::upstream::{self as upstream_leg, UpstreamError};
use crate::jwt::LEEWAY_SECONDS;
use crate::oauth::sign_in::accessible_accounts;
use crate::oauth::upstream::{LinkFailure, complete_link, find_linked_user};
use crate::rbac::{Permission, role_allows};
use crate::scope::Scope;

/// The metric and log name of this grant.
pub(super) const GRANT_NAME: &str = "jwt_bearer";

fn refused(err: IdJagError) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, err.to_string())
}

/// The scopes a role can use at all.
fn role_scopes(role: Role) -> ScopeSet {
    Scope::ALL
        .into_iter()
        .filter(|scope| match scope {
            Scope::CampaignsWrite => role_allows(role, Permission::EditCampaign),
            Scope::CampaignsRead => role_allows(role, Permission::ReadCampaign),
            Scope::InboxRead => role_allows(role, Permission::ReadEmail),
        })
        .collect()
}

pub(super) async fn exchange_assertion(
    req: &Request,
    params: &Params,
    deps: &Deps,
) -> Result<Response<Body>, OAuthError> {
    let client = authenticate_client(req, params, deps).await?;
    let authenticated = !client.is_public()
        && matches!(
            client.source,
            ClientSource::Preconfigured | ClientSource::MetadataDocument
        );
    if !authenticated {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the jwt-bearer grant is for authenticated clients only: a pre-configured client with its secret, or a metadata-document client with private_key_jwt",
        ));
    }
    let resource = requested_resource(params, &deps.config.base_url)?;
    let assertion = params
        .single("assertion")?
        .ok_or_else(|| OAuthError::invalid_request("assertion is required"))?;
    let asked = match params.single("scope")? {
        None => None,
        Some(raw) => Some(ScopeSet::parse(raw).map_err(|unknown| {
            OAuthError::new(
                OAuthErrorCode::InvalidScope,
                format!("scope `{}` is not supported", unknown.0),
            )
        })?),
    };
    let now = deps.clock.now();
    let issuer = id_jag::claimed_issuer(assertion).map_err(refused)?;
    let provider = trusted_provider(deps, &issuer, now).await?;
    let grant = verified(deps, &provider, assertion, &client.client_id, now).await?;

    let no_match = |failure: LinkFailure| match failure {
        LinkFailure::Store(err) => OAuthError::from(err),
        LinkFailure::NoMatch(why) => OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!("no Alta user matches the assertion's subject: {why}"),
        ),
    };
    // Nothing is written until every check has passed: a refused assertion leaves no link.
    let linking = find_linked_user(deps, &provider, &grant.identity, now)
        .await
        .map_err(no_match)?;
    let user_id = UserId::new(linking.user.user_id.clone());
    let accounts = accessible_accounts(deps, &user_id).await?;
    // Every account that requires the provider is the company's: the person acts in the
    // first of them, in the order their accounts are always listed.
    let Some((membership, account)) = accounts
        .iter()
        .find(|(_, a)| a.required_idp.as_deref() == Some(provider.id.as_str()))
    else {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!(
                "the person is not a member of an Alta account that requires {}",
                provider.display_name
            ),
        ));
    };
    let allowed_by_client = client.allowed_scopes.clone().unwrap_or_else(ScopeSet::all);
    let allowed_by_provider = grant
        .scope
        .as_deref()
        .map_or_else(ScopeSet::all, ScopeSet::parse_known);
    let allowed_by_role = role_scopes(membership.role);
    let scope: ScopeSet = asked
        .filter(|s| !s.is_empty())
        .unwrap_or_else(ScopeSet::all)
        .iter()
        .filter(|s| {
            allowed_by_client.contains(*s)
                && allowed_by_provider.contains(*s)
                && allowed_by_role.contains(*s)
        })
        .collect();
    if scope.is_empty() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "none of the requested scopes is allowed by the client, the assertion and the person's role",
        ));
    }

    // Signed before anything is written: a signing key that cannot be read leaves the
    // assertion unspent and no grant behind.
    let family_id = FamilyId::new(random::token(16));
    let (access_token, _) = issue_access_token(
        deps,
        &client,
        &Grant {
            user_id: &user_id,
            family_id: &family_id,
            account_id: &account.account_id,
            idp: &provider.id,
        },
        &scope,
        &resource,
        now,
    )
    .await?;

    // Used once per issuer until it expires, once every check passed: a copied
    // assertion is worth nothing, and a refused one can be corrected and sent again.
    let spend = format!(
        "idjag#{}",
        sha256_hex(format!("{}\n{}", provider.issuer, grant.jti).as_bytes())
    );
    if !deps
        .revocations
        .use_once(&spend, grant.exp.saturating_add(LEEWAY_SECONDS), now)
        .await?
    {
        return Err(refused(IdJagError::Replayed));
    }
    complete_link(deps, linking).await.map_err(no_match)?;

    let access_lifetime = deps.config.tokens.access;
    let grant_record = GrantRecord {
        grant_id: family_id.clone(),
        user_id: user_id.clone(),
        client_id: client.client_id.clone(),
        client_name: truncated(client.display_name(), MAX_GRANT_NAME_BYTES),
        redirect_host: String::new(),
        scope: scope.clone(),
        resource: resource.clone(),
        account_id: account.account_id.clone(),
        idp: provider.id.clone(),
        managed_by: Some(provider.id.clone()),
        created_at: now,
        last_used_at: now,
        // The grant lives as long as its one access token.
        expires_at: now + access_lifetime,
    };
    // Handed out only once its grant is recorded, so that the grant can always end it.
    record_grant(deps, &client, grant_record, GRANT_NAME, now).await?;
    tracing::info!(client_id = %client.client_id, user_id = %user_id, account_id = %account.account_id, provider = %provider.id, scope = %scope, "identity assertion grant");
    deps.metrics.record(Measurement::TokenIssued(GRANT_NAME));
    Ok(h::json_response(
        StatusCode::OK,
        &TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: access_lifetime,
            refresh_token: None,
            scope: scope.to_string(),
        },
        Headers::no_store(),
    ))
}

/// The provider marked `id_jag` whose issuer the assertion names.
async fn trusted_provider(
    deps: &Deps,
    issuer: &str,
    now: u64,
) -> Result<IdentityProvider, OAuthError> {
    let providers = deps
        .identity_providers
        .all(now, deps.identities.identity_providers())
        .await?;
    let mut trusted = providers.iter().filter(|p| p.id_jag && p.issuer == issuer);
    let provider = trusted
        .next()
        .cloned()
        .ok_or_else(|| refused(IdJagError::UntrustedIssuer))?;
    // alta-admin and ALTA_IDENTITY_PROVIDERS allow one; two would make the domains and the
    // account a matter of which record comes first.
    if let Some(other) = trusted.next() {
        tracing::error!(provider = %provider.id, other = %other.id, "two identity providers take ID-JAGs from one issuer: remove --id-jag from one");
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "this issuer's ID-JAGs cannot be used: ask an Alta operator",
        ));
    }
    check_issuer(&provider.issuer, Some(&deps.config.base_url))
        .map_err(|_| refused(IdJagError::UntrustedIssuer))?;
    Ok(provider)
}

/// The assertion checked with the provider's keys (fetched again once if it names a key
/// they lack).
async fn verified(
    deps: &Deps,
    provider: &IdentityProvider,
    assertion: &str,
    client_id: &str,
    now: u64,
) -> Result<id_jag::IdJag, OAuthError> {
    let allowance = Unlimited::from_now();
    // The details are the operator's (addresses, the provider's answers), not the
    // client's: they go to the log.
    let unusable = |err: UpstreamError| {
        tracing::warn!(provider = %provider.id, cause = %err, "identity provider keys unusable for an identity assertion");
        match err {
            UpstreamError::Unreachable(_) => {
                OAuthError::unavailable("the identity provider could not be reached")
            }
            _ => OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the identity provider's keys could not be used",
            ),
        }
    };
    let metadata = upstream_leg::metadata(&deps.provider_fetcher, provider, now, &allowance)
        .await
        .map_err(unusable)?;
    let base = &deps.config.base_url;
    let resource = base.mcp_resource();
    let expected = id_jag::Expected {
        issuer: &provider.issuer,
        audience: base.issuer(),
        resource: &resource,
        client_id,
        now,
    };
    let keys = |refresh| {
        deps.provider_fetcher
            .client_keys(&metadata.jwks_uri, now, refresh, &allowance)
    };
    let first = keys(false).await.map_err(|e| unusable(e.into()))?;
    match id_jag::validate(assertion, &first, &expected) {
        Err(IdJagError::Signature(crate::clients::assertion::SignatureError::UnknownKey)) => {
            let again = keys(true).await.map_err(|e| unusable(e.into()))?;
            id_jag::validate(assertion, &again, &expected).map_err(refused)
        }
        outcome => outcome.map_err(refused),
    }
}
