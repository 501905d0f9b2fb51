//! The store contract of refresh tokens, their grace, and grants.

use super::*;

pub(super) async fn refresh_token_reads_back_and_rotates_once(store: Arc<dyn Stores>) {
    let t = RefreshTokenRecord {
        token_hash: TokenHash::of("rt-1"),
        family_id: "fam-1".into(),
        client_id: "claude".into(),
        user_id: "u-1".into(),
        scope: ScopeSet::parse("campaigns:read inbox:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        idp: "password".into(),
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

pub(super) fn refresh_record(raw: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: TokenHash::of(raw),
        family_id: "fam-1".into(),
        client_id: "claude".into(),
        user_id: "u-1".into(),
        scope: ScopeSet::parse("campaigns:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        idp: "password".into(),
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

pub(super) async fn a_rotated_token_is_retried_at_most_the_limit_within_its_grace(
    store: Arc<dyn Stores>,
) {
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

pub(super) async fn a_used_successor_ends_the_grace(store: Arc<dyn Stores>) {
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

pub(super) async fn concurrent_retries_cannot_pass_the_limit(store: Arc<dyn Stores>) {
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

pub(super) fn grant(
    user_id: &str,
    grant_id: &str,
    created_at: u64,
    expires_at: u64,
) -> GrantRecord {
    GrantRecord {
        grant_id: grant_id.into(),
        user_id: user_id.into(),
        client_id: "claude".into(),
        client_name: "Claude".into(),
        redirect_host: "claude.ai".into(),
        scope: ScopeSet::parse("campaigns:read").unwrap(),
        resource: "http://127.0.0.1:3000/mcp".into(),
        account_id: "acct-1".into(),
        idp: "password".into(),
        managed_by: None,
        created_at,
        last_used_at: created_at,
        expires_at,
    }
}

/// The grants not past their end at `now`, as the connections page reads them.
pub(super) async fn live_grants(
    store: &Arc<dyn Stores>,
    user_id: &str,
    now: u64,
) -> Vec<GrantRecord> {
    let mut grants = store.grants(&user_id.into()).await.unwrap();
    grants.retain(|g| g.is_live(now));
    grants
}

pub(super) async fn a_persons_grants_are_listed_touched_replaced_and_removed(
    store: Arc<dyn Stores>,
) {
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
