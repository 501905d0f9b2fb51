//! What an operator sees and does about an account's connected apps (`alta-admin
//! connections` and `disconnect`): every live grant of the account's members, as each
//! person's `/connections` page lists them, and ending one at once, with the same effect
//! as the person's own Disconnect.

use crate::deps::Deps;
use crate::directory::Member;
use crate::oauth::connections::live_grants;
use crate::oauth::grant_end::end_grant;
use crate::records::grant::GrantRecord;
use crate::records::ids::UserId;
use crate::store::StoreError;

/// A live grant to the account, and whose it is.
#[derive(Debug, Clone)]
pub struct Connection {
    pub member: Member,
    pub grant: GrantRecord,
}

/// Every live grant to `account_id`, most recently used first. A grant recorded before
/// tokens named their account is listed where `/mcp` acts for it: the person's first
/// account that accepts how they signed in.
pub async fn account_connections(
    deps: &Deps,
    account_id: &str,
) -> Result<Vec<Connection>, StoreError> {
    let mut connections = Vec::new();
    for member in deps.directory.members(account_id).await? {
        let user_id = UserId::new(member.membership.user_id.clone());
        for grant in live_grants(deps, &user_id).await? {
            let acts_in = if grant.account_id.is_empty() {
                first_account_accepting(deps, &user_id, &grant.idp).await?
            } else {
                Some(grant.account_id.clone())
            };
            if acts_in.as_deref() == Some(account_id) {
                connections.push(Connection {
                    member: member.clone(),
                    grant,
                });
            }
        }
    }
    connections.sort_by_key(|c| std::cmp::Reverse(c.grant.last_used_at));
    Ok(connections)
}

/// The first of a person's accounts (oldest membership first) that accepts a sign-in
/// through `idp`: where a token naming no account acts.
async fn first_account_accepting(
    deps: &Deps,
    user_id: &UserId,
    idp: &str,
) -> Result<Option<String>, StoreError> {
    for membership in deps.directory.memberships(user_id.as_str()).await? {
        if let Some(account) = deps.directory.account(&membership.account_id).await?
            && account.accepts_idp(idp)
        {
            return Ok(Some(account.account_id));
        }
    }
    Ok(None)
}

/// Ends the account's grant `grant_id` at once: its refresh tokens and access tokens stop
/// working at their next use. `None` if the account has no such live grant.
pub async fn disconnect(
    deps: &Deps,
    account_id: &str,
    grant_id: &str,
) -> Result<Option<Connection>, StoreError> {
    let Some(connection) = account_connections(deps, account_id)
        .await?
        .into_iter()
        .find(|c| c.grant.grant_id.as_str() == grant_id)
    else {
        return Ok(None);
    };
    end_grant(
        deps,
        Some(&connection.grant.user_id),
        &connection.grant.grant_id,
        connection.grant.expires_at,
    )
    .await?;
    tracing::info!(
        account_id,
        user_id = %connection.grant.user_id,
        grant_id,
        client_id = %connection.grant.client_id,
        "grant disconnected by an operator"
    );
    Ok(Some(connection))
}
