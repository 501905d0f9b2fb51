//! Ending a grant, whoever ends it: the person's Disconnect, the client's revocation, a
//! replayed code or refresh token, a newer grant crowding it out. Its family is revoked
//! for as long as any token of it can live, and it leaves the person's grants item, so
//! that an ended grant never takes a live one's place there.

use crate::deps::Deps;
use crate::records::grant::{family_revocation_expiry, revoked_family_key};
use crate::records::ids::{FamilyId, UserId};
use crate::store::StoreError;

/// Revokes the family (every refresh token and access token of the grant) until its last
/// access token would have expired.
pub async fn revoke_family(
    deps: &Deps,
    family_id: &FamilyId,
    family_expires_at: u64,
) -> Result<(), StoreError> {
    deps.revocations
        .revoke(
            &revoked_family_key(family_id),
            family_revocation_expiry(family_expires_at, deps.config.tokens.access),
        )
        .await
}

/// Revokes the family, then forgets the grant; `user_id` is `None` only for records
/// written before they named the person (the revocation alone ends those).
pub async fn end_grant(
    deps: &Deps,
    user_id: Option<&UserId>,
    family_id: &FamilyId,
    family_expires_at: u64,
) -> Result<(), StoreError> {
    revoke_family(deps, family_id, family_expires_at).await?;
    if let Some(user_id) = user_id {
        deps.refresh_tokens.remove_grant(user_id, family_id).await?;
    }
    Ok(())
}
