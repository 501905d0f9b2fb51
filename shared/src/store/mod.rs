//! Storage: one trait per concern, each with an in-memory implementation (the local
//! server, fast tests) and a DynamoDB one (deployed), tested by the same test bodies.

pub mod dynamo;
pub mod memory;

#[cfg(test)]
mod contract;

use async_trait::async_trait;
use thiserror::Error;

use crate::alta::listing::{EmailFilter, EmailSummary, Page};
use crate::alta::{Campaign, CampaignStatus, Email, Inbox};
use crate::directory::{Account, IdentityLink, Member, Membership, User};
use crate::federation::provider::IdentityProvider;
use crate::records::client::RegisteredClient;
use crate::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use crate::records::ids::{FamilyId, UserId};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// A conditional write found the item already there (or not in the expected state).
    #[error("the item already exists or changed concurrently")]
    Conflict,
    /// The backing service could not be reached or refused the call: worth retrying.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The backing service refused the request itself as invalid (DynamoDB's
    /// `ValidationException`, such as a key over its size limit): input that got past the
    /// bounds at parse time, never worth retrying and never a 5xx.
    #[error("the store refused the request: {0}")]
    Rejected(String),
    /// An item that does not decode: a bug or manual tampering, never a client's fault.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
}

/// What is counted per source address, beside the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressCounter {
    /// Registrations that stored a client.
    Registrations,
    /// Uncached metadata-document fetches.
    DocumentFetches,
}

impl AddressCounter {
    /// The key prefix of its items in the clients table (the fetch counters are the only
    /// items there the authorize and revoke functions may write: `dynamodb:LeadingKeys`).
    pub fn key_prefix(self) -> &'static str {
        match self {
            Self::Registrations => "registrations#",
            Self::DocumentFetches => "fetches#",
        }
    }
}

/// Dynamically registered clients (pre-configured ones: `clients::preconfigured`).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new registration; `Conflict` if the `client_id` is taken.
    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError>;

    /// The registration, unless absent or expired at `now`.
    async fn get_client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<Option<RegisteredClient>, StoreError>;

    /// Pushes the idle expiry forward to `expires_at`; never moves it back and never
    /// resurrects a client that had expired at `now`. A missing client is not an error.
    async fn extend_client(
        &self,
        client_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError>;

    /// Counts one `counter` event for `address_key` (a source address's hash) within a
    /// window ending at `window_ends_at`, atomically; the count so far.
    async fn count_for_address(
        &self,
        counter: AddressCounter,
        address_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError>;
}

/// Users, accounts and memberships.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// `Conflict` if the email is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// Creates or renames an account.
    async fn put_account(&self, account: &Account) -> Result<(), StoreError>;
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;
    /// Creates a membership or changes its role and grants (keeping its creation time).
    async fn put_membership(&self, membership: &Membership) -> Result<(), StoreError>;
    /// Every membership of a user, oldest first.
    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError>;
    /// One membership, by user and account: one read, whatever else the user belongs to.
    async fn membership(
        &self,
        user_id: &str,
        account_id: &str,
    ) -> Result<Option<Membership>, StoreError>;
    /// Ends a membership; one already gone is not an error.
    async fn remove_membership(&self, user_id: &str, account_id: &str) -> Result<(), StoreError>;
    /// An account's members with their emails, oldest membership first: for operators
    /// (`alta-admin connections`), never on a request's path. On DynamoDB one scan of the
    /// directory (there is no index by account), reading only ids, emails and the account's
    /// memberships, never a password hash.
    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError>;
    /// Counts a sign-in attempt for `key` (an email's or a source address's) within a
    /// window ending at `window_ends_at` (a window already over starts afresh), atomically,
    /// and answers the count in the current window: concurrent attempts each see their own.
    async fn count_sign_in_attempt(
        &self,
        key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError>;
    /// Takes one counted attempt back (a sign-in that succeeded), if the window is live.
    async fn forgive_sign_in_attempt(&self, key: &str, now: u64) -> Result<(), StoreError>;
    /// Attempts counted in the current window.
    async fn sign_in_failures(&self, key: &str, now: u64) -> Result<u32, StoreError>;
    async fn clear_sign_in_failures(&self, key: &str) -> Result<(), StoreError>;
}

/// The identity providers people sign in through, and the links from a provider's
/// (`iss`, `sub`) to an Alta user (in the directory table).
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates or replaces a provider record.
    async fn put_identity_provider(&self, provider: &IdentityProvider) -> Result<(), StoreError>;
    /// Every provider, by id.
    async fn identity_providers(&self) -> Result<Vec<IdentityProvider>, StoreError>;
    /// One gone already is not an error.
    async fn remove_identity_provider(&self, id: &str) -> Result<(), StoreError>;
    async fn identity_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<IdentityLink>, StoreError>;
    /// `Conflict` if the subject is linked already (to anyone).
    async fn create_identity_link(&self, link: &IdentityLink) -> Result<(), StoreError>;
}

/// Authorization codes: single use, enforced by the store.
#[async_trait]
pub trait CodeStore: Send + Sync {
    async fn put_code(&self, code: &AuthorizationCodeRecord) -> Result<(), StoreError>;
    /// Removes the code and returns it, atomically: of any number of concurrent callers,
    /// exactly one gets `Some`. An expired code is removed and reported as `None`.
    async fn take_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    async fn put_redeemed_code(&self, redeemed: &RedeemedCode) -> Result<(), StoreError>;
    async fn redeemed_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<RedeemedCode>, StoreError>;
}

/// Refresh tokens, their rotation, and each person's grants (one refresh family each).
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// `Conflict` if the hash exists.
    async fn put_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// The token whatever its state (rotated, expired): reuse detection needs to see it.
    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Marks a token as exchanged for `successor`; `Conflict` if it already was.
    async fn mark_rotated(
        &self,
        token_hash: &TokenHash,
        now: u64,
        successor: &TokenHash,
    ) -> Result<(), StoreError>;
    /// Counts one more presentation of a rotated token within its grace, atomically:
    /// `Conflict` unless it was rotated at or after `rotated_since`, has had fewer than
    /// `max_retries` such presentations, and none of its successors has been used (so
    /// that concurrent presentations cannot get around the count).
    async fn retry_rotated(
        &self,
        token_hash: &TokenHash,
        rotated_since: u64,
        max_retries: u32,
    ) -> Result<(), StoreError>;
    /// Records that a successor of this token was used at `now`, ending its grace; a
    /// token already gone is not an error.
    async fn mark_successor_used(&self, token_hash: &TokenHash, now: u64)
    -> Result<(), StoreError>;
    /// Records a new grant of its person's, and forgets the grants `ended` (by id) in
    /// the same write.
    async fn put_grant(&self, grant: &GrantRecord, ended: &[FamilyId]) -> Result<(), StoreError>;
    /// Every grant recorded for a person, past its end or not, oldest first.
    async fn grants(&self, user_id: &UserId) -> Result<Vec<GrantRecord>, StoreError>;
    /// Records a token issued for a grant at `now`; a grant no longer recorded stays gone.
    async fn touch_grant(
        &self,
        user_id: &UserId,
        grant_id: &FamilyId,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Forgets one grant (Disconnect); a grant already gone is not an error.
    async fn remove_grant(&self, user_id: &UserId, grant_id: &FamilyId) -> Result<(), StoreError>;
}

/// Revoked access-token ids and refresh-token families, each kept until it would have
/// expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    async fn revoke(&self, key: &str, expires_at: u64) -> Result<(), StoreError>;
    async fn is_revoked(&self, key: &str, now: u64) -> Result<bool, StoreError>;
    /// Whether any of `keys` is revoked: one round trip (an access token's `jti` and its
    /// grant, checked together on every MCP request).
    async fn any_revoked(&self, keys: &[String], now: u64) -> Result<bool, StoreError>;
    /// Records `key` as used until `expires_at`, once: `true` for the first use (or the
    /// first since the last one expired), `false` when it is already used.
    async fn use_once(&self, key: &str, expires_at: u64, now: u64) -> Result<bool, StoreError>;
}

/// Alta's campaigns, inboxes and emails, always within one account. The tools read a page
/// at a time (`*_page`, each one query whatever the account's size); the whole-account
/// reads are for administration (`load-data`) and tests.
#[async_trait]
pub trait AltaStore: Send + Sync {
    /// Campaigns oldest first (ties by id), optionally in one status, after a position.
    async fn campaign_page(
        &self,
        account_id: &str,
        status: Option<CampaignStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Campaign>, StoreError>;
    async fn inbox(&self, account_id: &str, inbox_id: &str) -> Result<Option<Inbox>, StoreError>;
    /// Inboxes oldest first (ties by id), only those in `only` when given.
    async fn inbox_page(
        &self,
        account_id: &str,
        only: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Inbox>, StoreError>;
    /// Email summaries newest first (ties by id, descending); bodies are not read.
    async fn email_page(
        &self,
        account_id: &str,
        filter: &EmailFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<EmailSummary>, StoreError>;
    async fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;
    async fn put_inbox(&self, inbox: &Inbox) -> Result<(), StoreError>;
    async fn put_email(&self, email: &Email) -> Result<(), StoreError>;
    /// Oldest first, ties by id.
    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError>;
    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
    ) -> Result<Option<Campaign>, StoreError>;
    /// Sets the status if it is still `from` (one conditional write) and returns the
    /// campaign as written; `Conflict` if it changed meanwhile or does not exist.
    async fn update_campaign_status(
        &self,
        account_id: &str,
        campaign_id: &str,
        from: CampaignStatus,
        to: CampaignStatus,
        now: u64,
    ) -> Result<Campaign, StoreError>;
    /// Oldest first, ties by id.
    async fn inboxes(&self, account_id: &str) -> Result<Vec<Inbox>, StoreError>;
    /// Newest first, ties by id.
    async fn emails(&self, account_id: &str) -> Result<Vec<Email>, StoreError>;
    async fn email(&self, account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError>;
}

/// Every store at once: what one backend (memory or DynamoDB) provides.
pub trait Stores:
    ClientStore
    + DirectoryStore
    + IdentityStore
    + CodeStore
    + RefreshTokenStore
    + RevocationStore
    + AltaStore
{
}

impl<T> Stores for T where
    T: ClientStore
        + DirectoryStore
        + IdentityStore
        + CodeStore
        + RefreshTokenStore
        + RevocationStore
        + AltaStore
{
}

pub fn sort_campaigns(campaigns: &mut [Campaign]) {
    campaigns.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}

pub fn sort_inboxes(inboxes: &mut [Inbox]) {
    inboxes.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Newest first, ties by id descending: the reverse of (received_at, id), as the
/// positions of `alta::listing` order them.
pub fn sort_emails(emails: &mut [Email]) {
    emails.sort_by(|a, b| {
        b.received_at
            .cmp(&a.received_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}
