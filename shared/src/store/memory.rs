//! In-process stores: what `cargo run` uses by default and what the fast tests run on.
//! They mirror the DynamoDB semantics (conditional writes, expiry on read).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    AltaStore, ClientStore, CodeStore, DirectoryStore, RefreshTokenStore, RevocationStore,
    StoreError, sort_campaigns, sort_emails, sort_inboxes,
};
use crate::alta::listing::{EmailFilter, EmailSummary, Page, campaign_matches, page_of};
use crate::alta::{Campaign, CampaignStatus, Email, Inbox};
use crate::directory::{Account, Membership, User, sort_memberships};
use crate::records::client::RegisteredClient;
use crate::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use crate::records::ids::{ClientId, FamilyId, UserId};

#[derive(Default)]
struct Tables {
    clients: HashMap<ClientId, RegisteredClient>,
    registrations: HashMap<String, (u32, u64)>,
    users: HashMap<String, User>,
    accounts: HashMap<String, Account>,
    memberships: HashMap<(String, String), Membership>,
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
    async fn count_registration(
        &self,
        address_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        Ok(count_in_window(
            &mut self.lock()?.registrations,
            address_key,
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

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Conflict);
        }
        t.codes.insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    async fn take_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        Ok(self
            .lock()?
            .codes
            .remove(code_hash)
            .filter(|c| c.expires_at > now))
    }

    async fn put_redeemed_code(&self, redeemed: &RedeemedCode) -> Result<(), StoreError> {
        self.lock()?
            .redeemed_codes
            .insert(redeemed.code_hash.clone(), redeemed.clone());
        Ok(())
    }

    async fn redeemed_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<RedeemedCode>, StoreError> {
        Ok(self
            .lock()?
            .redeemed_codes
            .get(code_hash)
            .filter(|r| r.expires_at > now)
            .cloned())
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.refresh_tokens.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict);
        }
        t.refresh_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.lock()?.refresh_tokens.get(token_hash).cloned())
    }

    async fn mark_rotated(
        &self,
        token_hash: &TokenHash,
        now: u64,
        successor: &TokenHash,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        match t.refresh_tokens.get_mut(token_hash) {
            Some(token) if token.rotated_at.is_none() => {
                token.rotated_at = Some(now);
                token.replaced_by = Some(successor.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn retry_rotated(
        &self,
        token_hash: &TokenHash,
        rotated_since: u64,
        max_retries: u32,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        match t.refresh_tokens.get_mut(token_hash) {
            Some(token)
                if token.rotated_at.is_some_and(|at| at >= rotated_since)
                    && token.grace_retries < max_retries
                    && token.successor_used_at.is_none() =>
            {
                token.grace_retries += 1;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn mark_successor_used(
        &self,
        token_hash: &TokenHash,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(token) = t.refresh_tokens.get_mut(token_hash) {
            token.successor_used_at.get_or_insert(now);
        }
        Ok(())
    }

    async fn put_grant(&self, grant: &GrantRecord, ended: &[FamilyId]) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let grants = t.grants.entry(grant.user_id.clone()).or_default();
        for id in ended {
            grants.remove(id);
        }
        grants.insert(grant.grant_id.clone(), grant.clone());
        Ok(())
    }

    async fn grants(&self, user_id: &UserId) -> Result<Vec<GrantRecord>, StoreError> {
        let t = self.lock()?;
        let mut grants: Vec<GrantRecord> = t
            .grants
            .get(user_id)
            .into_iter()
            .flat_map(|g| g.values())
            .cloned()
            .collect();
        grants.sort_by(|a, b| (a.created_at, &a.grant_id).cmp(&(b.created_at, &b.grant_id)));
        Ok(grants)
    }

    async fn touch_grant(
        &self,
        user_id: &UserId,
        grant_id: &FamilyId,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(grant) = t.grants.get_mut(user_id).and_then(|g| g.get_mut(grant_id)) {
            grant.last_used_at = now;
        }
        Ok(())
    }

    async fn remove_grant(&self, user_id: &UserId, grant_id: &FamilyId) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if let Some(grants) = t.grants.get_mut(user_id) {
            grants.remove(grant_id);
        }
        Ok(())
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke(&self, key: &str, expires_at: u64) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        let entry = t.revocations.entry(key.to_owned()).or_insert(expires_at);
        *entry = (*entry).max(expires_at);
        Ok(())
    }

    async fn is_revoked(&self, key: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .lock()?
            .revocations
            .get(key)
            .is_some_and(|until| *until > now))
    }

    async fn any_revoked(&self, keys: &[String], now: u64) -> Result<bool, StoreError> {
        let t = self.lock()?;
        Ok(keys
            .iter()
            .any(|key| t.revocations.get(key).is_some_and(|until| *until > now)))
    }

    async fn use_once(&self, key: &str, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut t = self.lock()?;
        if t.revocations.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        t.revocations.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}

fn key(account_id: &str, id: &str) -> (String, String) {
    (account_id.to_owned(), id.to_owned())
}

#[async_trait]
impl AltaStore for MemoryStore {
    async fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.lock()?
            .campaigns
            .insert(key(&campaign.account_id, &campaign.id), campaign.clone());
        Ok(())
    }

    async fn put_inbox(&self, inbox: &Inbox) -> Result<(), StoreError> {
        self.lock()?
            .inboxes
            .insert(key(&inbox.account_id, &inbox.id), inbox.clone());
        Ok(())
    }

    async fn put_email(&self, email: &Email) -> Result<(), StoreError> {
        self.lock()?
            .emails
            .insert(key(&email.account_id, &email.id), email.clone());
        Ok(())
    }

    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut found: Vec<Campaign> = self
            .lock()?
            .campaigns
            .values()
            .filter(|c| c.account_id == account_id)
            .cloned()
            .collect();
        sort_campaigns(&mut found);
        Ok(found)
    }

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        Ok(self
            .lock()?
            .campaigns
            .get(&key(account_id, campaign_id))
            .cloned())
    }

    async fn update_campaign_status(
        &self,
        account_id: &str,
        campaign_id: &str,
        from: CampaignStatus,
        to: CampaignStatus,
        now: u64,
    ) -> Result<Campaign, StoreError> {
        let mut t = self.lock()?;
        match t.campaigns.get_mut(&key(account_id, campaign_id)) {
            Some(c) if c.status == from => {
                c.status = to;
                c.updated_at = now;
                Ok(c.clone())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn inboxes(&self, account_id: &str) -> Result<Vec<Inbox>, StoreError> {
        let mut found: Vec<Inbox> = self
            .lock()?
            .inboxes
            .values()
            .filter(|i| i.account_id == account_id)
            .cloned()
            .collect();
        sort_inboxes(&mut found);
        Ok(found)
    }

    async fn emails(&self, account_id: &str) -> Result<Vec<Email>, StoreError> {
        let mut found: Vec<Email> = self
            .lock()?
            .emails
            .values()
            .filter(|e| e.account_id == account_id)
            .cloned()
            .collect();
        sort_emails(&mut found);
        Ok(found)
    }

    async fn campaign_page(
        &self,
        account_id: &str,
        status: Option<CampaignStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Campaign>, StoreError> {
        let mut found = self.campaigns(account_id).await?;
        found.retain(|c| campaign_matches(c, status));
        Ok(page_of(found, Campaign::position, false, after, limit))
    }

    async fn inbox(&self, account_id: &str, inbox_id: &str) -> Result<Option<Inbox>, StoreError> {
        Ok(self
            .lock()?
            .inboxes
            .get(&(account_id.to_owned(), inbox_id.to_owned()))
            .cloned())
    }

    async fn inbox_page(
        &self,
        account_id: &str,
        only: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Inbox>, StoreError> {
        let mut found = self.inboxes(account_id).await?;
        found.retain(|i| only.is_none_or(|ids| ids.contains(&i.id)));
        Ok(page_of(found, Inbox::position, false, after, limit))
    }

    async fn email_page(
        &self,
        account_id: &str,
        filter: &EmailFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<EmailSummary>, StoreError> {
        let found: Vec<EmailSummary> = self
            .emails(account_id)
            .await?
            .iter()
            .map(Email::summary)
            .filter(|e| filter.matches(e))
            .collect();
        Ok(page_of(found, EmailSummary::position, true, after, limit))
    }

    async fn email(&self, account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError> {
        Ok(self.lock()?.emails.get(&key(account_id, email_id)).cloned())
    }
}
