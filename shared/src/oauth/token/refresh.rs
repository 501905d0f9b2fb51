//! The refresh_token grant: rotation, the bounded grace, and reuse detection.

use super::*;

/// The refresh_token grant: rotate on every use. A rotated token presented again revokes
/// its whole family, unless it comes back within a short grace (a client retrying after a
/// lost response, or several processes of one app refreshing together), which gets a
/// fresh successor in the same family instead of signing the person out: at most
/// [`REFRESH_REUSE_GRACE_RETRIES`] times, and never once one of its successors was used.
pub(super) async fn rotate_refresh_token(
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
    // An account that now requires an identity provider ends the grants of other
    // sign-ins: the person connects again, through it.
    if !record.account_id.is_empty()
        && let Some(account) = deps.directory.account(&record.account_id).await?
        && let Some(required) = account
            .required_idp
            .as_deref()
            .filter(|_| !account.accepts_idp(&record.idp))
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            format!("this account now requires signing in through {required}: connect again"),
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
        idp: record.idp.clone(),
        issued_at: now,
        expires_at: (now + deps.config.tokens.refresh_idle).min(record.family_expires_at),
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
        idp: &record.idp,
    };
    let (access_token, _) = issue_access_token(deps, client, &grant, &scope, resource, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: deps.config.tokens.access,
        refresh_token: Some(successor_raw),
        scope: scope.to_string(),
    })
}

pub(super) async fn replayed(deps: &Deps, record: &RefreshTokenRecord) -> OAuthError {
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
