//! The emulated deployed stack (`scripts/stack`: the real function binaries behind the
//! API Gateway and Lambda emulators, on dynalite and moto) against the local server: what
//! API Gateway refuses, the local server refuses the same way; what it routes, both
//! answer alike. And the stack runs several containers of a function at once.
//!
//! These need a running stack, named by `ALTA_TEST_STACK_STATE` (its state.json), and
//! the local server in `ALTA_TEST_SERVERS`; scripts/test starts both.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alta_shared::routes::Function;
use serde_json::{Value, json};
use support::client_keys::{ClientKey, jwks};
use support::clients::{CHATGPT_JWKS_PATH, chatgpt_document};
use support::https::{Document, MetadataServer};
use support::mcp::{Mcp, ping_status};
use support::stack::{self, EmulatedStack, RunningStack};
use support::{DEMO_PASSWORD, Server, TestServer, oauth};

fn stack_state() -> Value {
    let path = std::env::var("ALTA_TEST_STACK_STATE").expect(
        "ALTA_TEST_STACK_STATE names the running stack's state.json (scripts/test sets it)",
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn json(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// (status, body) of a request, for comparing two servers.
async fn answer(method: &str, url: &str, body: Option<Vec<u8>>) -> (u16, String) {
    let mut req = http().request(method.parse().unwrap(), url);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn unrouted_requests_get_api_gateways_answer_from_both() {
    let stack = stack_state()["base_url"].as_str().unwrap().to_owned();
    let local = TestServer::start(support::Backend::Memory).await;
    let not_found = (404, r#"{"message":"Not Found"}"#.to_owned());
    for (method, path) in [
        ("GET", "/admin"),
        ("HEAD", "/.well-known/jwks.json"),
        ("GET", "/token"),
        ("PUT", "/mcp"),
        ("OPTIONS", "/.well-known"),
    ] {
        for base in [&stack, &local.base] {
            let got = answer(method, &format!("{base}{path}"), None).await;
            let expected = if method == "HEAD" {
                (404, String::new())
            } else {
                not_found.clone()
            };
            assert_eq!(got, expected, "{method} {base}{path}");
        }
    }
}

#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn routed_requests_get_the_same_answer_from_both() {
    let stack = stack_state()["base_url"].as_str().unwrap().to_owned();
    let local = TestServer::start(support::Backend::Memory).await;
    for (method, path) in [
        ("POST", "/mcp/"),
        ("GET", "/mcp"),
        ("DELETE", "/mcp"),
        ("POST", "/token"),
        ("GET", "/"),
        ("GET", "/.well-known/oauth-protected-resource/mcp/"),
    ] {
        let (stack_status, stack_body) = answer(method, &format!("{stack}{path}"), None).await;
        let (local_status, local_body) =
            answer(method, &format!("{}{path}", local.base), None).await;
        assert_eq!(stack_status, local_status, "{method} {path}");
        assert_ne!(stack_status, 404, "{method} {path} is routed");
        // The same document apart from the base URL each server names.
        assert_eq!(
            stack_body.replace(&stack, "<BASE>"),
            local_body.replace(&local.base, "<BASE>"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn payloads_over_ten_megabytes_are_refused_before_any_function() {
    let stack = stack_state()["base_url"].as_str().unwrap().to_owned();
    let local = TestServer::start(support::Backend::Memory).await;
    let big = vec![b' '; 10 * 1024 * 1024 + 1];
    for base in [&stack, &local.base] {
        let got = answer("POST", &format!("{base}/mcp"), Some(big.clone())).await;
        assert_eq!(
            got,
            (413, r#"{"message":"Request Entity Too Large"}"#.to_owned()),
            "{base}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn concurrent_requests_start_more_containers_of_a_function() {
    let stack = RunningStack::from_env();
    let census_url = format!(
        "{}/emulator/functions",
        stack.state["invoke_url"].as_str().unwrap()
    );
    // Overlapping sign-ins for unknown emails: each costs an argon2id verification, so
    // each goes to an idle container, or a new one when all are busy.
    let answers =
        oauth::parallel_wrong_sign_ins(&stack, 6, |i| format!("nobody-{i}@example.com")).await;
    for (status, page) in answers {
        assert_eq!(status, 200, "the page again, with its error");
        assert!(page.contains("Invalid email or password"), "{page}");
    }
    let census = json(http().get(&census_url)).await;
    let alive = census["AuthorizeFunction"]["containers"].as_u64().unwrap();
    assert!(
        alive >= 2,
        "six overlapping requests ran on one container: {census}"
    );
}

/// The key secret was created as the template declares it (`{"keys":[]}`), and the
/// stack's first key came from the rotation function: its version is current, the empty
/// one previous, and the JWKS publishes that key.
#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn the_first_key_comes_from_rotating_the_empty_secret_on_creation() {
    let state = stack_state();
    let secrets = stack::secrets_client(&state);
    let arn = state["outputs"]["SigningKeySecretArn"].as_str().unwrap();
    let described = secrets
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.rotation_enabled(), Some(true));
    let stages = described.version_ids_to_stages().unwrap();
    let staged = |stage: &str| {
        stages
            .iter()
            .find(|(_, s)| s.iter().any(|s| s == stage))
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no {stage} version: {stages:?}"))
    };
    let value = |version: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_secret_value()
                .secret_id(arn)
                .version_id(version)
                .send()
                .await
                .unwrap()
                .secret_string()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(value(staged("AWSPREVIOUS")).await, r#"{"keys":[]}"#);
    let current: Value = serde_json::from_str(&value(staged("AWSCURRENT")).await).unwrap();
    let kids: Vec<&str> = current["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 1, "one key after the first rotation");
    let jwks = json(http().get(format!(
        "{}/.well-known/jwks.json",
        state["base_url"].as_str().unwrap()
    )))
    .await;
    assert_eq!(jwks["keys"][0]["kid"], kids[0]);
}

/// Every file in `events/`, invoked on its function through the stack's Lambda Invoke
/// API (what `sam local invoke -e` does), answers as through the handler in process, with
/// JSON bodies as text.
#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn every_event_gets_its_answer_from_the_deployed_function() {
    let state = stack_state();
    let base = state["base_url"].as_str().unwrap();
    let invoke = state["invoke_url"].as_str().unwrap();
    let events_base = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for (file, status) in support::events::EXPECTED {
        let json = support::events::read(file)
            .replace(events_base, base)
            .replace(&encoded(events_base), &encoded(base));
        let event: Value = serde_json::from_str(&json).unwrap();
        let method = event["requestContext"]["http"]["method"].as_str().unwrap();
        let function = Function::for_request(method, event["rawPath"].as_str().unwrap()).unwrap();
        let resp = http()
            .post(format!(
                "{invoke}/2015-03-31/functions/{}/invocations",
                function.logical_id()
            ))
            .body(json)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{file}");
        assert!(
            resp.headers().get("x-amz-function-error").is_none(),
            "{file}"
        );
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["statusCode"], *status, "{file}: {answer}");
        let content_type = answer["headers"]["content-type"]
            .as_str()
            .unwrap_or_default();
        if content_type.starts_with("application/json") {
            assert_eq!(
                answer["isBase64Encoded"], false,
                "{file}: JSON leaves as text"
            );
            let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
            assert!(body.is_object(), "{file}");
        }
    }
}

/// The kid a JWT's header names.
fn kid(token: &str) -> String {
    alta_shared::jwt::key_id(token).unwrap()
}

/// A rotation under a running stack whose functions have warm containers holding the old
/// key set while new containers read the new one: no access token and no sign-in form is
/// refused, the new key signs only once every container can verify it, and from then on
/// it does.
#[tokio::test]
#[ignore = "needs dynalite and the test virtualenv (scripts/test); starts its own stack"]
async fn a_rotation_under_a_running_stack_never_refuses_a_token_or_a_form() {
    // Short caches: a new key signs 2 × 5 s + 5 s = 15 s after it is published; the
    // containers warmed up before the rotation hold the old keys for up to 5 s after.
    let stack = EmulatedStack::start(&[("SigningKeyCacheSeconds", "5"), ("JwksCacheSeconds", "5")]);
    // One person per concurrent flow: parallel sign-ins of one email are throttled.
    let email = |i: usize| format!("rotation-{i}@example.com");
    stack.admin(
        &[
            "create-account",
            "--name",
            "Rotation",
            "--id",
            "acct_rotation",
        ],
        DEMO_PASSWORD,
    );
    for i in 0..8 {
        let email = email(i);
        stack.admin(
            &["create-user", "--email", &email, "--name", "Ro"],
            DEMO_PASSWORD,
        );
        let membership = [
            "add-member",
            "--email",
            &email,
            "--account",
            "acct_rotation",
            "--role",
            "Admin",
        ];
        stack.admin(&membership, DEMO_PASSWORD);
    }
    let stack = std::sync::Arc::new(stack);
    // Concurrent sign-ins, then code exchanges and tool calls all at once: each function
    // runs on several containers. Each flow: (the access token's kid, /mcp's answer).
    let flows = |n: usize| {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (stack, barrier, email) = (stack.clone(), barrier.clone(), email(i));
                tokio::spawn(async move {
                    let client = oauth::FlowClient::register(stack.as_ref()).await;
                    let auth = client
                        .authorize_with_scope(stack.as_ref(), &email, "campaigns:read")
                        .await;
                    // A flow that failed before here must fail the test, not hang it.
                    tokio::time::timeout(Duration::from_secs(60), barrier.wait())
                        .await
                        .expect("every flow reached the exchange");
                    let (status, tokens) = client.exchange(stack.as_ref(), &auth).await;
                    assert_eq!(status, 200, "{tokens}");
                    let token = tokens["access_token"].as_str().unwrap().to_owned();
                    let (status, challenge) = ping_status(stack.as_ref(), &token).await;
                    (kid(&token), status, challenge)
                })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for handle in handles {
                out.push(handle.await.unwrap());
            }
            out
        }
    };
    let warm = flows(4).await;
    let first_kid = warm[0].0.clone();
    for (kid, status, challenge) in &warm {
        assert_eq!((kid, *status), (&first_kid, 200), "{challenge}");
    }

    // What the rotation schedule (or `aws secretsmanager rotate-secret`) does.
    let secrets = stack::secrets_client(&stack.state);
    secrets
        .rotate_secret()
        .secret_id(
            stack.state["outputs"]["SigningKeySecretArn"]
                .as_str()
                .unwrap(),
        )
        .rotation_lambda_arn(
            stack.state["functions"]["RotateKeysFunction"]["arn"]
                .as_str()
                .unwrap(),
        )
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await
        .unwrap();
    let published = std::time::Instant::now();
    let jwks_url = format!("{}/.well-known/jwks.json", stack.base());

    // Right after: warm containers still hold the old set; the exchanges, all at once,
    // start new token containers, which read the new set.
    for (kid, status, challenge) in flows(8).await {
        assert_eq!(
            status, 200,
            "a token was refused during the rotation: {challenge}"
        );
        assert_eq!(
            kid, first_kid,
            "the new key signed before every container could verify it"
        );
    }

    // Once the activation has passed, the new key signs, and everything verifies it.
    let activation = Duration::from_secs(15);
    tokio::time::sleep((activation + Duration::from_secs(2)).saturating_sub(published.elapsed()))
        .await;
    let published_kids: Vec<String> = json(http().get(&jwks_url)).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(published_kids.len(), 2, "the old key stays published");
    for (kid, status, challenge) in flows(4).await {
        assert_eq!(status, 200, "{challenge}");
        assert_eq!(kid, published_kids[0], "the new key signs");
        assert_ne!(kid, first_kid);
    }
}

/// The functions write CloudWatch metrics (embedded metric format) to their logs: sign-ins,
/// tokens issued, tool calls, and the signing key's age that the rotation alarm watches.
#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn the_functions_write_cloudwatch_metrics_to_their_logs() {
    let stack = RunningStack::from_env();
    let token = oauth::access_token(&stack, "viewer@alta.local", "campaigns:read").await;
    let calls = support::mcp::Mcp::new(&stack, token);
    assert!(
        !calls
            .call("list_campaigns", serde_json::json!({}))
            .await
            .result()["isError"]
            .as_bool()
            .unwrap()
    );
    http()
        .get(stack.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let namespace = "AltaMcp/alta-mcp";
    let metric = |function: &str, name: &str, dimension: Option<(&str, &str)>| {
        stack.function_log(function).lines().any(|line| {
            let Ok(doc) = serde_json::from_str::<Value>(line) else {
                return false;
            };
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace
                && doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name
                && doc[name].is_number()
                && dimension.is_none_or(|(k, v)| doc[k] == v)
        })
    };
    assert!(metric(
        "AuthorizeFunction",
        "SignIns",
        Some(("Outcome", "succeeded"))
    ));
    assert!(metric(
        "TokenFunction",
        "TokensIssued",
        Some(("GrantType", "authorization_code"))
    ));
    assert!(metric(
        "McpFunction",
        "ToolCalls",
        Some(("Tool", "list_campaigns"))
    ));
    assert!(metric(
        "DiscoveryFunction",
        alta_shared::metrics::SIGNING_KEY_AGE_DAYS,
        None
    ));
}

#[tokio::test]
#[ignore = "needs the emulated stack (scripts/stack); scripts/test runs it"]
async fn an_operator_lists_an_accounts_connected_apps_and_cuts_one_off() {
    let stack = RunningStack::from_env();
    let token = oauth::access_token(&stack, "manager@alta.local", "campaigns:read").await;
    let grant_id = oauth::claims(&token)["grant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = |account: &str| {
        let (ok, out) = stack.admin(&["connections", "--account", account, "--json"]);
        assert!(ok, "{out}");
        serde_json::from_str::<Vec<Value>>(&out).unwrap()
    };
    let acme = listed("acct_acme");
    let row = acme
        .iter()
        .find(|r| r["grant_id"] == grant_id.as_str())
        .unwrap_or_else(|| panic!("{grant_id} not in {acme:?}"));
    assert_eq!(row["email"], "manager@alta.local");
    assert_eq!(row["role"], "Manager");
    assert_eq!(row["scopes"], json!(["campaigns:read"]));
    assert_eq!(row["signed_in_with"], "password");
    assert_eq!(row["managed_by"], Value::Null);
    assert_eq!(row["redirect_host"], "127.0.0.1");
    assert!(row["connected_at"].as_u64().unwrap() <= row["last_used_at"].as_u64().unwrap());
    // For people, a table with the same connection.
    let (ok, table) = stack.admin(&["connections", "--account", "acct_acme"]);
    assert!(ok, "{table}");
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("PERSON")
            && header.contains("LAST USED")
            && header.contains("SIGNED IN WITH"),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("manager@alta.local")
            && l.contains(&grant_id)
            && l.contains("campaigns:read")),
        "{table}"
    );
    // Another account's operator view has it not, and cannot end it.
    assert!(
        listed("acct_globex")
            .iter()
            .all(|r| r["grant_id"] != grant_id.as_str())
    );
    let (ok, out) = stack.admin(&[
        "disconnect",
        "--account",
        "acct_globex",
        "--grant",
        &grant_id,
    ]);
    assert!(!ok && out.contains("no live connection"), "{out}");
    assert_eq!(ping_status(&stack, &token).await.0, 200);

    let (ok, out) = stack.admin(&["disconnect", "--account", "acct_acme", "--grant", &grant_id]);
    assert!(
        ok && out.contains("disconnected") && out.contains("manager@alta.local"),
        "{out}"
    );
    // At once: the next call is refused, and the connection is listed no more.
    assert_eq!(ping_status(&stack, &token).await.0, 401);
    assert!(
        listed("acct_acme")
            .iter()
            .all(|r| r["grant_id"] != grant_id.as_str())
    );
    let (ok, out) = stack.admin(&["disconnect", "--account", "acct_acme", "--grant", &grant_id]);
    assert!(!ok && out.contains("no live connection"), "{out}");
    let (ok, out) = stack.admin(&["connections", "--account", "acct_nobody"]);
    assert!(!ok && out.contains("no account acct_nobody"), "{out}");
}

/// ChatGPT's shape through the real authorize, token, revoke and mcp binaries: its
/// metadata document and RSA key set on a loopback https host (the functions are told to
/// trust its CA, as `sam local --env-vars` could tell them), each token and revocation
/// request signed with a client assertion.
#[tokio::test]
#[ignore = "needs dynalite and the test virtualenv (scripts/test); starts its own stack"]
async fn chatgpt_signs_its_token_requests_through_the_deployed_functions() {
    let key = Arc::new(ClientKey::rsa("chatgpt-2026-11"));
    let published = jwks(&[&key]);
    let metadata = MetadataServer::start(|origin| {
        let id = format!("{origin}/oauth/client.json");
        HashMap::from([
            (CHATGPT_JWKS_PATH.to_owned(), Document::json(&published)),
            (
                "/oauth/client.json".to_owned(),
                Document::json(&chatgpt_document(&id, origin)),
            ),
        ])
    })
    .await;
    let stack = EmulatedStack::start_with(
        &[],
        &[
            ("ALTA_CIMD_ALLOW_LOOPBACK", "true"),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    );
    let email = "chatgpt-user@example.com";
    stack.admin(
        &["create-account", "--name", "Chat", "--id", "acct_chat"],
        DEMO_PASSWORD,
    );
    stack.admin(
        &["create-user", "--email", email, "--name", "Chat"],
        DEMO_PASSWORD,
    );
    stack.admin(
        &[
            "add-member",
            "--email",
            email,
            "--account",
            "acct_chat",
            "--role",
            "Admin",
        ],
        DEMO_PASSWORD,
    );
    let client_id = format!("{}/oauth/client.json", metadata.origin);
    let redirect = "https://chatgpt.com/connector_platform_oauth_redirect";
    let unsigned = oauth::FlowClient::new(client_id.clone()).redirecting_to(redirect);
    let signed = oauth::FlowClient::new(client_id)
        .redirecting_to(redirect)
        .signing_with(key);
    let auth = signed.authorize_as(&stack, email).await;
    let (status, refused) = unsigned.exchange(&stack, &auth).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, tokens) = signed.exchange(&stack, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let account = Mcp::new(&stack, access.to_owned())
        .call("get_account", json!({}))
        .await;
    assert_eq!(account.result()["structuredContent"]["id"], "acct_chat");
    let (status, refreshed) = signed
        .refresh(&stack, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(signed.revoke(&stack, access).await, 200);
    let after = Mcp::new(&stack, access.to_owned())
        .call("get_account", json!({}))
        .await;
    assert_eq!(after.status, 401);
}
