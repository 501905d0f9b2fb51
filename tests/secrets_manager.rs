//! Keys and pre-configured client secrets read from Secrets Manager, against moto on
//! loopback (started by scripts/test). The JWKS is read from the public-keys secret, as
//! the discovery function does.

use crate::support;

use support::Server as _;

use std::time::Duration;

use alta_shared::aws;
use alta_shared::keys::KeySet;
use serde_json::{Value, json};
use support::oauth::{get_page, post_authorize};
use support::{Backend, TestServer, http, secretsmanager_endpoint};

pub(crate) async fn secrets() -> aws_sdk_secretsmanager::Client {
    let sdk = aws::sdk_config(true).await;
    aws::secretsmanager_client(&sdk, Some(&secretsmanager_endpoint()))
}

pub(crate) async fn create_secret(value: &str) -> String {
    let name = format!("alta/test/{}", support::unique_prefix());
    secrets()
        .await
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create the secret in moto");
    name
}

async fn jwks(server: &TestServer) -> (u16, Value) {
    let resp = http()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A server that publishes the public keys in `secret_id`, as the discovery function.
async fn server_reading(secret_id: &str, extra: &[(&str, &str)]) -> TestServer {
    let endpoint = secretsmanager_endpoint();
    let mut vars = vec![
        ("ALTA_PUBLIC_KEYS_SECRET_ID", secret_id),
        ("ALTA_SECRETSMANAGER_ENDPOINT", endpoint.as_str()),
    ];
    vars.extend_from_slice(extra);
    TestServer::start_with(Backend::Memory, &vars).await
}

/// A secret that holds no key (`{"keys":[]}`, as before the first rotation) makes every
/// request that needs a key answer 503, and the secret is not read again on every request:
/// only once the retry interval (here the 2 s key cache) has passed.
#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn an_empty_secret_is_503_and_read_again_only_after_the_retry_interval() {
    let secret_id = create_secret(r#"{"keys":[]}"#).await;
    let server = server_reading(&secret_id, &[("ALTA_SIGNING_KEY_CACHE_SECONDS", "2")]).await;
    let (status, body) = jwks(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");

    let keys = KeySet::generate(1).unwrap();
    secrets()
        .await
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(keys.public().to_secret_json())
        .send()
        .await
        .unwrap();
    // Within the retry interval the failure is remembered: no read, still 503.
    assert_eq!(jwks(&server).await.0, 503);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = jwks(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"][0]["kid"], keys.newest_key().kid());
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn published_keys_come_from_the_public_keys_secret() {
    let keys = KeySet::generate(1).unwrap();
    let secret_id = create_secret(&keys.public().to_secret_json()).await;
    let server = server_reading(&secret_id, &[]).await;
    let (status, body) = jwks(&server).await;
    assert_eq!(status, 200);
    assert_eq!(body["keys"][0]["kid"], keys.newest_key().kid());
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn a_rotation_reaches_a_warm_container_after_the_cache_ttl() {
    let first = KeySet::generate(1).unwrap();
    let first_kid = first.newest_key().kid().to_owned();
    let secret_id = create_secret(&first.public().to_secret_json()).await;
    let server = server_reading(&secret_id, &[("ALTA_SIGNING_KEY_CACHE_SECONDS", "2")]).await;
    assert_eq!(jwks(&server).await.1["keys"][0]["kid"], first_kid);

    let rotated = first
        .rotated(100, Duration::from_secs(1200), Duration::from_secs(7200))
        .unwrap();
    secrets()
        .await
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(rotated.public().to_secret_json())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let (_, body) = jwks(&server).await;
    let kids: Vec<&str> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [rotated.newest_key().kid(), first_kid.as_str()]);
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn a_missing_secret_is_a_503_not_a_crash() {
    let server = server_reading("alta/test/does-not-exist", &[]).await;
    let (status, body) = jwks(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        !body.to_string().contains("does-not-exist"),
        "internal detail leaked: {body}"
    );
}

const CLAUDE_CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

/// A server whose pre-configured `claude` client has `secret` in Secrets Manager.
async fn server_with_confidential_claude(secret: &str) -> TestServer {
    let secret_id = create_secret(secret).await;
    let clients = json!([{
        "client_id": "claude",
        "client_name": "Claude",
        "redirect_uris": [CLAUDE_CALLBACK],
        "client_secret_secret_id": secret_id,
    }])
    .to_string();
    let endpoint = secretsmanager_endpoint();
    TestServer::start_with(
        Backend::Memory,
        &[
            ("ALTA_PRECONFIGURED_CLIENTS", clients.as_str()),
            ("ALTA_SECRETSMANAGER_ENDPOINT", endpoint.as_str()),
        ],
    )
    .await
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn registering_a_confidential_clients_redirect_uri_gets_a_new_client_not_its_secret() {
    let server = server_with_confidential_claude("claude-client-secret-value").await;
    let resp = http()
        .post(server.url("/register"))
        .json(&json!({"redirect_uris": [CLAUDE_CALLBACK],
                      "token_endpoint_auth_method": "client_secret_post"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    // Anyone can name Claude's redirect URI: they get an ordinary registration of their own.
    assert_ne!(info["client_id"], "claude");
    assert_ne!(info["client_secret"], "claude-client-secret-value");
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_post");
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn confidential_preconfigured_client_authenticates_with_basic_at_the_token_endpoint() {
    let server = server_with_confidential_claude("claude-secret-2").await;
    let redirect = CLAUDE_CALLBACK;
    let browser = support::oauth::browser();
    let verifier = support::oauth::verifier();
    let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "claude")
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", &support::oauth::challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    let html = get_page(&browser, url.as_str()).await;
    let pending = support::oauth::pending_field(&html);
    let fields = [
        ("request", pending.as_str()),
        ("email", "demo@alta.local"),
        ("password", support::DEMO_PASSWORD),
        ("account", "acct_acme"),
        ("decision", "allow"),
    ];
    let resp = post_authorize(&browser, &server, &fields).await;
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect));
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];

    let wrong = http()
        .post(server.url("/token"))
        .basic_auth("claude", Some("nope"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let public = http()
        .post(server.url("/token"))
        .form(&[form.as_slice(), &[("client_id", "claude")]].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        401,
        "a confidential client must authenticate"
    );

    let ok = http()
        .post(server.url("/token"))
        .basic_auth("claude", Some("claude-secret-2"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.unwrap();
    assert!(tokens["access_token"].is_string());
}

#[tokio::test]
#[ignore = "needs Secrets Manager at ALTA_TEST_SECRETSMANAGER_ENDPOINT; scripts/test runs it"]
async fn rotation_steps_give_a_fresh_stack_its_key_and_then_add_keys() {
    use alta_shared::key_rotation::{
        KeySchedule, RotationError, RotationEvent, RotationTarget, rotate, run_step,
    };
    use alta_shared::keys::{KeyRing, KeySet, PublicKeySet, SecretsManagerKeys};

    let client = secrets().await;
    let secret_id = create_secret(r#"{"keys":[]}"#).await;
    let public_id = create_secret(r#"{"keys":[]}"#).await;
    let target = RotationTarget {
        public_keys_secret_id: public_id.clone(),
        schedule: KeySchedule {
            activation: Duration::from_secs(1200),
            retention: Duration::from_secs(3960),
        },
    };
    let target = &target;
    let event = |step: &str, token: &str| RotationEvent {
        secret_id: secret_id.clone(),
        token: token.into(),
        step: step.into(),
    };
    // Secrets Manager invokes the function only for a secret with rotation enabled.
    assert!(matches!(
        rotate(
            &client,
            &event("createSecret", "token-0000000000000000000000000001"),
            100,
            target
        )
        .await,
        Err(RotationError::NotEnabled)
    ));

    let rotate_once = |token: &'static str, now: u64| {
        let (client, event) = (client.clone(), &event);
        async move {
            // createSecret twice: a retried step finds its version already written.
            let steps = [
                "createSecret",
                "createSecret",
                "setSecret",
                "testSecret",
                "finishSecret",
            ];
            for step in steps {
                run_step(&client, &event(step, token), now, target)
                    .await
                    .unwrap();
            }
        }
    };
    rotate_once("token-0000000000000000000000000001", 1_000).await;
    let described = client
        .describe_secret()
        .secret_id(&secret_id)
        .send()
        .await
        .unwrap();
    assert!(
        described
            .version_ids_to_stages()
            .unwrap()
            .values()
            .all(|stages| !stages.iter().any(|s| s == "AWSPENDING")),
        "a finished rotation leaves no version pending, so the next one can start"
    );
    let ring: KeyRing<KeySet> = KeyRing::from_secrets_manager(
        SecretsManagerKeys {
            client: client.clone(),
            secret_id: secret_id.clone(),
        },
        Duration::ZERO,
    );
    let public_ring: KeyRing<PublicKeySet> = KeyRing::from_secrets_manager(
        SecretsManagerKeys {
            client: client.clone(),
            secret_id: public_id.clone(),
        },
        Duration::ZERO,
    );
    let first = ring.current().await.unwrap();
    assert_eq!(
        first.keys().len(),
        1,
        "a fresh stack has a key with no manual step"
    );
    let first_kid = first.newest_key().kid().to_owned();
    assert_eq!(
        public_ring.current().await.unwrap().jwks().keys,
        first.jwks().keys,
        "the public half is published beside it, without a private key"
    );

    rotate_once("token-0000000000000000000000000002", 2_000).await;
    let second = ring.current().await.unwrap();
    assert_eq!(second.keys().len(), 2);
    assert_ne!(
        second.newest_key().kid(),
        first_kid,
        "the new key is the newest"
    );
    assert_eq!(
        second.keys()[1].kid(),
        first_kid,
        "the previous key stays published"
    );
    assert_eq!(
        public_ring.current().await.unwrap().jwks().keys,
        second.jwks().keys
    );
}
