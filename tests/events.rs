//! Every sample API Gateway event in `events/` goes through the handler that its route
//! belongs to, so the files `sam local invoke -e` uses stay valid.

use std::sync::Arc;

use crate::support;

use alta_shared::clock::SystemClock;
use alta_shared::routes::Function;
use alta_shared::{Config, Deps};
use serde_json::Value;
use support::events;

const BASE: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

#[test]
fn every_event_file_has_an_expectation() {
    let mut files: Vec<String> = std::fs::read_dir(events::dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut expected: Vec<String> = events::EXPECTED
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    expected.sort();
    assert_eq!(files, expected);
}

#[tokio::test]
async fn every_event_is_accepted_by_its_handler() {
    let config = Config::from_lookup(|_| None, Some(BASE)).unwrap();
    let deps = Deps::in_memory(config, Arc::new(SystemClock)).unwrap();
    for (file, status) in events::EXPECTED {
        let json = events::read(file);
        let event: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            event["version"], "2.0",
            "{file} is an HTTP API payload 2.0 event"
        );
        let req = lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{file}: {e}"));
        let path = event["rawPath"].as_str().unwrap();
        let method = event["requestContext"]["http"]["method"].as_str().unwrap();
        let function = Function::for_request(method, path)
            .unwrap_or_else(|| panic!("{file}: no route for {method} {path}"));
        let resp = function.handle(req, &deps).await;
        assert_eq!(resp.status().as_u16(), *status, "{file}");
        let is_html = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        if file.starts_with("authorize-get.json") {
            assert!(
                std::str::from_utf8(resp.body().as_ref())
                    .unwrap()
                    .contains("Claude")
            );
        }
        if *status != 204 && !is_html {
            let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
            if file.starts_with("discovery-authorization") {
                assert_eq!(
                    body["issuer"], BASE,
                    "{file}: the issuer is the configured base URL"
                );
            }
            if *file == "register-claude.json" {
                assert_eq!(body["client_id"], "claude");
            }
            if *file == "register-invalid-redirect.json" {
                assert_eq!(body["error"], "invalid_redirect_uri");
            }
            if file.starts_with("token-") {
                let expected = if *status == 401 {
                    "invalid_client"
                } else {
                    "invalid_grant"
                };
                assert_eq!(body["error"], expected, "{file}");
            }
        }
    }
}
