//! Client ID Metadata Documents end to end: the client_id is an https URL served by a
//! loopback https server whose CA the server is told to trust.

mod support;

use support::Server as _;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alta_shared::oauth::metadata_document::{FAILURE_CACHE_SECONDS, FETCH_BUDGET};

use serde_json::json;
use support::https::{Document, MetadataServer};
use support::oauth::{FlowClient, REDIRECT_URI, browser, challenge, verifier};
use support::{Backend, TestServer, http};

on_every_store!(
    metadata_document_client_completes_the_flow,
    valid_document_is_cached_per_cache_control,
    invalid_documents_get_an_error_page_and_are_remembered_briefly,
    loopback_address_is_refused_without_the_test_allowance,
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
    FlowClient {
        client_id: format!("{}{path}", metadata.origin),
        http: browser(),
    }
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

async fn loopback_address_is_refused_without_the_test_allowance(backend: Backend) {
    let (server, metadata) = setup(backend, one_valid_document, false).await;
    let client = cimd_client(&metadata, "/client.json");
    let resp = http()
        .get(client.authorize_url(&server, &challenge(&verifier()), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("public address"));
    assert_eq!(metadata.hits(), 0, "no connection was made");
}
