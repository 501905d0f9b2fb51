//! The store contract of the directory: users, accounts, memberships, sign-in counters.

use super::*;

pub(super) fn user(email: &str, id: &str) -> User {
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
    let acme = Account {
        account_id: "acme".into(),
        name: "Acme Corp".into(),
        created_at: 5,
    };
    store.put_account(&acme).await.unwrap();
    assert_eq!(store.account("acme").await.unwrap(), Some(acme));
    assert_eq!(store.account("initech").await.unwrap(), None);
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
