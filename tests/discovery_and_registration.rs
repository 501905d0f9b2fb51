//! Discovery and registration over real HTTP against the local server, as an MCP client
//! meets them: on the in-memory store and on DynamoDB.

use crate::support;

use support::Server as _;

use alta_shared::clock::Clock;
use alta_shared::oauth::register::{
    MAX_REGISTRATIONS_PER_ADDRESS, REGISTRATION_WINDOW_SECONDS, UNUSED_REGISTRATION_SECONDS,
};
use serde_json::{Value, json};
use support::{Backend, TestServer, http};

on_every_store!(
    client_discovers_the_server_from_a_401_free_start,
    every_client_shape_registers,
    registered_client_is_stored,
    malformed_registrations_get_rfc7591_errors,
    mcp_without_a_token_points_to_the_metadata,
    registrations_that_store_a_client_are_limited_per_address,
    a_registration_that_never_obtains_a_token_is_forgotten_within_a_day,
);

async fn get_json(url: &str) -> Value {
    let resp = http().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

async fn register(server: &TestServer, body: Value) -> (u16, Value) {
    let resp = http()
        .post(server.url("/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn client_discovers_the_server_from_a_401_free_start(backend: Backend) {
    let server = TestServer::start(backend).await;
    let prm = get_json(&server.url("/.well-known/oauth-protected-resource/mcp")).await;
    assert_eq!(prm["resource"], server.url("/mcp"));
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    assert_eq!(issuer, server.base);

    let asm = get_json(&format!("{issuer}/.well-known/oauth-authorization-server")).await;
    assert_eq!(asm["issuer"], issuer);
    let jwks = get_json(asm["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["crv"], "P-256");

    let oidc = get_json(&server.url("/.well-known/openid-configuration")).await;
    assert_eq!(oidc["issuer"], issuer);
}

async fn every_client_shape_registers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shapes = [
        (
            json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                   "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                   "token_endpoint_auth_method": "client_secret_post"}),
            Some("claude"),
        ),
        (
            json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
                   "token_endpoint_auth_method": "none"}),
            Some("cursor"),
        ),
        (
            json!({"client_name": "Visual Studio Code",
                   "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
                   "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}),
            None,
        ),
        (
            json!({"client_name": "Claude Code (alta)", "redirect_uris": ["http://localhost:54212/callback"],
                   "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                   "token_endpoint_auth_method": "none"}),
            None,
        ),
    ];
    for (body, preconfigured) in shapes {
        let (status, info) = register(&server, body.clone()).await;
        assert_eq!(status, 201, "{body} → {info}");
        match preconfigured {
            Some(id) => assert_eq!(info["client_id"], id),
            None => {
                assert_eq!(info["redirect_uris"], body["redirect_uris"]);
                assert_eq!(info["client_name"], body["client_name"]);
            }
        }
    }
}

async fn registered_client_is_stored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (status, info) = register(
        &server,
        json!({"client_name": "Inspector", "redirect_uris": ["http://localhost:6274/oauth/callback"]}),
    )
    .await;
    assert_eq!(status, 201);
    let id = info["client_id"].as_str().unwrap();
    let now = server.deps.clock.now();
    let stored = server
        .deps
        .clients
        .get_client(id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_name.as_deref(), Some("Inspector"));
    assert_eq!(
        stored.redirect_uris[0].as_str(),
        "http://localhost:6274/oauth/callback"
    );
    // Unused until its first token: kept a day (the idle expiry starts with use).
    assert_eq!(stored.expires_at, now + UNUSED_REGISTRATION_SECONDS);
}

async fn malformed_registrations_get_rfc7591_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (body, error) in [
        (json!({"client_name": "no uris"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
    ] {
        let (status, info) = register(&server, body).await;
        assert_eq!(status, 400);
        assert_eq!(info["error"], error);
        assert!(
            info["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    let resp = http()
        .post(server.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["error"], "invalid_client_metadata");
}

async fn mcp_without_a_token_points_to_the_metadata(backend: Backend) {
    let server = TestServer::start(backend).await;
    let resp = http().post(server.url("/mcp")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"campaigns:read campaigns:write inbox:read\"",
            server.url("/.well-known/oauth-protected-resource/mcp")
        )
    );
    let resp = http().get(server.url("/nowhere")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

async fn registrations_that_store_a_client_are_limited_per_address(backend: Backend) {
    let server = TestServer::start(backend).await;
    let app = |i: u32| json!({"client_name": format!("App {i}"), "redirect_uris": [format!("https://app{i}.example/cb")]});
    for i in 0..MAX_REGISTRATIONS_PER_ADDRESS {
        let (status, body) = register(&server, app(i)).await;
        assert_eq!(status, 201, "{body}");
    }
    let resp = http()
        .post(server.url("/register"))
        .json(&app(99))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= REGISTRATION_WINDOW_SECONDS);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // A reply naming a pre-configured client writes nothing and is never limited.
    let (status, claude) = register(
        &server,
        json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}),
    )
    .await;
    assert_eq!(
        (status, claude["client_id"].as_str()),
        (201, Some("claude"))
    );
    // A new window, new registrations.
    server.clock.advance(REGISTRATION_WINDOW_SECONDS);
    assert_eq!(register(&server, app(100)).await.0, 201);
}

async fn a_registration_that_never_obtains_a_token_is_forgotten_within_a_day(backend: Backend) {
    let server = TestServer::start(backend).await;
    let unused = support::oauth::FlowClient::register(&server).await;
    let (used, _) = {
        let client = support::oauth::FlowClient::register(&server).await;
        let auth = client.authorize_as(&server, "demo@alta.local").await;
        let (status, tokens) = client.exchange(&server, &auth).await;
        assert_eq!(status, 200);
        (client, tokens)
    };
    server.clock.advance(UNUSED_REGISTRATION_SECONDS + 1);
    let now = server.clock.now();
    let registered = |id: String| {
        let deps = server.deps.clone();
        async move { deps.clients.get_client(&id, now).await.unwrap().is_some() }
    };
    assert!(
        !registered(unused.client_id.clone()).await,
        "never used: forgotten"
    );
    assert!(
        registered(used.client_id.clone()).await,
        "used: kept for the idle expiry"
    );
}
