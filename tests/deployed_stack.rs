//! The emulated deployed stack (`scripts/stack`: the real function binaries behind the
//! API Gateway and Lambda emulators, on dynalite and moto) against the local server: what
//! API Gateway refuses, the local server refuses the same way; what it routes, both
//! answer alike. And the stack runs several containers of a function at once.
//!
//! These need a running stack, named by `ALTA_TEST_STACK_STATE` (its state.json), and
//! the local server in `ALTA_TEST_SERVERS`; scripts/test starts both.

mod support;

use std::time::Duration;

use alta_shared::routes::Function;
use serde_json::Value;
use support::{TestServer, oauth};

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
    let state = stack_state();
    let stack = state["base_url"].as_str().unwrap().to_owned();
    let census_url = format!(
        "{}/emulator/functions",
        state["invoke_url"].as_str().unwrap()
    );
    // A sign-in page, then overlapping sign-ins for unknown emails: each costs an
    // argon2id verification, so each goes to an idle container, or a new one when all are
    // busy.
    let browser = oauth::browser();
    let registered = json(browser.post(format!("{stack}/register")).json(
        &serde_json::json!({"client_name": "Containers", "redirect_uris": [oauth::REDIRECT_URI]}),
    ))
    .await;
    let page_url = url::Url::parse_with_params(
        &format!("{stack}/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", registered["client_id"].as_str().unwrap()),
            ("redirect_uri", oauth::REDIRECT_URI),
            ("code_challenge", &oauth::challenge(&oauth::verifier())),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let page = browser
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pending = oauth::pending_field(&page);
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let (browser, url, pending) = (
                browser.clone(),
                format!("{stack}/authorize"),
                pending.clone(),
            );
            tokio::spawn(async move {
                let email = format!("nobody-{i}@example.com");
                let form = [
                    ("request", pending.as_str()),
                    ("email", email.as_str()),
                    ("password", "wrong password"),
                    ("decision", "allow"),
                ];
                let page = browser.post(url).form(&form).send().await.unwrap();
                (page.status().as_u16(), page.text().await.unwrap())
            })
        })
        .collect();
    for attempt in attempts {
        let (status, page) = attempt.await.unwrap();
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
    use aws_sdk_secretsmanager::config::{Builder, Credentials, Region};
    let state = stack_state();
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        Builder::new()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(Region::new(state["region"].as_str().unwrap().to_owned()))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(state["secretsmanager_endpoint"].as_str().unwrap())
            .build(),
    );
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
