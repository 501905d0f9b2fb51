//! The store contract of registered clients.

use super::*;

pub(super) fn sample_client(id: &str, expires_at: u64) -> RegisteredClient {
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

pub(super) async fn registered_client_reads_back_unchanged(store: Arc<dyn Stores>) {
    let client = sample_client("c-1", 10_000);
    store.insert_client(&client).await.unwrap();
    assert_eq!(store.get_client("c-1", 1_000).await.unwrap(), Some(client));
}

pub(super) async fn second_registration_with_the_same_id_conflicts(store: Arc<dyn Stores>) {
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

pub(super) async fn unknown_client_is_none(store: Arc<dyn Stores>) {
    assert_eq!(store.get_client("nobody", 1_000).await.unwrap(), None);
}

pub(super) async fn client_is_gone_once_expired(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-3", 5_000))
        .await
        .unwrap();
    assert!(store.get_client("c-3", 4_999).await.unwrap().is_some());
    assert_eq!(store.get_client("c-3", 5_000).await.unwrap(), None);
}

pub(super) async fn extending_pushes_expiry_forward_but_never_back(store: Arc<dyn Stores>) {
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

pub(super) async fn extending_does_not_resurrect_an_expired_client(store: Arc<dyn Stores>) {
    store
        .insert_client(&sample_client("c-5", 5_000))
        .await
        .unwrap();
    store.extend_client("c-5", 6_000, 99_000).await.unwrap();
    assert_eq!(store.get_client("c-5", 6_000).await.unwrap(), None);
}

pub(super) async fn extending_an_unknown_client_is_harmless(store: Arc<dyn Stores>) {
    store.extend_client("ghost", 1_000, 9_000).await.unwrap();
    assert_eq!(store.get_client("ghost", 1_000).await.unwrap(), None);
}
