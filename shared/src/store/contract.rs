//! The store tests, written once and run against every implementation: the in-memory
//! store always, DynamoDB when `ALTA_TEST_DYNAMODB_ENDPOINT` names one (the test script
//! starts dynalite and runs these with `--include-ignored`).

use std::sync::Arc;

use super::Stores;
use super::dynamo::{DynamoStore, tables};
use super::memory::MemoryStore;
use crate::alta::listing::{EmailFilter, EmailSummary, Page};
use crate::alta::{Campaign, CampaignMode, CampaignStats, CampaignStatus, Email, Inbox};
use crate::config::TableNames;
use crate::directory::{Account, Membership, Role, User};
use crate::password::PasswordHash;
use crate::pkce::CodeChallenge;
use crate::records::client::{
    ApplicationType, ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::records::grant::{
    AuthorizationCodeRecord, GrantRecord, RedeemedCode, RefreshTokenRecord, TokenHash,
};
use crate::records::ids::FamilyId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;
use crate::store::StoreError;

pub(crate) async fn dynamo_store_for_tests() -> DynamoStore {
    let endpoint = std::env::var("ALTA_TEST_DYNAMODB_ENDPOINT").expect(
        "ALTA_TEST_DYNAMODB_ENDPOINT must name a DynamoDB endpoint (scripts/test starts dynalite)",
    );
    let sdk = crate::aws::sdk_config(true).await;
    let client = crate::aws::dynamodb_client(&sdk, Some(&endpoint));
    let prefix = format!(
        "t{}-",
        crate::random::token(6)
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let names = TableNames {
        clients: format!("{prefix}clients"),
        authorization_codes: format!("{prefix}authorization-codes"),
        refresh_tokens: format!("{prefix}refresh-tokens"),
        revocations: format!("{prefix}revocations"),
        directory: format!("{prefix}directory"),
        alta_data: format!("{prefix}alta-data"),
    };
    tables::ensure_tables(&client, &names)
        .await
        .expect("create test tables");
    DynamoStore::new(client, names)
}

macro_rules! store_contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let store: std::sync::Arc<dyn super::Stores> = std::sync::Arc::new(super::MemoryStore::new());
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
                async fn $name() {
                    let store: std::sync::Arc<dyn super::Stores> = std::sync::Arc::new(super::dynamo_store_for_tests().await);
                    super::$name(store).await;
                }
            )*
        }
    };
}

store_contract!(
    registered_client_reads_back_unchanged,
    second_registration_with_the_same_id_conflicts,
    unknown_client_is_none,
    client_is_gone_once_expired,
    extending_pushes_expiry_forward_but_never_back,
    extending_does_not_resurrect_an_expired_client,
    extending_an_unknown_client_is_harmless,
    user_reads_back_by_email,
    second_user_with_the_same_email_conflicts,
    memberships_come_oldest_first_and_keep_their_creation_time,
    a_removed_membership_is_gone_and_removing_again_is_harmless,
    account_reads_back,
    sign_in_failures_count_within_a_window_and_reset_after,
    code_is_taken_exactly_once,
    expired_code_cannot_be_taken,
    twenty_concurrent_takes_yield_one_code,
    redeemed_code_remembers_what_it_issued,
    refresh_token_reads_back_and_rotates_once,
    a_rotated_token_is_retried_at_most_the_limit_within_its_grace,
    a_used_successor_ends_the_grace,
    concurrent_retries_cannot_pass_the_limit,
    a_persons_grants_are_listed_touched_replaced_and_removed,
    revocation_lasts_until_its_expiry_and_is_never_shortened,
    a_single_use_key_is_used_once_until_it_expires,
    any_revoked_checks_several_keys_at_once,
    alta_data_reads_back_in_order_within_its_account,
    list_pages_walk_each_list_once_in_order,
    email_pages_continue_where_they_stopped_while_mail_arrives,
    campaign_status_changes_only_from_the_expected_status,
);

fn sample_client(id: &str, expires_at: u64) -> RegisteredClient {
    RegisteredClient {
        client_id: id.into(),
        client_secret_hash: Some(ClientSecretHash::of("secret")),
        client_name: Some("Visual Studio Code".into()),
        redirect_uris: vec![
            RedirectUri::parse("http://127.0.0.1:33418/").unwrap(),
            RedirectUri::parse("https://vscode.dev/redirect").unwrap(),
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
        application_type: ApplicationType::Native,
        scope: Some(ScopeSet::parse("campaigns:read").unwrap()),
        client_uri: Some("https://code.visualstudio.com".into()),
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        contacts: vec!["ops@example.com".into()],
        software_id: Some("vscode".into()),
        software_version: Some("1.106".into()),
        client_id_issued_at: 1_000,
        expires_at,
    }
}

async fn registered_client_reads_back_unchanged(store: Arc<dyn Stores>) {
    let client = sample_client("c-1", 10_000);
    store.insert_client(&client).await.unwrap();
    assert_eq!(store.get_client("c-1", 1_000).await.unwrap(), Some(client));
}

async fn second_registration_with_the_same_id_conflicts(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-2", 10_000))
        .await
        .unwrap();
    let mut other = sample_client("c-2", 20_000);
    other.client_name = Some("Impostor".into());
    assert_eq!(store.insert_client(&other).await, Err(StoreError::Conflict));
    let kept = store.get_client("c-2", 1_000).await.unwrap().unwrap();
    assert_eq!(kept.client_name.as_deref(), Some("Visual Studio Code"));
}

async fn unknown_client_is_none(store: Arc<dyn Stores>) {
    assert_eq!(store.get_client("nobody", 1_000).await.unwrap(), None);
}

async fn client_is_gone_once_expired(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-3", 5_000))
        .await
        .unwrap();
    assert!(store.get_client("c-3", 4_999).await.unwrap().is_some());
    assert_eq!(store.get_client("c-3", 5_000).await.unwrap(), None);
}

async fn extending_pushes_expiry_forward_but_never_back(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-4", 5_000))
        .await
        .unwrap();
    store.extend_client("c-4", 1_000, 9_000).await.unwrap();
    assert_eq!(
        store
            .get_client("c-4", 1_000)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        9_000
    );
    store.extend_client("c-4", 1_000, 7_000).await.unwrap();
    assert_eq!(
        store
            .get_client("c-4", 1_000)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        9_000
    );
}

async fn extending_does_not_resurrect_an_expired_client(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-5", 5_000))
        .await
        .unwrap();
    store.extend_client("c-5", 6_000, 99_000).await.unwrap();
    assert_eq!(store.get_client("c-5", 6_000).await.unwrap(), None);
}

async fn extending_an_unknown_client_is_harmless(store: Arc<dyn Stores>) {
    store.extend_client("ghost", 1_000, 9_000).await.unwrap();
    assert_eq!(store.get_client("ghost", 1_000).await.unwrap(), None);
}

fn user(email: &str, id: &str) -> User {
    User {
        user_id: id.into(),
        email: email.into(),
        name: "Dee Mo".into(),
        password_hash: PasswordHash::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        ),
        created_at: 10,
    }
}

fn membership(user_id: &str, account_id: &str, role: Role, created_at: u64) -> Membership {
    Membership {
        user_id: user_id.into(),
        account_id: account_id.into(),
        role,
        inbox_grants: vec!["inbox-sales".into()],
        created_at,
    }
}

async fn user_reads_back_by_email(store: Arc<dyn Stores>) {
    let u = user("demo@alta.local", "u-1");
    store.create_user(&u).await.unwrap();
    assert_eq!(
        store.user_by_email("demo@alta.local").await.unwrap(),
        Some(u)
    );
    assert_eq!(
        store.user_by_email("nobody@alta.local").await.unwrap(),
        None
    );
}

async fn second_user_with_the_same_email_conflicts(store: Arc<dyn Stores>) {
    store
        .create_user(&user("a@alta.local", "u-1"))
        .await
        .unwrap();
    assert_eq!(
        store.create_user(&user("a@alta.local", "u-2")).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store
            .user_by_email("a@alta.local")
            .await
            .unwrap()
            .unwrap()
            .user_id,
        "u-1"
    );
}

async fn memberships_come_oldest_first_and_keep_their_creation_time(store: Arc<dyn Stores>) {
    store
        .put_membership(&membership("u-1", "globex", Role::Member, 200))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-1", "acme", Role::Admin, 100))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-2", "acme", Role::Viewer, 50))
        .await
        .unwrap();
    let found = store.memberships("u-1").await.unwrap();
    let ids: Vec<_> = found.iter().map(|m| m.account_id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex"]);
    assert_eq!(found[0].inbox_grants, ["inbox-sales"]);

    // A role change applies at once and does not move the membership in the order.
    store
        .put_membership(&membership("u-1", "acme", Role::Viewer, 999))
        .await
        .unwrap();
    let found = store.memberships("u-1").await.unwrap();
    assert_eq!(found[0].account_id, "acme");
    assert_eq!(found[0].role, Role::Viewer);
    assert_eq!(found[0].created_at, 100);
    assert!(store.memberships("u-3").await.unwrap().is_empty());
}

async fn a_removed_membership_is_gone_and_removing_again_is_harmless(store: Arc<dyn Stores>) {
    store
        .put_membership(&membership("u-r", "acct-1", Role::Admin, 10))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-r", "acct-2", Role::Member, 20))
        .await
        .unwrap();
    assert_eq!(
        store
            .membership("u-r", "acct-2")
            .await
            .unwrap()
            .map(|m| m.role),
        Some(Role::Member)
    );
    store.remove_membership("u-r", "acct-1").await.unwrap();
    store.remove_membership("u-r", "acct-1").await.unwrap();
    assert_eq!(store.membership("u-r", "acct-1").await.unwrap(), None);
    let left: Vec<String> = store
        .memberships("u-r")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    assert_eq!(left, ["acct-2"]);
}

async fn account_reads_back(store: Arc<dyn Stores>) {
    let acme = Account {
        account_id: "acme".into(),
        name: "Acme Corp".into(),
        created_at: 5,
    };
    store.put_account(&acme).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(acme));
    assert_eq!(store.account("initech").await.unwrap(), None);
}

async fn sign_in_failures_count_within_a_window_and_reset_after(store: Arc<dyn Stores>) {
    assert_eq!(store.sign_in_failures("k", 100).await.unwrap(), 0);
    assert_eq!(
        store.count_sign_in_attempt("k", 100, 1000).await.unwrap(),
        1
    );
    assert_eq!(
        store.count_sign_in_attempt("k", 200, 1100).await.unwrap(),
        2
    );
    assert_eq!(store.sign_in_failures("k", 300).await.unwrap(), 2);
    assert_eq!(
        store.sign_in_failures("k", 1000).await.unwrap(),
        0,
        "the window is over"
    );
    assert_eq!(
        store.count_sign_in_attempt("k", 1000, 2000).await.unwrap(),
        1
    );
    store.forgive_sign_in_attempt("k", 1001).await.unwrap();
    assert_eq!(
        store.sign_in_failures("k", 1001).await.unwrap(),
        0,
        "forgiven"
    );
    store.forgive_sign_in_attempt("k", 1001).await.unwrap();
    assert_eq!(
        store.sign_in_failures("k", 1001).await.unwrap(),
        0,
        "never below zero"
    );
    store.count_sign_in_attempt("k", 1001, 2000).await.unwrap();
    store.clear_sign_in_failures("k").await.unwrap();
    assert_eq!(store.sign_in_failures("k", 1001).await.unwrap(), 0);

    // Concurrent attempts, some opening the window: each sees its own count.
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .count_sign_in_attempt("race", 100, 1000)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for racer in racers {
        counts.push(racer.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=12).collect::<Vec<u32>>());
}

fn code(raw: &str, expires_at: u64) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: TokenHash::of(raw),
        client_id: "claude".into(),
        redirect_uri: "https://claude.ai/api/mcp/auth_callback".into(),
        code_challenge: CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
            .unwrap(),
        user_id: "u-1".into(),
        scope: ScopeSet::parse("campaigns:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        family_id: "fam-1".into(),
        created_at: 100,
        expires_at,
    }
}

async fn code_is_taken_exactly_once(store: Arc<dyn Stores>) {
    let c = code("code-1", 160);
    store.put_code(&c).await.unwrap();
    assert_eq!(store.put_code(&c).await, Err(StoreError::Conflict));
    assert_eq!(
        store.take_code(&c.code_hash, 120).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(store.take_code(&c.code_hash, 120).await.unwrap(), None);
}

async fn expired_code_cannot_be_taken(store: Arc<dyn Stores>) {
    let c = code("code-2", 160);
    store.put_code(&c).await.unwrap();
    assert_eq!(store.take_code(&c.code_hash, 160).await.unwrap(), None);
}

async fn twenty_concurrent_takes_yield_one_code(store: Arc<dyn Stores>) {
    let c = code("code-3", 160);
    store.put_code(&c).await.unwrap();
    let takers: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let hash = c.code_hash.clone();
            tokio::spawn(async move { store.take_code(&hash, 120).await })
        })
        .collect();
    let mut winners = 0;
    for taker in takers {
        if taker.await.unwrap().unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn redeemed_code_remembers_what_it_issued(store: Arc<dyn Stores>) {
    let r = RedeemedCode {
        code_hash: TokenHash::of("code-4"),
        family_id: "fam-4".into(),
        user_id: Some("u-4".into()),
        access_token_jti: "jti-4".into(),
        access_token_expires_at: 3700,
        expires_at: 700,
    };
    store.put_redeemed_code(&r).await.unwrap();
    assert_eq!(
        store.redeemed_code(&r.code_hash, 600).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(store.redeemed_code(&r.code_hash, 700).await.unwrap(), None);
    assert_eq!(
        store
            .redeemed_code(&TokenHash::of("other"), 600)
            .await
            .unwrap(),
        None
    );
}

async fn refresh_token_reads_back_and_rotates_once(store: Arc<dyn Stores>) {
    let t = RefreshTokenRecord {
        token_hash: TokenHash::of("rt-1"),
        family_id: "fam-1".into(),
        client_id: "claude".into(),
        user_id: "u-1".into(),
        scope: ScopeSet::parse("campaigns:read inbox:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        issued_at: 100,
        expires_at: 1000,
        family_expires_at: 5000,
        rotated_at: None,
        replaced_by: None,
        previous: None,
        grace_retries: 0,
        successor_used_at: None,
    };
    store.put_refresh_token(&t).await.unwrap();
    assert_eq!(store.put_refresh_token(&t).await, Err(StoreError::Conflict));
    assert_eq!(
        store.refresh_token(&t.token_hash).await.unwrap(),
        Some(t.clone())
    );
    let next = TokenHash::of("rt-2");
    store.mark_rotated(&t.token_hash, 200, &next).await.unwrap();
    assert_eq!(
        store
            .mark_rotated(&t.token_hash, 201, &TokenHash::of("rt-3"))
            .await,
        Err(StoreError::Conflict)
    );
    let rotated = store.refresh_token(&t.token_hash).await.unwrap().unwrap();
    assert_eq!(rotated.rotated_at, Some(200));
    assert_eq!(rotated.replaced_by, Some(next));
    assert_eq!(
        store
            .mark_rotated(&TokenHash::of("ghost"), 200, &TokenHash::of("x"))
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.refresh_token(&TokenHash::of("ghost")).await.unwrap(),
        None
    );
}

fn refresh_record(raw: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: TokenHash::of(raw),
        family_id: "fam-1".into(),
        client_id: "claude".into(),
        user_id: "u-1".into(),
        scope: ScopeSet::parse("campaigns:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        issued_at: 100,
        expires_at: 1000,
        family_expires_at: 5000,
        rotated_at: None,
        replaced_by: None,
        previous: None,
        grace_retries: 0,
        successor_used_at: None,
    }
}

async fn a_rotated_token_is_retried_at_most_the_limit_within_its_grace(store: Arc<dyn Stores>) {
    let t = refresh_record("rt-grace");
    store.put_refresh_token(&t).await.unwrap();
    assert_eq!(
        store.retry_rotated(&t.token_hash, 0, 4).await,
        Err(StoreError::Conflict),
        "a token never rotated is not retried"
    );
    store
        .mark_rotated(&t.token_hash, 200, &TokenHash::of("rt-next"))
        .await
        .unwrap();
    assert_eq!(
        store.retry_rotated(&t.token_hash, 201, 4).await,
        Err(StoreError::Conflict),
        "rotated before the grace began"
    );
    for _ in 0..4 {
        store.retry_rotated(&t.token_hash, 150, 4).await.unwrap();
    }
    assert_eq!(
        store.retry_rotated(&t.token_hash, 150, 4).await,
        Err(StoreError::Conflict),
        "the fifth retry"
    );
    let stored = store.refresh_token(&t.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.grace_retries, 4);
    assert_eq!(
        store.retry_rotated(&TokenHash::of("ghost"), 0, 4).await,
        Err(StoreError::Conflict)
    );
}

async fn a_used_successor_ends_the_grace(store: Arc<dyn Stores>) {
    let t = refresh_record("rt-used");
    store.put_refresh_token(&t).await.unwrap();
    store
        .mark_rotated(&t.token_hash, 200, &TokenHash::of("rt-used-next"))
        .await
        .unwrap();
    store.mark_successor_used(&t.token_hash, 210).await.unwrap();
    store.mark_successor_used(&t.token_hash, 220).await.unwrap();
    assert_eq!(
        store.retry_rotated(&t.token_hash, 150, 4).await,
        Err(StoreError::Conflict)
    );
    let stored = store.refresh_token(&t.token_hash).await.unwrap().unwrap();
    assert_eq!(stored.successor_used_at, Some(210), "the first use is kept");
    store
        .mark_successor_used(&TokenHash::of("ghost"), 210)
        .await
        .unwrap();
    assert_eq!(
        store.refresh_token(&TokenHash::of("ghost")).await.unwrap(),
        None
    );
}

async fn concurrent_retries_cannot_pass_the_limit(store: Arc<dyn Stores>) {
    let t = refresh_record("rt-race");
    store.put_refresh_token(&t).await.unwrap();
    store
        .mark_rotated(&t.token_hash, 200, &TokenHash::of("rt-race-next"))
        .await
        .unwrap();
    let retries = (0..12).map(|_| {
        let store = store.clone();
        let hash = t.token_hash.clone();
        tokio::spawn(async move { store.retry_rotated(&hash, 150, 4).await })
    });
    let mut granted = 0;
    for retry in retries {
        match retry.await.unwrap() {
            Ok(()) => granted += 1,
            Err(StoreError::Conflict) => {}
            Err(err) => panic!("{err}"),
        }
    }
    assert_eq!(granted, 4);
}

fn grant(user_id: &str, grant_id: &str, created_at: u64, expires_at: u64) -> GrantRecord {
    GrantRecord {
        grant_id: grant_id.into(),
        user_id: user_id.into(),
        client_id: "claude".into(),
        client_name: "Claude".into(),
        redirect_host: "claude.ai".into(),
        scope: ScopeSet::parse("campaigns:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        created_at,
        last_used_at: created_at,
        expires_at,
    }
}

/// The grants not past their end at `now`, as the connections page reads them.
async fn live_grants(store: &Arc<dyn Stores>, user_id: &str, now: u64) -> Vec<GrantRecord> {
    let mut grants = store.grants(&user_id.into()).await.unwrap();
    grants.retain(|g| g.is_live(now));
    grants
}

async fn a_persons_grants_are_listed_touched_replaced_and_removed(store: Arc<dyn Stores>) {
    assert_eq!(live_grants(&store, "u-1", 100).await, vec![]);
    let first = grant("u-1", "fam-1", 100, 9000);
    let second = grant("u-1", "fam-2", 200, 9100);
    store.put_grant(&first, &[]).await.unwrap();
    store.put_grant(&second, &[]).await.unwrap();
    store
        .put_grant(&grant("u-2", "fam-9", 150, 9000), &[])
        .await
        .unwrap();
    assert_eq!(
        live_grants(&store, "u-1", 300).await,
        vec![first.clone(), second.clone()],
        "oldest first, only the person's own"
    );
    store
        .touch_grant(&"u-1".into(), &"fam-1".into(), 400)
        .await
        .unwrap();
    let touched = live_grants(&store, "u-1", 400).await;
    assert_eq!(touched[0].last_used_at, 400);
    assert_eq!(touched[0].created_at, 100);
    // A grant that is gone stays gone when touched.
    store
        .touch_grant(&"u-1".into(), &"fam-gone".into(), 400)
        .await
        .unwrap();
    store
        .touch_grant(&"u-3".into(), &"fam-gone".into(), 400)
        .await
        .unwrap();
    assert_eq!(live_grants(&store, "u-1", 400).await.len(), 2);
    assert_eq!(live_grants(&store, "u-3", 400).await, vec![]);
    // One write adds a grant and forgets the ones it ends.
    let third = grant("u-1", "fam-3", 500, 9500);
    store
        .put_grant(&third, &["fam-1".into(), "fam-unknown".into()])
        .await
        .unwrap();
    let ids: Vec<FamilyId> = live_grants(&store, "u-1", 500)
        .await
        .into_iter()
        .map(|g| g.grant_id)
        .collect();
    assert_eq!(ids, ["fam-2", "fam-3"]);
    store
        .remove_grant(&"u-1".into(), &"fam-2".into())
        .await
        .unwrap();
    store
        .remove_grant(&"u-1".into(), &"fam-2".into())
        .await
        .unwrap();
    store
        .remove_grant(&"u-4".into(), &"fam-2".into())
        .await
        .unwrap();
    assert_eq!(live_grants(&store, "u-1", 500).await, vec![third.clone()]);
    // A grant past its end stays recorded until a write forgets it.
    assert_eq!(live_grants(&store, "u-1", 9500).await, vec![]);
    assert_eq!(
        store.grants(&"u-1".into()).await.unwrap(),
        vec![third.clone()]
    );
}

async fn revocation_lasts_until_its_expiry_and_is_never_shortened(store: Arc<dyn Stores>) {
    assert!(!store.is_revoked("jti#1", 100).await.unwrap());
    store.revoke("jti#1", 500).await.unwrap();
    assert!(store.is_revoked("jti#1", 499).await.unwrap());
    store.revoke("jti#1", 300).await.unwrap();
    assert!(store.is_revoked("jti#1", 499).await.unwrap());
    assert!(!store.is_revoked("jti#1", 500).await.unwrap());
}

async fn any_revoked_checks_several_keys_at_once(store: Arc<dyn Stores>) {
    let keys = |ids: &[&str]| ids.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert!(!store.any_revoked(&keys(&[]), 100).await.unwrap());
    assert!(
        !store
            .any_revoked(&keys(&["jti#a", "family#f"]), 100)
            .await
            .unwrap()
    );
    store.revoke("family#f", 500).await.unwrap();
    assert!(
        store
            .any_revoked(&keys(&["jti#a", "family#f"]), 100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .any_revoked(&keys(&["jti#a", "family#g"]), 100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .any_revoked(&keys(&["jti#a", "family#f"]), 500)
            .await
            .unwrap(),
        "expired"
    );
}

async fn a_single_use_key_is_used_once_until_it_expires(store: Arc<dyn Stores>) {
    assert!(store.use_once("form#a", 500, 100).await.unwrap());
    assert!(
        !store.use_once("form#a", 500, 200).await.unwrap(),
        "used already"
    );
    assert!(
        store.use_once("form#b", 500, 200).await.unwrap(),
        "another key"
    );
    assert!(
        store.use_once("form#a", 900, 500).await.unwrap(),
        "expired: usable again"
    );
    let racers: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_once("form#c", 500, 100).await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for racer in racers {
        firsts += usize::from(racer.await.unwrap());
    }
    assert_eq!(firsts, 1, "of concurrent uses exactly one is first");
}

async fn alta_data_reads_back_in_order_within_its_account(store: Arc<dyn Stores>) {
    crate::demo::seed_alta_data(store.as_ref(), 1_800_000_000)
        .await
        .unwrap();
    let campaigns = store.campaigns(crate::demo::ACME).await.unwrap();
    let ids: Vec<_> = campaigns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "camp_acme_q4_outreach",
            "camp_acme_renewals",
            "camp_acme_webinar",
            "camp_acme_launch",
            "camp_acme_partners"
        ]
    );
    let emails = store.emails(crate::demo::ACME).await.unwrap();
    assert_eq!(emails.first().unwrap().id, "email_acme_1", "newest first");
    assert!(
        emails
            .windows(2)
            .all(|w| w[0].received_at >= w[1].received_at)
    );
    let one = store
        .email(crate::demo::ACME, "email_acme_3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.campaign_id.as_deref(), Some("camp_acme_renewals"));
    assert_eq!(
        store
            .email(crate::demo::GLOBEX, "email_acme_3")
            .await
            .unwrap(),
        None,
        "another account's id"
    );
    assert_eq!(
        store
            .campaign(crate::demo::GLOBEX, "camp_acme_renewals")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.inboxes(crate::demo::GLOBEX).await.unwrap().len(), 1);
    assert_eq!(
        store
            .campaign(crate::demo::ACME, "camp_acme_renewals")
            .await
            .unwrap()
            .unwrap(),
        campaigns[1]
    );
}

fn paged_campaign(id: &str, created_at: u64, status: CampaignStatus) -> Campaign {
    Campaign {
        id: id.into(),
        account_id: "acct-p".into(),
        name: format!("Campaign {id}"),
        status,
        mode: CampaignMode::Autopilot,
        inbox_id: "in-1".into(),
        stats: CampaignStats {
            sent: 1,
            opened: 0,
            replied: 0,
        },
        created_at,
        updated_at: created_at,
    }
}

fn paged_email(id: &str, received_at: u64, inbox: &str, campaign: Option<&str>) -> Email {
    Email {
        id: id.into(),
        account_id: "acct-p".into(),
        inbox_id: inbox.into(),
        campaign_id: campaign.map(str::to_owned),
        subject: format!("Subject {id}"),
        from: format!("sender-{id}@example.com"),
        to: "team@example.com".into(),
        received_at,
        body: format!("Body of {id}. {} NEEDLE-FAR-AWAY", "filler ".repeat(40)),
    }
}

/// Walks a list page by page, `limit` at a time: the ids in order.
async fn walk<T, F, Fut>(limit: usize, mut page: F, id: impl Fn(&T) -> String) -> Vec<String>
where
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let mut ids = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let found = page(after.clone(), limit).await.unwrap();
        assert!(found.items.len() <= limit);
        ids.extend(found.items.iter().map(&id));
        match found.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
    panic!("the list did not end");
}

async fn list_pages_walk_each_list_once_in_order(store: Arc<dyn Stores>) {
    use CampaignStatus::{Active, Paused};
    for (id, at, status) in [
        ("c5", 105, Active),
        ("c1", 101, Paused),
        ("c3", 103, Active),
        ("c0", 100, Active),
        ("c4", 103, Paused),
        ("c2", 102, Active),
        ("c6", 106, Active),
    ] {
        store
            .put_campaign(&paged_campaign(id, at, status))
            .await
            .unwrap();
    }
    // Another account's campaign never shows.
    store
        .put_campaign(&Campaign {
            account_id: "acct-other".into(),
            ..paged_campaign("c9", 99, Active)
        })
        .await
        .unwrap();
    let all = walk(
        3,
        |after, limit| {
            let store = store.clone();
            async move {
                store
                    .campaign_page("acct-p", None, after.as_deref(), limit)
                    .await
            }
        },
        |c: &Campaign| c.id.clone(),
    )
    .await;
    assert_eq!(
        all,
        ["c0", "c1", "c2", "c3", "c4", "c5", "c6"],
        "oldest first, ties by id"
    );
    let active = walk(
        2,
        |after, limit| {
            let store = store.clone();
            async move {
                store
                    .campaign_page("acct-p", Some(Active), after.as_deref(), limit)
                    .await
            }
        },
        |c: &Campaign| c.id.clone(),
    )
    .await;
    assert_eq!(active, ["c0", "c2", "c3", "c5", "c6"]);
    let exact = store.campaign_page("acct-p", None, None, 7).await.unwrap();
    assert_eq!(
        (exact.items.len(), exact.next),
        (7, None),
        "no next page after the last"
    );

    for (id, at) in [("in-2", 50), ("in-1", 50), ("in-3", 40)] {
        store
            .put_inbox(&Inbox {
                id: id.into(),
                account_id: "acct-p".into(),
                name: id.into(),
                address: format!("{id}@example.com"),
                created_at: at,
            })
            .await
            .unwrap();
    }
    let inboxes = store.inbox_page("acct-p", None, None, 10).await.unwrap();
    let ids: Vec<&str> = inboxes.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["in-3", "in-1", "in-2"]);
    let only: Vec<String> = vec!["in-2".into(), "in-3".into()];
    let granted = store
        .inbox_page("acct-p", Some(&only), None, 1)
        .await
        .unwrap();
    assert_eq!(granted.items[0].id, "in-3");
    let rest = store
        .inbox_page("acct-p", Some(&only), granted.next.as_deref(), 1)
        .await
        .unwrap();
    assert_eq!((rest.items[0].id.as_str(), rest.next), ("in-2", None));
    assert!(store.inbox("acct-p", "in-1").await.unwrap().is_some());
    assert!(store.inbox("acct-other", "in-1").await.unwrap().is_none());
}

async fn email_pages_continue_where_they_stopped_while_mail_arrives(store: Arc<dyn Stores>) {
    for (id, at, inbox, campaign) in [
        ("e1", 1001, "in-1", Some("c1")),
        ("e2", 1002, "in-2", None),
        ("e3", 1003, "in-1", None),
        ("e4", 1004, "in-1", Some("c1")),
        ("e5", 1005, "in-2", Some("c1")),
        ("e6", 1005, "in-1", None),
        ("e7", 1007, "in-1", None),
    ] {
        store
            .put_email(&paged_email(id, at, inbox, campaign))
            .await
            .unwrap();
    }
    let all = EmailFilter::default();
    let first = store.email_page("acct-p", &all, None, 3).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["e7", "e6", "e5"],
        "newest first, ties by id descending"
    );
    assert!(first.items[0].snippet.starts_with("Body of e7."));
    assert!(
        !first.items[0].snippet.contains("NEEDLE"),
        "a snippet, not the body"
    );
    // New mail arrives between pages: the next page continues after e5, neither
    // repeating nor skipping anything.
    store
        .put_email(&paged_email("e8", 2000, "in-1", None))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let mut after = first.next.clone();
    while let Some(position) = after {
        let page = store
            .email_page("acct-p", &all, Some(&position), 3)
            .await
            .unwrap();
        rest.extend(page.items.iter().map(|e| e.id.clone()));
        after = page.next;
    }
    assert_eq!(rest, ["e4", "e3", "e2", "e1"]);
    let fresh = store.email_page("acct-p", &all, None, 1).await.unwrap();
    assert_eq!(
        fresh.items[0].id, "e8",
        "a fresh first page has the new mail"
    );

    let ids = |filter: EmailFilter| {
        let store = store.clone();
        async move {
            walk(
                2,
                |after, limit| {
                    let (store, filter) = (store.clone(), filter.clone());
                    async move {
                        store
                            .email_page("acct-p", &filter, after.as_deref(), limit)
                            .await
                    }
                },
                |e: &EmailSummary| e.id.clone(),
            )
            .await
        }
    };
    let inbox = |id: &str| EmailFilter {
        inbox_id: Some(id.into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(inbox("in-2")).await, ["e5", "e2"]);
    let campaign = EmailFilter {
        campaign_id: Some("c1".into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(campaign.clone()).await, ["e5", "e4", "e1"]);
    assert_eq!(
        ids(EmailFilter {
            inbox_id: Some("in-1".into()),
            ..campaign.clone()
        })
        .await,
        ["e4", "e1"]
    );
    let readable = |inboxes: &[&str]| EmailFilter {
        readable: Some(inboxes.iter().map(|s| (*s).to_owned()).collect()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(readable(&["in-2"])).await, ["e5", "e2"]);
    assert_eq!(
        ids(EmailFilter {
            campaign_id: Some("c1".into()),
            ..readable(&["in-2"])
        })
        .await,
        ["e5"]
    );
    assert_eq!(ids(readable(&[])).await, Vec::<String>::new());
    let text = |q: &str| EmailFilter {
        text: Some(q.into()),
        ..EmailFilter::default()
    };
    assert_eq!(ids(text("subject e3")).await, ["e3"]);
    assert_eq!(ids(text("sender-e2@")).await, ["e2"]);
    assert_eq!(
        ids(text("body of e4")).await,
        ["e4"],
        "the snippet is searched"
    );
    assert_eq!(
        ids(text("needle-far-away")).await,
        Vec::<String>::new(),
        "the body beyond the snippet is not"
    );
    // The full email, body included, is one read by id.
    let one = store.email("acct-p", "e4").await.unwrap().unwrap();
    assert!(one.body.contains("NEEDLE-FAR-AWAY"));
    // Another account sees none of it.
    let other = store
        .email_page("acct-other", &all, None, 10)
        .await
        .unwrap();
    assert!(other.items.is_empty());
}

async fn campaign_status_changes_only_from_the_expected_status(store: Arc<dyn Stores>) {
    crate::demo::seed_alta_data(store.as_ref(), 1_800_000_000)
        .await
        .unwrap();
    let acme = crate::demo::ACME;
    let paused = store
        .update_campaign_status(
            acme,
            "camp_acme_q4_outreach",
            CampaignStatus::Active,
            CampaignStatus::Paused,
            1_800_000_100,
        )
        .await
        .unwrap();
    assert_eq!(paused.status, CampaignStatus::Paused);
    assert_eq!(paused.updated_at, 1_800_000_100);
    assert_eq!(
        store
            .update_campaign_status(
                acme,
                "camp_acme_q4_outreach",
                CampaignStatus::Active,
                CampaignStatus::Paused,
                1
            )
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store
            .update_campaign_status(
                acme,
                "nope",
                CampaignStatus::Active,
                CampaignStatus::Paused,
                1
            )
            .await,
        Err(StoreError::Conflict)
    );
    let stored = store
        .campaign(acme, "camp_acme_q4_outreach")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CampaignStatus::Paused);
}
