//! The store tests, written once and run against every implementation: the in-memory
//! store always, DynamoDB when `ALTA_TEST_DYNAMODB_ENDPOINT` names one (the test script
//! starts dynalite and runs these with `--include-ignored`).

use super::ClientStore;
use super::dynamo::{DynamoStore, tables};
use super::memory::MemoryStore;
use crate::config::TableNames;
use crate::oauth::client::{
    ApplicationType, ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::redirect_uri::RedirectUri;
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
                    super::$name(&super::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
                async fn $name() {
                    super::$name(&super::dynamo_store_for_tests().await).await;
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
        scope: Some("campaigns:read".into()),
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

async fn registered_client_reads_back_unchanged(store: &dyn ClientStore) {
    let client = sample_client("c-1", 10_000);
    store.insert_client(&client).await.unwrap();
    assert_eq!(store.get_client("c-1", 1_000).await.unwrap(), Some(client));
}

async fn second_registration_with_the_same_id_conflicts(store: &dyn ClientStore) {
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

async fn unknown_client_is_none(store: &dyn ClientStore) {
    assert_eq!(store.get_client("nobody", 1_000).await.unwrap(), None);
}

async fn client_is_gone_once_expired(store: &dyn ClientStore) {
    store
        .insert_client(&sample_client("c-3", 5_000))
        .await
        .unwrap();
    assert!(store.get_client("c-3", 4_999).await.unwrap().is_some());
    assert_eq!(store.get_client("c-3", 5_000).await.unwrap(), None);
}

async fn extending_pushes_expiry_forward_but_never_back(store: &dyn ClientStore) {
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

async fn extending_does_not_resurrect_an_expired_client(store: &dyn ClientStore) {
    store
        .insert_client(&sample_client("c-5", 5_000))
        .await
        .unwrap();
    store.extend_client("c-5", 6_000, 99_000).await.unwrap();
    assert_eq!(store.get_client("c-5", 6_000).await.unwrap(), None);
}

async fn extending_an_unknown_client_is_harmless(store: &dyn ClientStore) {
    store.extend_client("ghost", 1_000, 9_000).await.unwrap();
    assert_eq!(store.get_client("ghost", 1_000).await.unwrap(), None);
}
