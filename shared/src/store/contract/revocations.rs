//! The store contract of revocations and single-use keys.

use super::*;

pub(super) async fn revocation_lasts_until_its_expiry_and_is_never_shortened(
    store: Arc<dyn Stores>,
) {
    assert!(!store.is_revoked("jti#1", 100).await.unwrap());
    store.revoke("jti#1", 500).await.unwrap();
    assert!(store.is_revoked("jti#1", 499).await.unwrap());
    store.revoke("jti#1", 300).await.unwrap();
    assert!(store.is_revoked("jti#1", 499).await.unwrap());
    assert!(!store.is_revoked("jti#1", 500).await.unwrap());
}

pub(super) async fn any_revoked_checks_several_keys_at_once(store: Arc<dyn Stores>) {
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

pub(super) async fn a_single_use_key_is_used_once_until_it_expires(store: Arc<dyn Stores>) {
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
