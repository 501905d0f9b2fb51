//! Every client shape people use, end to end: registrations and Client ID Metadata
//! Documents (served by a loopback https server whose CA the server is told to trust),
//! ChatGPT's `private_key_jwt` assertions included, and the document fetch's guards.

use crate::support;

use support::Server as _;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alta_shared::clients::metadata_document::{
    FAILURE_CACHE_SECONDS, FETCH_BUDGET, MAX_UNCACHED_FETCHES_PER_SOURCE,
};
use alta_shared::clock::Clock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use support::client_keys::{ASSERTION_TYPE, ClientKey, assertion_claims, jwks};
use support::clients::{CHATGPT_JWKS_PATH, Identity, chatgpt_document, shapes};
use support::https::{Document, MetadataServer};
use support::mcp::Mcp;
use support::oauth::{FlowClient, REDIRECT_URI, challenge, verifier};
use support::{Backend, TestServer, http};

on_every_store!(
    every_client_shape_completes_the_flow,
    private_key_jwt_assertions_are_checked,
    metadata_document_client_completes_the_flow,
    valid_document_is_cached_per_cache_control,
    invalid_documents_get_an_error_page_and_are_remembered_briefly,
    a_loopback_host_on_another_port_is_refused_without_the_test_allowance,
    one_source_gets_a_few_uncached_fetches_a_minute,
);

fn document(client_id: &str, cache_control: &str) -> Document {
    Document {
        status: 200,
        headers: vec![("cache-control", cache_control.to_owned())],
        body: json!({
            "client_id": client_id,
            "client_name": "Metadata Doc App",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        })
        .to_string(),
    }
}

/// `/client.json`, valid and cacheable for ten minutes.
fn one_valid_document(origin: &str) -> HashMap<String, Document> {
    HashMap::from([(
        "/client.json".to_owned(),
        document(&format!("{origin}/client.json"), "max-age=600"),
    )])
}

async fn setup(
    backend: Backend,
    docs: impl Fn(&str) -> HashMap<String, Document>,
    allow_loopback: bool,
) -> (TestServer, MetadataServer) {
    let metadata = MetadataServer::start(docs).await;
    let server = TestServer::start_with(
        backend,
        &[
            (
                "ALTA_CIMD_ALLOW_LOOPBACK",
                if allow_loopback { "true" } else { "false" },
            ),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    )
    .await;
    (server, metadata)
}

fn cimd_client(metadata: &MetadataServer, path: &str) -> FlowClient {
    FlowClient::new(format!("{}{path}", metadata.origin))
}

/// Each shape in `support::clients` signs in, exchanges its code, calls a tool, refreshes
/// and calls again: registrations (Claude's twice), documents, and ChatGPT's document
/// whose token requests are signed with an RSA key published at its `jwks_uri`.
async fn every_client_shape_completes_the_flow(backend: Backend) {
    let chatgpt_key = Arc::new(ClientKey::rsa("chatgpt-2026-11"));
    let published = jwks(&[&chatgpt_key]);
    let metadata = MetadataServer::start(|origin| {
        let mut docs = HashMap::from([(CHATGPT_JWKS_PATH.to_owned(), Document::json(&published))]);
        for shape in shapes() {
            if let Identity::Document(path, body) = shape.identity {
                let id = format!("{origin}{path}");
                docs.insert(path.to_owned(), Document::json(&body(&id, origin)));
            }
        }
        docs
    })
    .await;
    let server = TestServer::start_with(
        backend,
        &[
            ("ALTA_CIMD_ALLOW_LOOPBACK", "true"),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    )
    .await;
    for shape in shapes() {
        let name = shape.name;
        let client_id = match &shape.identity {
            Identity::Registers(body, preconfigured) => {
                let register = || async {
                    let resp = http()
                        .post(server.url("/register"))
                        .json(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 201, "{name}");
                    let info: Value = resp.json().await.unwrap();
                    info["client_id"].as_str().unwrap().to_owned()
                };
                let id = register().await;
                if let Some(expected) = preconfigured {
                    assert_eq!(&id, expected, "{name}");
                    // Claude registers again on every connect: the same client each time.
                    assert_eq!(register().await, id, "{name}");
                }
                id
            }
            Identity::Document(path, _) => format!("{}{path}", metadata.origin),
        };
        let mut client = FlowClient::new(client_id).redirecting_to(shape.redirect_uri);
        if shape.private_key_jwt {
            client = client.signing_with(chatgpt_key.clone());
        }
        let auth = client.authorize_as(&server, "demo@alta.local").await;
        let (status, tokens) = client.exchange(&server, &auth).await;
        assert_eq!(status, 200, "{name}: {tokens}");
        let mcp = Mcp::new(&server, tokens["access_token"].as_str().unwrap().to_owned());
        let account = mcp.call("get_account", json!({})).await;
        assert_eq!(account.result()["isError"], false, "{name}");
        let (status, refreshed) = client
            .refresh(&server, tokens["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(status, 200, "{name}: {refreshed}");
        let mcp = Mcp::new(
            &server,
            refreshed["access_token"].as_str().unwrap().to_owned(),
        );
        let campaigns = mcp.call("list_campaigns", json!({})).await;
        assert_eq!(campaigns.result()["isError"], false, "{name}");
    }
}

/// RFC 7523 §3 at the token and revocation endpoints, with ChatGPT's document shape: a
/// real RSA key at `jwks_uri`, and a real EC key inline in another document.
async fn private_key_jwt_assertions_are_checked(backend: Backend) {
    let key = Arc::new(ClientKey::rsa("k1"));
    let published = jwks(&[&key]);
    let ec_key = Arc::new(ClientKey::ec("e1"));
    let ec_keys = jwks(&[&ec_key]);
    let metadata = MetadataServer::start(|origin| {
        let id = format!("{origin}/oauth/client.json");
        let mut inline = chatgpt_document(&format!("{origin}/inline.json"), origin);
        let fields = inline.as_object_mut().unwrap();
        fields.remove("jwks_uri");
        fields.remove("token_endpoint_auth_signing_alg");
        fields.insert("jwks".into(), ec_keys.clone());
        HashMap::from([
            (CHATGPT_JWKS_PATH.to_owned(), Document::json(&published)),
            (
                "/oauth/client.json".to_owned(),
                Document::json(&chatgpt_document(&id, origin)),
            ),
            ("/inline.json".to_owned(), Document::json(&inline)),
        ])
    })
    .await;
    let server = TestServer::start_with(
        backend,
        &[
            ("ALTA_CIMD_ALLOW_LOOPBACK", "true"),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    )
    .await;
    let redirect = "https://chatgpt.com/connector_platform_oauth_redirect";
    let client_id = format!("{}/oauth/client.json", metadata.origin);
    let token_url = server.url("/token");
    let unsigned = FlowClient::new(client_id.clone()).redirecting_to(redirect);
    let auth = unsigned.authorize_as(&server, "demo@alta.local").await;

    // Each refused request leaves the code unused: the client is checked first.
    let post = |fields: Vec<(&'static str, String)>| {
        let http = http();
        let url = token_url.clone();
        async move {
            let resp = http.post(url).form(&fields).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let exchange = |assertion: Option<String>, extra: Vec<(&'static str, String)>| {
        let mut fields = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", auth.code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", auth.verifier.clone()),
        ];
        if let Some(assertion) = assertion {
            fields.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
            fields.push(("client_assertion", assertion));
        }
        fields.extend(extra);
        post(fields)
    };
    let claims = || assertion_claims(&client_id, &token_url);
    let with = |changes: Value| {
        let mut c = claims();
        c.as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        c
    };
    let forger = ClientKey::rsa("k1");
    let now = server.clock.now();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &claims(),
        &EncodingKey::from_secret(published.to_string().as_bytes()).unwrap(),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    // (what, assertion, extra fields, what the error description says)
    type Case = (
        &'static str,
        Option<String>,
        Vec<(&'static str, String)>,
        &'static str,
    );
    let refused: Vec<Case> = vec![
        (
            "no assertion: no falling back to PKCE alone",
            None,
            vec![("client_id", client_id.clone())],
            "authenticates with private_key_jwt",
        ),
        (
            "forged: another key under the same kid",
            Some(forger.sign(&claims())),
            vec![],
            "signature does not verify",
        ),
        (
            "expired",
            Some(key.sign(&with(json!({"exp": now - 120})))),
            vec![],
            "expired",
        ),
        (
            "an hour long",
            Some(key.sign(&with(json!({"exp": now + 3600})))),
            vec![],
            "at most 600 seconds ahead",
        ),
        (
            "for another server",
            Some(key.sign(&with(json!({"aud": "https://evil.example/token"})))),
            vec![],
            "aud must be",
        ),
        (
            "without a jti",
            Some(key.sign(&with(json!({"jti": null})))),
            vec![],
            "must carry a jti",
        ),
        ("alg none", Some(none), vec![], "not a well-formed JWT"),
        (
            "HS256 keyed with the published JWKS",
            Some(hmac),
            vec![],
            "signed with HS256",
        ),
        (
            "signed ES256 while the document declares RS256",
            Some(ec_key.sign(&claims())),
            vec![],
            "declared RS256",
        ),
        (
            "for another client_id",
            Some(key.assertion(&client_id, &token_url)),
            vec![("client_id", format!("{}/inline.json", metadata.origin))],
            "client_id differs",
        ),
    ];
    for (what, assertion, extra, says) in refused {
        let (status, body) = exchange(assertion, extra).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {body}"
        );
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{what}: {description}");
    }
    let (status, body) = exchange(
        Some(key.assertion(&client_id, &token_url)),
        vec![("client_secret", "s".to_owned())],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "two authentication methods: {body}"
    );
    // A good assertion, without client_id (the assertion names the client).
    let good = key.assertion(&client_id, &token_url);
    let (status, tokens) = exchange(Some(good.clone()), vec![]).await;
    assert_eq!(status, 200, "{tokens}");
    // The same assertion again: used once only.
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |assertion: String| {
        post(vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.clone()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", assertion),
        ])
    };
    let (status, body) = refresh(good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("used already")
    );
    // The issuer is an audience as good as the token endpoint.
    let (status, refreshed) = refresh(key.sign(&with(json!({"aud": server.base.clone()})))).await;
    assert_eq!(status, 200, "{refreshed}");

    // The client rotates its key: an assertion naming the new kid makes the server fetch
    // jwks_uri again, at most once a minute.
    let rotated = Arc::new(ClientKey::rsa("k2"));
    metadata.serve(CHATGPT_JWKS_PATH, Document::json(&jwks(&[&rotated])));
    let signed = FlowClient::new(client_id.clone())
        .redirecting_to(redirect)
        .signing_with(rotated.clone());
    let next = refreshed["refresh_token"].as_str().unwrap();
    let (status, body) = signed.refresh(&server, next).await;
    assert_eq!(
        status, 401,
        "the key set was fetched less than a minute ago: {body}"
    );
    server.clock.advance(FAILURE_CACHE_SECONDS + 1);
    let (status, body) = signed.refresh(&server, next).await;
    assert_eq!(status, 200, "{body}");

    // Revocation authenticates the same way.
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(unsigned.revoke(&server, access).await, 401);
    assert_eq!(signed.revoke(&server, access).await, 200);
    let mcp = Mcp::new(&server, access.to_owned());
    assert_eq!(mcp.call("get_account", json!({})).await.status, 401);

    // An inline EC key set (ES256) works the same.
    let inline = FlowClient::new(format!("{}/inline.json", metadata.origin))
        .redirecting_to(redirect)
        .signing_with(ec_key.clone());
    let auth = inline.authorize_as(&server, "demo@alta.local").await;
    let (status, tokens) = inline.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
}

/// A client host that answers too slowly costs the fetch budget (about 5 s): the person
/// gets an error page well inside the authorize function's timeout, not a timed-out
/// invocation.
#[tokio::test]
async fn a_slow_client_host_costs_the_fetch_budget_not_the_function_timeout() {
    let metadata =
        MetadataServer::start_answering_after(one_valid_document, Duration::from_secs(60)).await;
    let server = TestServer::start_with(
        Backend::Memory,
        &[
            ("ALTA_CIMD_ALLOW_LOOPBACK", "true"),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    )
    .await;
    let client = cimd_client(&metadata, "/client.json");
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let started = Instant::now();
    let page = client.http.get(&url).send().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(html.contains("could not be fetched"), "{html}");
    assert!(
        elapsed >= FETCH_BUDGET - Duration::from_millis(100),
        "{elapsed:?}"
    );
    // Not a speed target: the bound is the shortest function timeout (10 s).
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

async fn metadata_document_client_completes_the_flow(backend: Backend) {
    let (server, metadata) = setup(backend, one_valid_document, true).await;
    let client = cimd_client(&metadata, "/client.json");
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let page = client.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Metadata Doc App"));
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
}

async fn valid_document_is_cached_per_cache_control(backend: Backend) {
    let (server, metadata) = setup(
        backend,
        |origin| {
            HashMap::from([
                (
                    "/cached.json".to_owned(),
                    document(&format!("{origin}/cached.json"), "public, max-age=600"),
                ),
                (
                    "/fresh.json".to_owned(),
                    document(&format!("{origin}/fresh.json"), "no-store"),
                ),
            ])
        },
        true,
    )
    .await;
    let ch = challenge(&verifier());
    let cached = cimd_client(&metadata, "/cached.json");
    for _ in 0..3 {
        assert_eq!(
            http()
                .get(cached.authorize_url(&server, &ch, &[]))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(metadata.hits(), 1, "fetched once, then cached");
    let fresh = cimd_client(&metadata, "/fresh.json");
    for _ in 0..2 {
        assert_eq!(
            http()
                .get(fresh.authorize_url(&server, &ch, &[]))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(metadata.hits(), 3, "no-store is fetched every time");
}

async fn invalid_documents_get_an_error_page_and_are_remembered_briefly(backend: Backend) {
    let (server, metadata) = setup(
        backend,
        |origin| {
            let mut wrong_id = document("https://someone-else.example/client.json", "max-age=600");
            wrong_id.status = 200;
            let mut secret = document(&format!("{origin}/secret.json"), "max-age=600");
            secret.body = secret
                .body
                .replace("\"client_name\"", "\"client_secret\":\"s\",\"client_name\"");
            let big = Document {
                status: 200,
                headers: vec![],
                body: format!(
                    "{{\"client_id\":\"{origin}/big.json\",\"pad\":\"{}\"}}",
                    "x".repeat(6000)
                ),
            };
            let redirect = Document {
                status: 302,
                headers: vec![("location", format!("{origin}/client.json"))],
                body: String::new(),
            };
            let mut other_redirect = document(&format!("{origin}/other.json"), "max-age=600");
            other_redirect.body = other_redirect
                .body
                .replace(REDIRECT_URI, "http://127.0.0.1:1/elsewhere");
            HashMap::from([
                ("/wrong-id.json".to_owned(), wrong_id),
                ("/secret.json".to_owned(), secret),
                ("/big.json".to_owned(), big),
                ("/redirect.json".to_owned(), redirect),
                ("/other.json".to_owned(), other_redirect),
            ])
        },
        true,
    )
    .await;
    let ch = challenge(&verifier());
    for path in [
        "/wrong-id.json",
        "/secret.json",
        "/big.json",
        "/redirect.json",
        "/missing.json",
        "/other.json",
    ] {
        let client = cimd_client(&metadata, path);
        for _ in 0..2 {
            let resp = http()
                .get(client.authorize_url(&server, &ch, &[]))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400, "{path}");
            assert!(
                resp.headers().get("location").is_none(),
                "{path}: never redirect"
            );
        }
    }
    // One fetch each: a failure is remembered for a minute (so that anonymous requests
    // naming it do not each fetch it), the one valid document (other.json, whose redirect
    // URI simply does not match) for its max-age.
    assert_eq!(metadata.hits(), 6);
    server.clock.advance(FAILURE_CACHE_SECONDS + 1);
    let again = cimd_client(&metadata, "/wrong-id.json");
    let resp = http()
        .get(again.authorize_url(&server, &ch, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        metadata.hits(),
        7,
        "fetched again once the failure is forgotten"
    );
    let resp = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &format!("{}/wrong-id.json", metadata.origin)),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "an unusable document is invalid_client at the token endpoint"
    );
}

/// Without the test allowance only the https default port is fetched (the loopback
/// address would be refused next: `is_public_address`).
async fn a_loopback_host_on_another_port_is_refused_without_the_test_allowance(backend: Backend) {
    let (server, metadata) = setup(backend, one_valid_document, false).await;
    let client = cimd_client(&metadata, "/client.json");
    let resp = http()
        .get(client.authorize_url(&server, &challenge(&verifier()), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("default port"));
    assert_eq!(metadata.hits(), 0, "no connection was made");
}

/// Documents that are not cached cost a fetch each; one source address gets only a few
/// a minute (per container), and is told to wait.
async fn one_source_gets_a_few_uncached_fetches_a_minute(backend: Backend) {
    let allowance = MAX_UNCACHED_FETCHES_PER_SOURCE as usize;
    let (server, metadata) = setup(
        backend,
        |origin| {
            (0..=allowance)
                .map(|i| {
                    let path = format!("/c{i}.json");
                    let doc = document(&format!("{origin}{path}"), "max-age=600");
                    (path, doc)
                })
                .collect()
        },
        true,
    )
    .await;
    for i in 0..allowance {
        let client = cimd_client(&metadata, &format!("/c{i}.json"));
        let page = get_page(&client, &server).await;
        assert_eq!(page.0, 200, "{}", page.1);
    }
    let client = cimd_client(&metadata, &format!("/c{allowance}.json"));
    let (status, html) = get_page(&client, &server).await;
    assert_eq!(status, 429, "{html}");
    assert!(html.contains("try again in a minute"), "{html}");
    assert_eq!(metadata.hits(), allowance);
    // A cached document costs nothing.
    let (status, _) = get_page(&cimd_client(&metadata, "/c0.json"), &server).await;
    assert_eq!(status, 200);
    server.clock.advance(60);
    let (status, _) = get_page(&client, &server).await;
    assert_eq!(status, 200, "a new minute");
}

async fn get_page(client: &FlowClient, server: &TestServer) -> (u16, String) {
    let resp = http()
        .get(client.authorize_url(server, &challenge(&verifier()), &[]))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A host that accepts connections and never answers: 40 anonymous requests naming
/// documents there cost one fetch and one budget, not 40 connections held 4 s each.
#[tokio::test]
async fn a_host_that_never_answers_costs_one_fetch_not_one_per_request() {
    let metadata = MetadataServer::start_answering_after(
        |origin| {
            (0..40)
                .map(|i| {
                    let path = format!("/c{i}.json");
                    (
                        path.clone(),
                        document(&format!("{origin}{path}"), "max-age=600"),
                    )
                })
                .collect()
        },
        Duration::from_secs(60),
    )
    .await;
    let server = TestServer::start_with(
        Backend::Memory,
        &[
            ("ALTA_CIMD_ALLOW_LOOPBACK", "true"),
            ("ALTA_CIMD_TRUSTED_CA_PEM", metadata.ca_pem.as_str()),
        ],
    )
    .await;
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..40).map(|i| {
        let client = cimd_client(&metadata, &format!("/c{i}.json"));
        let server = &server;
        async move { get_page(&client, server).await }
    }))
    .await;
    let elapsed = started.elapsed();
    for (status, html) in &answers {
        assert!(
            *status == 400 && html.contains("could not be fetched"),
            "{status} {html}"
        );
    }
    assert_eq!(metadata.hits(), 1, "one request reached the host");
    // Not a speed target: 40 fetches one after another would take 40 budgets.
    assert!(elapsed < FETCH_BUDGET * 3, "{elapsed:?}");
    // The host is remembered: another document there is refused at once.
    let (status, _) = get_page(&cimd_client(&metadata, "/c0.json"), &server).await;
    assert_eq!(status, 400);
    assert_eq!(metadata.hits(), 1);
}
