//! The demo data (docs/mcp.md, "Demo data"), seeded by the local server (never by a deployed stack).

use crate::account_data::{AccountData, AccountDataError};
use crate::directory::{Account, Membership, Role, User};
use crate::federation::provider::LocalProviders;
use crate::password::PasswordHash;
use crate::secret::SecretString;
use crate::store::{AltaStore, DirectoryStore, IdentityStore, StoreError};

pub const ACME: &str = "acct_acme";
pub const GLOBEX: &str = "acct_globex";
pub const ACME_SALES_INBOX: &str = "inbox_acme_sales";
pub const ACME_SUPPORT_INBOX: &str = "inbox_acme_support";
pub const GLOBEX_INBOX: &str = "inbox_globex_main";

pub const DEMO_USER: &str = "user_demo";
pub const MANAGER_USER: &str = "user_manager";
pub const VIEWER_USER: &str = "user_viewer";
/// Signs in only through an identity provider (no password): `sso@globex.example`.
pub const SSO_USER: &str = "user_sso";

/// Accounts, users and memberships: `demo@` (Admin of Acme, Member of Globex), `manager@`
/// (Manager of Acme, sales inbox only), `viewer@` (Viewer of Acme, no inboxes), and
/// `sso@globex.example`, who has no password (Member of Globex, Viewer of Acme: signs in
/// through an identity provider, when one is configured). Seeding twice changes nothing.
pub async fn seed_directory(
    directory: &dyn DirectoryStore,
    password: &str,
    now: u64,
) -> Result<(), StoreError> {
    let hash = PasswordHash::create(&SecretString::new(password)).map_err(StoreError::Corrupt)?;
    for (id, name, offset) in [(ACME, "Acme Corp", 0), (GLOBEX, "Globex", 1)] {
        directory
            .put_account(&Account {
                account_id: id.into(),
                name: name.into(),
                created_at: now + offset,
                required_idp: None,
            })
            .await?;
    }
    for (user_id, email, name) in [
        (DEMO_USER, "demo@alta.local", "Dana Demo"),
        (MANAGER_USER, "manager@alta.local", "Morgan Manager"),
        (VIEWER_USER, "viewer@alta.local", "Val Viewer"),
        (SSO_USER, "sso@globex.example", "Sam Sso"),
    ] {
        let user = User {
            user_id: user_id.into(),
            email: email.into(),
            name: name.into(),
            password_hash: (user_id != SSO_USER).then(|| hash.clone()),
            created_at: now,
        };
        match directory.create_user(&user).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(err) => return Err(err),
        }
    }
    let memberships = [
        (DEMO_USER, ACME, Role::Admin, vec![], 0),
        (DEMO_USER, GLOBEX, Role::Member, vec![GLOBEX_INBOX], 1),
        (MANAGER_USER, ACME, Role::Manager, vec![ACME_SALES_INBOX], 0),
        (VIEWER_USER, ACME, Role::Viewer, vec![], 0),
        (SSO_USER, GLOBEX, Role::Member, vec![GLOBEX_INBOX], 0),
        (SSO_USER, ACME, Role::Viewer, vec![], 1),
    ];
    for (user_id, account_id, role, inboxes, offset) in memberships {
        directory
            .put_membership(&Membership {
                user_id: user_id.into(),
                account_id: account_id.into(),
                role,
                inbox_grants: inboxes.into_iter().map(str::to_owned).collect(),
                created_at: now + offset,
            })
            .await?;
    }
    Ok(())
}

/// The local server's identity providers (`ALTA_IDENTITY_PROVIDERS`): their records, and
/// the accounts that require them. Loaded at start, after the demo data.
pub async fn load_identity_providers(
    identities: &dyn IdentityStore,
    directory: &dyn DirectoryStore,
    local: &LocalProviders,
) -> Result<(), StoreError> {
    for provider in &local.providers {
        identities.put_identity_provider(provider).await?;
    }
    for (account_id, provider_id) in &local.required_by {
        let Some(mut account) = directory.account(account_id).await? else {
            return Err(StoreError::Corrupt(format!(
                "ALTA_IDENTITY_PROVIDERS: provider {provider_id} names account {account_id}, which does not exist"
            )));
        };
        account.required_idp = Some(provider_id.clone());
        directory.put_account(&account).await?;
    }
    Ok(())
}

/// Campaigns in each status, two Acme inboxes with email, and a little of Globex: the
/// documents in `examples/alta-data/`, which `alta-admin load-data` loads into a stack,
/// moved in time so that the newest item is `now`.
pub async fn seed_alta_data(alta: &dyn AltaStore, now: u64) -> Result<(), StoreError> {
    for (account, document) in [
        (ACME, include_str!("../../examples/alta-data/acme.json")),
        (GLOBEX, include_str!("../../examples/alta-data/globex.json")),
    ] {
        let data = AccountData::parse(document)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .shifted_to(now);
        data.load(alta, account).await.map_err(|e| match e {
            AccountDataError::Store(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn demo_admin_belongs_to_acme_first() {
        let store = MemoryStore::new();
        seed_directory(&store, "alta-demo", 1000).await.unwrap();
        seed_directory(&store, "alta-demo", 2000).await.unwrap();
        let user = store
            .user_by_email("demo@alta.local")
            .await
            .unwrap()
            .unwrap();
        assert!(user.password_hash.unwrap().verify("alta-demo"));
        let memberships = store.memberships(&user.user_id).await.unwrap();
        assert_eq!(memberships.len(), 2);
        assert_eq!(memberships[0].account_id, ACME);
        assert_eq!(memberships[0].role, Role::Admin);
        let manager = store.memberships(MANAGER_USER).await.unwrap();
        assert_eq!(manager[0].inbox_grants, [ACME_SALES_INBOX]);
    }

    #[tokio::test]
    async fn acme_has_a_campaign_in_each_status_and_two_inboxes_with_email() {
        let store = MemoryStore::new();
        seed_alta_data(&store, 1_800_000_000).await.unwrap();
        let statuses: std::collections::HashSet<_> = store
            .campaigns(ACME)
            .await
            .unwrap()
            .iter()
            .map(|c| c.status)
            .collect();
        assert_eq!(statuses.len(), 4);
        let inboxes = store.inboxes(ACME).await.unwrap();
        assert_eq!(inboxes.len(), 2);
        let emails = store.emails(ACME).await.unwrap();
        for inbox in inboxes {
            assert!(emails.iter().any(|e| e.inbox_id == inbox.id));
        }
    }
}
