//! The authorization_code grant: the code redeemed once, its tokens issued, and the
//! grant it starts recorded (ending the grants it replaces).

use super::*;

/// Grants one person keeps in all: beyond this, the least recently used end (a person's
/// grants are one stored item, and nobody uses a hundred apps at once).
pub(super) const MAX_GRANTS_PER_PERSON: usize = 100;

/// The authorization_code grant: the code is consumed first, by one atomic conditional
/// delete, and only then checked, so that no two requests can both pass the checks.
pub(super) async fn redeem_code(
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
    let lifetimes = deps.config.tokens;
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
                now + deps.config.tokens.family,
            )
            .await?;
            deps.revocations
                .revoke(
                    &revoked_jti_key(&redeemed.access_token_jti),
                    revocation_expiry(redeemed.access_token_expires_at),
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
        idp: &record.idp,
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
                idp: record.idp.clone(),
                issued_at: now,
                expires_at: now + lifetimes.refresh_idle,
                family_expires_at: now + lifetimes.family,
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
            access_token_expires_at: now + lifetimes.access,
            expires_at: now + REDEEMED_CODE_MEMORY_SECONDS,
        })
        .await?;
    let redirect_host = client
        .redirect_uri_matching(&record.redirect_uri)
        .or(client.redirect_uris.first())
        .map(|u| u.display_host())
        .unwrap_or_default();
    let grant = GrantRecord {
        grant_id: record.family_id.clone(),
        user_id: record.user_id.clone(),
        client_id: client.client_id.clone(),
        client_name: truncated(client.display_name(), MAX_GRANT_NAME_BYTES),
        redirect_host: truncated(&redirect_host, MAX_GRANT_HOST_BYTES),
        scope: record.scope.clone(),
        resource: record.resource.clone(),
        account_id: record.account_id.clone(),
        idp: record.idp.clone(),
        managed_by: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + deps.config.tokens.family,
    };
    record_grant(
        deps,
        client,
        grant,
        GrantType::AuthorizationCode.as_str(),
        now,
    )
    .await?;
    tracing::info!(client_id = %client.client_id, user_id = %record.user_id, "code redeemed");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: deps.config.tokens.access,
        refresh_token,
        scope: record.scope.to_string(),
    })
}

/// Records a new grant (a redeemed code's, an identity assertion's), and ends the grants
/// it replaces: for a
/// dynamically registered client (one install), its previous grant for this person and
/// resource; for a client whose id every install shares (pre-configured, metadata
/// document), all but the [`MAX_GRANTS_PER_SHARED_CLIENT`] most recently used, so that
/// signing in on a second laptop does not sign the first one out. Past
/// [`MAX_GRANTS_PER_PERSON`], the least recently used grants end; grants past their end
/// are forgotten in the same write.
pub(super) async fn record_grant(
    deps: &Deps,
    client: &Client,
    grant: GrantRecord,
    grant_type: &str,
    now: u64,
) -> Result<(), OAuthError> {
    let (mut live, expired): (Vec<GrantRecord>, Vec<GrantRecord>) = deps
        .refresh_tokens
        .grants(&grant.user_id)
        .await?
        .into_iter()
        .filter(|g| g.grant_id != grant.grant_id)
        .partition(|g| g.is_live(now));
    // Least recently used first: those end first.
    live.sort_by(|a, b| (a.last_used_at, &a.grant_id).cmp(&(b.last_used_at, &b.grant_id)));
    let keep = match client.source {
        ClientSource::Registered { .. } => 0,
        ClientSource::Preconfigured | ClientSource::MetadataDocument => {
            MAX_GRANTS_PER_SHARED_CLIENT - 1
        }
    };
    // A grant the company's provider made never ends one the person consented to, nor the
    // other way round.
    let same = |g: &GrantRecord| {
        g.client_id == client.client_id
            && g.resource == grant.resource
            && g.managed_by == grant.managed_by
    };
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
    for ended in &ended {
        revoke_family(deps, &ended.grant_id, ended.expires_at).await?;
        tracing::info!(user_id = %grant.user_id, grant_id = %ended.grant_id, client_id = %ended.client_id, "grant replaced by a newer one");
    }
    let forgotten: Vec<FamilyId> = ended
        .iter()
        .chain(&expired)
        .map(|g| g.grant_id.clone())
        .collect();
    deps.refresh_tokens.put_grant(&grant, &forgotten).await?;
    // What the saved query "apps connected per day" reads.
    tracing::info!(
        grant_id = %grant.grant_id,
        user_id = %grant.user_id,
        account_id = %grant.account_id,
        client_id = %grant.client_id,
        client_name = %grant.client_name,
        redirect_host = %grant.redirect_host,
        idp = %grant.idp,
        scope = %grant.scope,
        grant_type,
        "app connected"
    );
    Ok(())
}
