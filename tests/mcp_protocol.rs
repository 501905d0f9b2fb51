//! The MCP transport over real HTTP: both protocol eras, header rules, errors, CORS, and
//! every way a bearer token can fail. On the in-memory store and on DynamoDB.

use crate::support;

use support::Server as _;

use alta_shared::jwt::{AccessTokenClaims, sign_access_token};
use alta_shared::keys::KeySet;
use alta_shared::mcp::transport::MAX_BATCH_MESSAGES;
use serde_json::{Value, json};
use support::mcp::{MODERN, Mcp, ping_status};
use support::oauth::access_token;
use support::{Backend, TestServer, http};

on_every_store!(
    initialize_is_answered_statelessly_for_each_legacy_version,
    modern_discover_list_and_call_carry_result_type_and_caching,
    header_mismatches_are_32020,
    modern_requests_without_required_meta_are_32602,
    unknown_protocol_version_is_32022_listing_the_supported_ones,
    unknown_method_is_404_modern_and_a_200_error_legacy,
    notifications_batches_and_headerless_requests,
    malformed_messages_get_json_rpc_errors,
    http_methods_origin_and_cors,
    every_bad_token_gets_a_401_challenge,
    missing_scope_is_a_403_step_up,
);

const ALL: &str = "campaigns:read campaigns:write inbox:read";

async fn demo(server: &TestServer) -> Mcp<'_> {
    Mcp::new(server, access_token(server, "demo@alta.local", ALL).await)
}

/// The tool contract (tests/fixtures/tools.json), which the Python and TypeScript tests
/// read too.
fn contract() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tools.json"
    ))
    .unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["tools"].as_array().unwrap().clone()
}

fn contract_names() -> Vec<String> {
    contract()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The catalog is the contract: every tool, in order, with its scope, the permission its
/// role must hold and whether it only reads.
#[test]
fn the_catalog_is_the_tool_contract() {
    let catalog: Vec<Value> = alta_shared::mcp::tools::CATALOG
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "scope": t.scope.map(|s| s.as_str()),
                "permission": t.permission.map(|p| p.as_str()),
                "read_only": t.hints.read_only,
            })
        })
        .collect();
    assert_eq!(catalog, contract());
}

async fn initialize_is_answered_statelessly_for_each_legacy_version(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    for version in ["2025-11-25", "2025-06-18", "2025-03-26"] {
        let params = json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
        let init = mcp
            .raw(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
                    .to_string(),
                &[],
            )
            .await;
        assert_eq!(init.status, 200);
        assert_eq!(init.result()["protocolVersion"], version);
        assert!(init.result()["capabilities"]["tools"].is_object());
        assert_eq!(init.result()["serverInfo"]["name"], "alta-mcp");
        assert!(
            init.headers.get("mcp-session-id").is_none(),
            "stateless: no session"
        );
        assert!(init.result().get("resultType").is_none());

        let list = mcp.legacy(version, "tools/list", json!({})).await;
        let names: Vec<&str> = list.result()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, contract_names());
    }
    let old = json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    let init = mcp
        .raw(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": old}).to_string(),
            &[],
        )
        .await;
    assert_eq!(
        init.result()["protocolVersion"],
        "2025-11-25",
        "an unknown version gets our newest handshake version"
    );
    let ping = mcp.legacy("2025-11-25", "ping", json!({})).await;
    assert_eq!(ping.result(), &json!({}));
}

async fn modern_discover_list_and_call_carry_result_type_and_caching(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let discover = mcp.modern("server/discover", json!({})).await;
    assert_eq!(discover.status, 200);
    let result = discover.result();
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["supportedVersions"],
        json!([MODERN, "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(discover.headers["mcp-protocol-version"], MODERN);

    let list = mcp.modern("tools/list", json!({})).await;
    let result = list.result();
    assert_eq!(result["resultType"], "complete");
    assert!(result["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(result["cacheScope"], "public");
    for tool in result["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert!(tool["annotations"]["readOnlyHint"].is_boolean());
        assert!(tool["annotations"]["idempotentHint"].is_boolean());
        assert!(
            !tool.to_string().contains("$ref"),
            "schemas are self-contained: {tool}"
        );
    }
    let pause = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pause_campaign")
        .unwrap();
    assert_eq!(pause["annotations"]["readOnlyHint"], false);
    assert_eq!(pause["inputSchema"]["required"], json!(["campaign_id"]));

    let call = mcp
        .call("list_campaigns", json!({"status": "active"}))
        .await;
    let result = call.result();
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["isError"], false);
    let campaigns = result["structuredContent"]["campaigns"].as_array().unwrap();
    assert!(!campaigns.is_empty() && campaigns.iter().all(|c| c["status"] == "active"));
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Q4 enterprise outreach")
    );
}

async fn header_mismatches_are_32020(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let meta = |version: &str| {
        json!({
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
        })
    };
    let body = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params}).to_string()
    };
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        // Version header and _meta disagree.
        (
            body("tools/list", json!({"_meta": meta(MODERN)})),
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-method", "tools/list"),
            ],
        ),
        // _meta but no version header.
        (
            body("tools/list", json!({"_meta": meta(MODERN)})),
            vec![("mcp-method", "tools/list")],
        ),
        // Missing and mismatched Mcp-Method.
        (
            body("tools/list", json!({"_meta": meta(MODERN)})),
            vec![("mcp-protocol-version", MODERN)],
        ),
        (
            body("tools/list", json!({"_meta": meta(MODERN)})),
            vec![
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
            ],
        ),
        // Missing and mismatched Mcp-Name on tools/call.
        (
            body(
                "tools/call",
                json!({"_meta": meta(MODERN), "name": "get_account", "arguments": {}}),
            ),
            vec![
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
            ],
        ),
        (
            body(
                "tools/call",
                json!({"_meta": meta(MODERN), "name": "get_account", "arguments": {}}),
            ),
            vec![
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "list_campaigns"),
            ],
        ),
    ];
    for (body, headers) in cases {
        let answer = mcp.raw(&body, &headers).await;
        assert_eq!(answer.status, 400, "{body} {headers:?}");
        assert_eq!(answer.error_code(), -32020, "{}", answer.body);
        assert_eq!(answer.body["id"], 3);
    }
    // The base64 sentinel of Mcp-Name is decoded before comparing.
    let ok = mcp
        .raw(
            &body(
                "tools/call",
                json!({"_meta": meta(MODERN), "name": "get_account", "arguments": {}}),
            ),
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?Z2V0X2FjY291bnQ=?="),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// MCP 2026-07-28 basic §"Per-request protocol fields": `protocolVersion` and
/// `clientCapabilities` are required in every request's `_meta`; without them the request
/// is malformed (-32602, 400), whatever the headers say. The handshake's `initialize`
/// and `ping` are gone from that revision (404, -32601) but stay for the 2025 ones.
async fn modern_requests_without_required_meta_are_32602(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/list"),
    ];
    for params in [
        json!({}),
        json!({"_meta": null}),
        json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                         "io.modelcontextprotocol/clientCapabilities": "all"}}),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": params});
        let answer = mcp.raw(&body.to_string(), &headers).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (400, -32602),
            "{params}: {}",
            answer.body
        );
        assert_eq!(answer.body["id"], 9);
    }
    // clientInfo is a SHOULD: a request without it is served.
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    let answer = mcp.raw(&body.to_string(), &headers).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.result()["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "alta-mcp"
    );

    for removed in ["ping", "initialize"] {
        let answer = mcp.modern(removed, json!({})).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (404, -32601),
            "{removed}: {}",
            answer.body
        );
    }
    let ping = mcp.legacy("2025-06-18", "ping", json!({})).await;
    assert_eq!((ping.status, ping.result()), (200, &json!({})));
}

async fn unknown_protocol_version_is_32022_listing_the_supported_ones(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let answer = mcp.legacy("1900-01-01", "tools/list", json!({})).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), -32022);
    assert_eq!(answer.body["error"]["data"]["requested"], "1900-01-01");
    assert_eq!(
        answer.body["error"]["data"]["supported"],
        json!([MODERN, "2025-11-25", "2025-06-18", "2025-03-26"])
    );
}

async fn unknown_method_is_404_modern_and_a_200_error_legacy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let modern = mcp.modern("resources/list", json!({})).await;
    assert_eq!((modern.status, modern.error_code()), (404, -32601));
    let legacy = mcp.legacy("2025-06-18", "resources/list", json!({})).await;
    assert_eq!((legacy.status, legacy.error_code()), (200, -32601));
    let unknown_tool = mcp.call("drop_tables", json!({})).await;
    assert_eq!(unknown_tool.error_code(), -32602);
}

async fn notifications_batches_and_headerless_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let note = mcp
        .raw(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &[("mcp-protocol-version", "2025-11-25")],
        )
        .await;
    assert_eq!(note.status, 202);
    assert_eq!(note.body, Value::Null);

    // No MCP-Protocol-Version: 2025-03-26, which allows batches.
    let headerless = mcp
        .raw(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, &[])
        .await;
    assert_eq!(headerless.status, 200);
    let batch = mcp
        .raw(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#,
            &[],
        )
        .await;
    assert_eq!(batch.status, 200);
    let replies = batch.body.as_array().unwrap();
    assert_eq!(replies.len(), 2, "no reply to the notification");
    assert_eq!(replies[0]["result"], json!({}));
    assert_eq!(replies[1]["error"]["code"], -32601);

    let refused = mcp
        .raw(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            &[("mcp-protocol-version", "2025-06-18")],
        )
        .await;
    assert_eq!((refused.status, refused.error_code()), (400, -32600));

    // No amplification: a batch is capped, and past the cap nothing of it runs.
    let pings = |n: usize| {
        let messages: Vec<Value> = (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}))
            .collect();
        Value::Array(messages).to_string()
    };
    let full = mcp.raw(&pings(MAX_BATCH_MESSAGES), &[]).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body.as_array().unwrap().len(), MAX_BATCH_MESSAGES);
    let over = mcp.raw(&pings(MAX_BATCH_MESSAGES + 1), &[]).await;
    assert_eq!((over.status, over.error_code()), (400, -32600));
    assert!(
        over.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 20")
    );
}

async fn malformed_messages_get_json_rpc_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = demo(&server).await;
    let v = [("mcp-protocol-version", "2025-11-25")];
    let parse = mcp.raw("{not json", &v).await;
    assert_eq!((parse.status, parse.error_code()), (400, -32700));
    let invalid = mcp.raw(r#"{"jsonrpc":"2.0","id":1}"#, &v).await;
    assert_eq!((invalid.status, invalid.error_code()), (400, -32600));
    let params = mcp
        .raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}"#,
            &v,
        )
        .await;
    assert_eq!(params.error_code(), -32602);
    let cursor = mcp
        .legacy("2025-11-25", "tools/list", json!({"cursor": "x"}))
        .await;
    assert_eq!(cursor.error_code(), -32602);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(300 * 1024)
    );
    assert_eq!(mcp.raw(&big, &v).await.status, 413);
}

async fn http_methods_origin_and_cors(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &[("ALTA_ALLOWED_ORIGINS", "http://localhost:6274")],
    )
    .await;
    let mcp = demo(&server).await;
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let resp = http()
            .request(method.clone(), server.url("/mcp"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
        assert_eq!(resp.headers()["allow"], "POST, OPTIONS");
    }
    let preflight = http()
        .request(reqwest::Method::OPTIONS, server.url("/mcp"))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204, "preflight needs no token");
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for h in [
        "Authorization",
        "Content-Type",
        "MCP-Protocol-Version",
        "Mcp-Method",
        "Mcp-Name",
    ] {
        assert!(allowed.contains(h), "{h}");
    }
    let unauthorized = http()
        .post(server.url("/mcp"))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert!(
        unauthorized.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("WWW-Authenticate")
    );

    let evil = mcp
        .raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(evil.status, 403);
    let own = mcp
        .raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            &[("origin", server.base.as_str())],
        )
        .await;
    assert_eq!(own.status, 200);

    let slash = http()
        .post(server.url("/mcp/"))
        .bearer_auth(&mcp.token)
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status(), 200, "/mcp/ is /mcp");
    let lenient = mcp
        .raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            &[("accept", "text/event-stream")],
        )
        .await;
    assert_eq!(lenient.status, 200, "Accept is read leniently");
    assert_eq!(lenient.headers["content-type"], "application/json");
}

async fn every_bad_token_gets_a_401_challenge(backend: Backend) {
    let server = TestServer::start(backend).await;
    let good = access_token(&server, "demo@alta.local", ALL).await;
    assert_eq!(ping_status(&server, &good).await.0, 200);

    let resp = http().post(server.url("/mcp")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains(&format!(
        "resource_metadata=\"{}\"",
        server.url("/.well-known/oauth-protected-resource/mcp")
    )));
    assert!(
        !challenge.contains("error="),
        "no error when no token was presented"
    );

    let keys = server.deps.signing_keys.current().await.unwrap();
    let now = server.deps.clock.now();
    let claims = AccessTokenClaims {
        iss: server.base.clone(),
        sub: "user_demo".into(),
        aud: server.url("/mcp"),
        exp: now + 3600,
        iat: now,
        jti: "forged-jti".into(),
        client_id: "claude".into(),
        scope: ALL.into(),
        grant_id: None,
        account_id: None,
        idp: None,
    };
    let with = |f: &dyn Fn(&mut AccessTokenClaims)| {
        let mut c = claims.clone();
        f(&mut c);
        sign_access_token(keys.newest_key(), &c).unwrap()
    };
    let stranger = KeySet::generate(1).unwrap();
    let unknown_key = sign_access_token(stranger.newest_key(), &claims).unwrap();
    let none_alg = {
        use base64::Engine;
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            enc(json!({"alg": "none", "typ": "at+jwt"})),
            enc(serde_json::to_value(&claims).unwrap())
        )
    };
    let bad_tokens = [
        ("garbage", "not-a-jwt".to_owned()),
        ("expired", with(&|c| c.exp = now - 3600)),
        (
            "wrong audience",
            with(&|c| c.aud = "https://elsewhere.example/mcp".into()),
        ),
        (
            "wrong issuer",
            with(&|c| c.iss = "https://evil.example".into()),
        ),
        ("unknown key", unknown_key),
        ("alg none", none_alg),
    ];
    for (why, token) in bad_tokens {
        let (status, challenge) = ping_status(&server, &token).await;
        assert_eq!(status, 401, "{why}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert!(challenge.contains("resource_metadata="), "{why}");
    }
    // Within the 60 s leeway an expired token still works.
    assert_eq!(
        ping_status(&server, &with(&|c| c.exp = now - 30)).await.0,
        200
    );
}

async fn missing_scope_is_a_403_step_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = Mcp::new(
        &server,
        access_token(&server, "demo@alta.local", "campaigns:read").await,
    );
    let list = mcp.call("list_campaigns", json!({})).await;
    assert_eq!(list.status, 200);
    let pause = mcp
        .call(
            "pause_campaign",
            json!({"campaign_id": "camp_acme_q4_outreach"}),
        )
        .await;
    assert_eq!(pause.status, 403);
    let challenge = pause.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"campaigns:write\""),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let emails = mcp.call("list_emails", json!({})).await;
    assert_eq!(emails.status, 403);
    assert!(
        emails.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"inbox:read\"")
    );
}
