//! The store contract of authorization codes.

use super::*;

pub(super) fn code(raw: &str, expires_at: u64) -> AuthorizationCodeRecord {
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
        idp: "password".into(),
        family_id: "fam-1".into(),
        created_at: 100,
        expires_at,
    }
}

pub(super) async fn code_is_taken_exactly_once(store: Arc<dyn Stores>) {
    let c = code("code-1", 160);
    store.put_code(&c).await.unwrap();
    assert_eq!(store.put_code(&c).await, Err(StoreError::Conflict));
    assert_eq!(
        store.take_code(&c.code_hash, 120).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(store.take_code(&c.code_hash, 120).await.unwrap(), None);
}

pub(super) async fn expired_code_cannot_be_taken(store: Arc<dyn Stores>) {
    let c = code("code-2", 160);
    store.put_code(&c).await.unwrap();
    assert_eq!(store.take_code(&c.code_hash, 160).await.unwrap(), None);
}

pub(super) async fn twenty_concurrent_takes_yield_one_code(store: Arc<dyn Stores>) {
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

pub(super) async fn redeemed_code_remembers_what_it_issued(store: Arc<dyn Stores>) {
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
