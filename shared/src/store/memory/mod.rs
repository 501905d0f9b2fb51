//! In-process stores: what `cargo run` uses by default and what the fast tests run on.
//! They mirror the DynamoDB semantics (conditional writes, expiry on read).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AddressCounter, AltaStore, ClientStore, CodeStore, DirectoryStore, IdentityStore,
    RefreshTokenStore, RevocationStore, StoreError, sort_campaigns, sort_emails, sort_inboxes,
};
use crate::alta::listing::{EmailFilter, EmailSummary, Page, campaign_matches, page_of};
use crate::alta::{Campaign, CampaignStatus, Email, Inbox};
use crate::directory::{Account, IdentityLink, Member, Membership, User, sort_memberships};
use crate::federation::provider::IdentityProvider;
use crate::records::client::RegisteredClient;
use crate::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use crate::records::ids::{ClientId, FamilyId, UserId};

mod alta;
mod tokens;

#[derive(Default)]
struct Tables {
    clients: HashMap<ClientId, RegisteredClient>,
    /// `AddressCounter` prefix + address key → (count, window ends at)
    address_counters: HashMap<String, (u32, u64)>,
    users: HashMap<String, User>,
    accounts: HashMap<String, Account>,
    memberships: HashMap<(String, String), Membership>,
    identity_providers: std::collections::BTreeMap<String, IdentityProvider>,
    /// (issuer, subject) → link
    identity_links: HashMap<(String, String), IdentityLink>,
    /// email key → (failures, window ends at)
    sign_in_failures: HashMap<String, (u32, u64)>,
    codes: HashMap<TokenHash, AuthorizationCodeRecord>,
    redeemed_codes: HashMap<TokenHash, RedeemedCode>,
    refresh_tokens: HashMap<TokenHash, RefreshTokenRecord>,
    /// user id → grant id → grant
    grants: HashMap<UserId, HashMap<FamilyId, GrantRecord>>,
    revocations: HashMap<String, u64>,
    campaigns: HashMap<(String, String), Campaign>,
    inboxes: HashMap<(String, String), Inbox>,
    emails: HashMap<(String, String), Email>,
}

/// Every store in one mutex: simple, and each call's critical section is a few map operations.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables.lock().map_err(|_| {
            StoreError::Unavailable("an earlier panic poisoned the in-memory store".into())
        })
    }
}

/// Counts one event in the window `counters[key]` (a window already over starts afresh).
fn count_in_window(
    counters: &mut HashMap<String, (u32, u64)>,
    key: &str,
    now: u64,
    window_ends_at: u64,
) -> u32 {
    let entry = counters
        .entry(key.to_owned())
        .or_insert((0, window_ends_at));
    if entry.1 <= now {
        *entry = (0, window_ends_at);
    }
    entry.0 += 1;
    entry.0
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn count_for_address(
        &self,
        counter: AddressCounter,
        address_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        Ok(count_in_window(
            &mut self.lock()?.address_counters,
            &format!("{}{address_key}", counter.key_prefix()),
            now,
            window_ends_at,
        ))
    }

    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.clients.contains_key(&client.client_id) {
            return Err(StoreError::Conflict);
        }
        t.clients.insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn get_client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<Option<RegisteredClient>, StoreError> {
        Ok(self
            .lock()?
            .clients
            .get(client_id)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn extend_client(
        &self,
        client_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(client) = t.clients.get_mut(client_id).filter(|c| c.expires_at > now) {
            client.expires_at = client.expires_at.max(expires_at);
        }
        Ok(())
    }
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn put_identity_provider(&self, provider: &IdentityProvider) -> Result<(), StoreError> {
        self.lock()?
            .identity_providers
            .insert(provider.id.clone(), provider.clone());
        Ok(())
    }

    async fn identity_providers(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        Ok(self.lock()?.identity_providers.values().cloned().collect())
    }

    async fn remove_identity_provider(&self, id: &str) -> Result<(), StoreError> {
        self.lock()?.identity_providers.remove(id);
        Ok(())
    }

    async fn identity_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<IdentityLink>, StoreError> {
        Ok(self
            .lock()?
            .identity_links
            .get(&(issuer.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn create_identity_link(&self, link: &IdentityLink) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let key = (link.issuer.clone(), link.subject.clone());
        if t.identity_links.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        t.identity_links.insert(key, link.clone());
        Ok(())
    }
}

#[async_trait]
impl DirectoryStore for MemoryStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.users.contains_key(&user.email) {
            return Err(StoreError::Conflict);
        }
        t.users.insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(email).cloned())
    }

    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.lock()?
            .accounts
            .insert(account.account_id.clone(), account.clone());
        Ok(())
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.lock()?.accounts.get(account_id).cloned())
    }

    async fn membership(
        &self,
        user_id: &str,
        account_id: &str,
    ) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .lock()?
            .memberships
            .get(&(user_id.to_owned(), account_id.to_owned()))
            .cloned())
    }

    async fn remove_membership(&self, user_id: &str, account_id: &str) -> Result<(), StoreError> {
        self.lock()?
            .memberships
            .remove(&(user_id.to_owned(), account_id.to_owned()));
        Ok(())
    }

    async fn put_membership(&self, membership: &Membership) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let key = (membership.user_id.clone(), membership.account_id.clone());
        let created_at = t
            .memberships
            .get(&key)
            .map_or(membership.created_at, |m| m.created_at);
        t.memberships.insert(
            key,
            Membership {
                created_at,
                ..membership.clone()
            },
        );
        Ok(())
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut found: Vec<Membership> = self
            .lock()?
            .memberships
            .values()
            .filter(|m| m.user_id == user_id)
            .cloned()
            .collect();
        sort_memberships(&mut found);
        Ok(found)
    }

    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let t = self.lock()?;
        let mut memberships: Vec<Membership> = t
            .memberships
            .values()
            .filter(|m| m.account_id == account_id)
            .cloned()
            .collect();
        sort_memberships(&mut memberships);
        Ok(memberships
            .into_iter()
            .map(|membership| Member {
                email: t
                    .users
                    .values()
                    .find(|u| u.user_id == membership.user_id)
                    .map(|u| u.email.clone()),
                membership,
            })
            .collect())
    }

    async fn count_sign_in_attempt(
        &self,
        email_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        Ok(count_in_window(
            &mut self.lock()?.sign_in_failures,
            email_key,
            now,
            window_ends_at,
        ))
    }

    async fn forgive_sign_in_attempt(&self, key: &str, now: u64) -> Result<(), StoreError> {
        if let Some(entry) = self.lock()?.sign_in_failures.get_mut(key)
            && entry.1 > now
        {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn sign_in_failures(&self, email_key: &str, now: u64) -> Result<u32, StoreError> {
        Ok(self
            .lock()?
            .sign_in_failures
            .get(email_key)
            .filter(|(_, ends)| *ends > now)
            .map_or(0, |(count, _)| *count))
    }

    async fn clear_sign_in_failures(&self, email_key: &str) -> Result<(), StoreError> {
        self.lock()?.sign_in_failures.remove(email_key);
        Ok(())
    }
}
