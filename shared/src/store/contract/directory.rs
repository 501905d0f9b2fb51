//! The store contract of the directory: users, accounts, memberships, sign-in counters.

use super::*;

pub(super) fn user(email: &str, id: &str) -> User {
    User {
        user_id: id.into(),
        email: email.into(),
        name: "Dee Mo".into(),
        password_hash: Some(PasswordHash::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        )),
        created_at: 10,
    }
}

pub(super) fn membership(
    user_id: &str,
    account_id: &str,
    role: Role,
    created_at: u64,
) -> Membership {
    Membership {
        user_id: user_id.into(),
        account_id: account_id.into(),
        role,
        inbox_grants: vec!["inbox-sales".into()],
        created_at,
    }
}

pub(super) async fn user_reads_back_by_email(store: Arc<dyn Stores>) {
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

pub(super) async fn second_user_with_the_same_email_conflicts(store: Arc<dyn Stores>) {
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

pub(super) async fn memberships_come_oldest_first_and_keep_their_creation_time(
    store: Arc<dyn Stores>,
) {
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

pub(super) async fn an_accounts_members_come_with_their_emails_oldest_first(
    store: Arc<dyn Stores>,
) {
    store
        .create_user(&user("ana@acme.example", "u-ana"))
        .await
        .unwrap();
    store
        .create_user(&user("bo@acme.example", "u-bo"))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-bo", "acme", Role::Member, 200))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-ana", "acme", Role::Admin, 100))
        .await
        .unwrap();
    store
        .put_membership(&membership("u-ana", "globex", Role::Viewer, 50))
        .await
        .unwrap();
    // A membership whose user record is gone still shows, without an email.
    store
        .put_membership(&membership("u-gone", "acme", Role::Viewer, 300))
        .await
        .unwrap();
    let members = store.members("acme").await.unwrap();
    let listed: Vec<_> = members
        .iter()
        .map(|m| {
            (
                m.membership.user_id.as_str(),
                m.email.as_deref(),
                m.membership.role,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("u-ana", Some("ana@acme.example"), Role::Admin),
            ("u-bo", Some("bo@acme.example"), Role::Member),
            ("u-gone", None, Role::Viewer),
        ]
    );
    assert_eq!(members[0].membership.inbox_grants, ["inbox-sales"]);
    assert!(store.members("initech").await.unwrap().is_empty());
}

pub(super) async fn a_removed_membership_is_gone_and_removing_again_is_harmless(
    store: Arc<dyn Stores>,
) {
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

pub(super) async fn account_reads_back(store: Arc<dyn Stores>) {
    let mut acme = Account {
        account_id: "acme".into(),
        name: "Acme Corp".into(),
        created_at: 5,
        required_idp: None,
    };
    store.put_account(&acme).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(store.account("initech").await.unwrap(), None);
    acme.required_idp = Some("okta".into());
    store.put_account(&acme).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(acme));
}

pub(super) async fn a_person_without_a_password_reads_back(store: Arc<dyn Stores>) {
    let sso = User {
        password_hash: None,
        ..user("sso@globex.example", "u-sso")
    };
    store.create_user(&sso).await.unwrap();
    assert_eq!(
        store.user_by_email("sso@globex.example").await.unwrap(),
        Some(sso)
    );
}

pub(super) async fn identity_providers_are_listed_replaced_and_removed(store: Arc<dyn Stores>) {
    let provider = |id: &str, button: bool| IdentityProvider {
        id: id.into(),
        display_name: format!("{id} SSO"),
        issuer: format!("https://{id}.example"),
        client_id: "alta".into(),
        scopes: "openid email".into(),
        domains: vec![format!("{id}.example")],
        button,
        id_jag: false,
        tenant: Some("t-1".into()),
    };
    assert!(store.identity_providers().await.unwrap().is_empty());
    store
        .put_identity_provider(&provider("okta", false))
        .await
        .unwrap();
    store
        .put_identity_provider(&provider("google", true))
        .await
        .unwrap();
    store
        .put_identity_provider(&provider("okta", true))
        .await
        .unwrap();
    let mut listed = store.identity_providers().await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, [provider("google", true), provider("okta", true)]);
    store.remove_identity_provider("okta").await.unwrap();
    store.remove_identity_provider("okta").await.unwrap();
    assert_eq!(
        store.identity_providers().await.unwrap(),
        [provider("google", true)]
    );
}

pub(super) async fn an_identity_link_is_made_once(store: Arc<dyn Stores>) {
    let link = IdentityLink {
        issuer: "https://idp.example".into(),
        subject: "sub-1".into(),
        user_id: "u-1".into(),
        email: "demo@alta.local".into(),
        provider_id: "idp".into(),
        created_at: 10,
    };
    assert_eq!(
        store.identity_link(&link.issuer, "sub-1").await.unwrap(),
        None
    );
    store.create_identity_link(&link).await.unwrap();
    let other = IdentityLink {
        user_id: "u-2".into(),
        ..link.clone()
    };
    assert_eq!(
        store.create_identity_link(&other).await,
        Err(StoreError::Conflict),
        "a subject is linked to one person"
    );
    assert_eq!(
        store.identity_link(&link.issuer, "sub-1").await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        store
            .identity_link("https://other.example", "sub-1")
            .await
            .unwrap(),
        None,
        "a subject is per issuer"
    );
}

pub(super) async fn sign_in_failures_count_within_a_window_and_reset_after(store: Arc<dyn Stores>) {
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
