//! A fault injector in front of the real stores: every store call is counted, and the
//! armed one fails as an outage would (`StoreError::Unavailable`), so that a test can fail
//! each call of an operation in turn, on the in-memory store and on DynamoDB alike.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use alta_shared::Deps;
use alta_shared::alta::listing::{EmailFilter, EmailSummary, Page};
use alta_shared::alta::{Campaign, CampaignStatus, Email, Inbox};
use alta_shared::directory::{Account, IdentityLink, Member, Membership, User};
use alta_shared::federation::provider::IdentityProvider;
use alta_shared::records::client::RegisteredClient;
use alta_shared::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use alta_shared::records::ids::{FamilyId, UserId};
use alta_shared::store::{
    AddressCounter, AltaStore, ClientStore, CodeStore, DirectoryStore, IdentityStore,
    RefreshTokenStore, RevocationStore, StoreError,
};

/// Which call fails: the `n`th from arming (1-based), none when disarmed.
#[derive(Default)]
pub struct FaultPlan {
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    failed: Mutex<Option<&'static str>>,
}

impl FaultPlan {
    pub fn arm(&self, n: usize) {
        *self.failed.lock().unwrap() = None;
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
    }

    /// The store call that failed since arming, if the operation reached it.
    pub fn failed(&self) -> Option<&'static str> {
        *self.failed.lock().unwrap()
    }

    fn check(&self, call: &'static str) -> Result<(), StoreError> {
        let fail_at = self.fail_at.load(Ordering::SeqCst);
        if fail_at == 0 {
            return Ok(());
        }
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == fail_at {
            *self.failed.lock().unwrap() = Some(call);
            return Err(StoreError::Unavailable(format!("injected fault in {call}")));
        }
        Ok(())
    }
}

/// Every store of a server, seen through one plan.
pub struct Faulty {
    plan: Arc<FaultPlan>,
    clients: Arc<dyn ClientStore>,
    directory: Arc<dyn DirectoryStore>,
    identities: Arc<dyn IdentityStore>,
    codes: Arc<dyn CodeStore>,
    refresh_tokens: Arc<dyn RefreshTokenStore>,
    revocations: Arc<dyn RevocationStore>,
    alta: Arc<dyn AltaStore>,
}

impl Faulty {
    /// `deps` on the same stores, every call of theirs going through `plan` first.
    pub fn around(deps: Deps, plan: Arc<FaultPlan>) -> Deps {
        let faulty = Self {
            plan,
            clients: deps.clients.clone(),
            directory: deps.directory.clone(),
            identities: deps.identities.clone(),
            codes: deps.codes.clone(),
            refresh_tokens: deps.refresh_tokens.clone(),
            revocations: deps.revocations.clone(),
            alta: deps.alta.clone(),
        };
        deps.with_stores(Arc::new(faulty))
    }
}

/// Each method counts, may fail, and otherwise asks the real store.
macro_rules! faulty_impl {
    ($store:ident, $field:ident { $( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* }) => {
        #[async_trait::async_trait]
        impl $store for Faulty {
            $(
                async fn $name(&self, $($arg: $ty),*) -> $ret {
                    self.plan.check(stringify!($name))?;
                    self.$field.$name($($arg),*).await
                }
            )*
        }
    };
}

faulty_impl!(ClientStore, clients {
    fn insert_client(client: &RegisteredClient) -> Result<(), StoreError>;
    fn get_client(client_id: &str, now: u64) -> Result<Option<RegisteredClient>, StoreError>;
    fn extend_client(client_id: &str, now: u64, expires_at: u64) -> Result<(), StoreError>;
    fn count_for_address(counter: AddressCounter, address_key: &str, now: u64, window_ends_at: u64) -> Result<u32, StoreError>;
});

faulty_impl!(IdentityStore, identities {
    fn put_identity_provider(provider: &IdentityProvider) -> Result<(), StoreError>;
    fn identity_providers() -> Result<Vec<IdentityProvider>, StoreError>;
    fn remove_identity_provider(id: &str) -> Result<(), StoreError>;
    fn identity_link(issuer: &str, subject: &str) -> Result<Option<IdentityLink>, StoreError>;
    fn create_identity_link(link: &IdentityLink) -> Result<(), StoreError>;
});

faulty_impl!(DirectoryStore, directory {
    fn create_user(user: &User) -> Result<(), StoreError>;
    fn user_by_email(email: &str) -> Result<Option<User>, StoreError>;
    fn put_account(account: &Account) -> Result<(), StoreError>;
    fn account(account_id: &str) -> Result<Option<Account>, StoreError>;
    fn put_membership(membership: &Membership) -> Result<(), StoreError>;
    fn memberships(user_id: &str) -> Result<Vec<Membership>, StoreError>;
    fn membership(user_id: &str, account_id: &str) -> Result<Option<Membership>, StoreError>;
    fn remove_membership(user_id: &str, account_id: &str) -> Result<(), StoreError>;
    fn members(account_id: &str) -> Result<Vec<Member>, StoreError>;
    fn count_sign_in_attempt(key: &str, now: u64, window_ends_at: u64) -> Result<u32, StoreError>;
    fn forgive_sign_in_attempt(key: &str, now: u64) -> Result<(), StoreError>;
    fn sign_in_failures(key: &str, now: u64) -> Result<u32, StoreError>;
    fn clear_sign_in_failures(key: &str) -> Result<(), StoreError>;
});

faulty_impl!(CodeStore, codes {
    fn put_code(code: &AuthorizationCodeRecord) -> Result<(), StoreError>;
    fn take_code(code_hash: &TokenHash, now: u64) -> Result<Option<AuthorizationCodeRecord>, StoreError>;
    fn put_redeemed_code(redeemed: &RedeemedCode) -> Result<(), StoreError>;
    fn redeemed_code(code_hash: &TokenHash, now: u64) -> Result<Option<RedeemedCode>, StoreError>;
});

faulty_impl!(RefreshTokenStore, refresh_tokens {
    fn put_refresh_token(token: &RefreshTokenRecord) -> Result<(), StoreError>;
    fn refresh_token(token_hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, StoreError>;
    fn mark_rotated(token_hash: &TokenHash, now: u64, successor: &TokenHash) -> Result<(), StoreError>;
    fn retry_rotated(token_hash: &TokenHash, rotated_since: u64, max_retries: u32) -> Result<(), StoreError>;
    fn mark_successor_used(token_hash: &TokenHash, now: u64) -> Result<(), StoreError>;
    fn put_grant(grant: &GrantRecord, ended: &[FamilyId]) -> Result<(), StoreError>;
    fn grants(user_id: &UserId) -> Result<Vec<GrantRecord>, StoreError>;
    fn touch_grant(user_id: &UserId, grant_id: &FamilyId, now: u64) -> Result<(), StoreError>;
    fn remove_grant(user_id: &UserId, grant_id: &FamilyId) -> Result<(), StoreError>;
});

faulty_impl!(RevocationStore, revocations {
    fn revoke(key: &str, expires_at: u64) -> Result<(), StoreError>;
    fn is_revoked(key: &str, now: u64) -> Result<bool, StoreError>;
    fn any_revoked(keys: &[String], now: u64) -> Result<bool, StoreError>;
    fn use_once(key: &str, expires_at: u64, now: u64) -> Result<bool, StoreError>;
});

faulty_impl!(AltaStore, alta {
    fn campaign_page(account_id: &str, status: Option<CampaignStatus>, after: Option<&str>, limit: usize) -> Result<Page<Campaign>, StoreError>;
    fn inbox(account_id: &str, inbox_id: &str) -> Result<Option<Inbox>, StoreError>;
    fn inbox_page(account_id: &str, only: Option<&[String]>, after: Option<&str>, limit: usize) -> Result<Page<Inbox>, StoreError>;
    fn email_page(account_id: &str, filter: &EmailFilter, after: Option<&str>, limit: usize) -> Result<Page<EmailSummary>, StoreError>;
    fn put_campaign(campaign: &Campaign) -> Result<(), StoreError>;
    fn put_inbox(inbox: &Inbox) -> Result<(), StoreError>;
    fn put_email(email: &Email) -> Result<(), StoreError>;
    fn campaigns(account_id: &str) -> Result<Vec<Campaign>, StoreError>;
    fn campaign(account_id: &str, campaign_id: &str) -> Result<Option<Campaign>, StoreError>;
    fn update_campaign_status(account_id: &str, campaign_id: &str, from: CampaignStatus, to: CampaignStatus, now: u64) -> Result<Campaign, StoreError>;
    fn inboxes(account_id: &str) -> Result<Vec<Inbox>, StoreError>;
    fn emails(account_id: &str) -> Result<Vec<Email>, StoreError>;
    fn email(account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError>;
});
