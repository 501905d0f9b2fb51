//! `/mcp` over Streamable HTTP, as a Lambda can serve it: every POST answered with one
//! `application/json` body, no sessions, no SSE, no GET stream.
//!
//! origin → authentication → body → protocol version and header checks → dispatch.
//! Two eras share the endpoint: MCP 2026-07-28 (stateless; version, method and name
//! mirrored in headers and checked against the body) and the `initialize`-handshake
//! revisions 2025-11-25, 2025-06-18 and 2025-03-26, answered statelessly.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::auth::{self, Caller};
use super::protocol::{
    HEADERLESS_VERSION, LEGACY_VERSIONS, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION,
    META_SERVER_INFO, MODERN_VERSION, Message, SUPPORTED_VERSIONS, decode_header_value,
    is_supported, result_response,
};
use super::tools;
use crate::deps::Deps;
use crate::endpoint::{self, Cors, Endpoint, Methods};
use crate::error::McpError;
use crate::http::{self as h, Headers};
use crate::scope::Scope;

/// The MCP extension this server offers (modelcontextprotocol/ext-auth).
pub const ENTERPRISE_MANAGED_AUTHORIZATION: &str =
    "io.modelcontextprotocol/enterprise-managed-authorization";

/// Tool arguments are small; 256 KiB leaves room and stops abuse early.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// `tools/list` and `server/discover` change only with a deployment.
const LIST_TTL_MS: u64 = 300_000;
const DISCOVER_TTL_MS: u64 = 3_600_000;
const INSTRUCTIONS: &str = "Alta is a sales platform. These tools act in the person's Alta account: \
    read campaigns and their statistics, pause or resume campaigns, and read email in the inboxes \
    the person may access. Call get_account first to learn the account and role.";

const ENDPOINT: Endpoint = Endpoint {
    name: "mcp",
    paths: &["/mcp"],
    // No standalone SSE stream and no sessions to delete (MCP 2026-07-28 §Backward
    // Compatibility): POST only.
    methods: Methods::Post,
    cors: Cors::AllowedOrigins,
};

pub async fn handle(req: Request, deps: &Deps) -> Response<Body> {
    endpoint::serve(&ENDPOINT, req, deps, async |req, deps| {
        respond(req, deps).await
    })
    .await
}

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    Modern,
    Legacy(&'static str),
}

/// The answer to one message.
enum Reply {
    Result(Value),
    Error(McpError),
    /// The token lacks the scope a tool needs: an HTTP 403 step-up challenge.
    InsufficientScope(Scope),
    /// The token's sign-in is not one the tool's account accepts: an HTTP 401.
    SignInRequired(String),
    /// A notification: nothing to answer.
    Accepted,
}

async fn respond(req: &Request, deps: &Deps) -> Response<Body> {
    let caller = match auth::authenticate(req, deps).await {
        Ok(caller) => caller,
        Err(challenge) => return challenge,
    };
    if refuses_json(req) {
        return McpError::invalid_request("this server answers with application/json")
            .with_status(StatusCode::NOT_ACCEPTABLE)
            .into_response(None);
    }
    let bytes = match h::body_bytes(req, MAX_BODY_BYTES) {
        Ok(bytes) => bytes,
        Err(_) => {
            return McpError::invalid_request(format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes"
            ))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response(None);
        }
    };
    let body: Value = match serde_json::from_slice(bytes) {
        Ok(body) => body,
        Err(e) => return McpError::parse_error(format!("Parse error: {e}")).into_response(None),
    };
    match body {
        Value::Array(messages) => batch(req, deps, &caller, messages).await,
        single => one(req, deps, &caller, single).await,
    }
}

async fn one(req: &Request, deps: &Deps, caller: &Caller, body: Value) -> Response<Body> {
    let message = match Message::parse(body) {
        Ok(message) => message,
        Err((id, err)) => return err.into_response(id.as_ref()),
    };
    let era = match era_of(req, &message) {
        Ok(era) => era,
        Err(err) => return err.into_response(message.id.as_ref()),
    };
    let reply = dispatch(deps, caller, era, &message).await;
    let mut resp = match reply {
        Reply::Accepted => accepted(),
        Reply::InsufficientScope(scope) => {
            auth::insufficient_scope(deps, scope, message.id.as_ref())
        }
        Reply::SignInRequired(reason) => auth::unauthorized(deps, Some(&reason)),
        Reply::Result(result) => match &message.id {
            Some(id) => json_ok(&result_response(id, result)),
            None => accepted(),
        },
        Reply::Error(err) => legacy_status(era, err).into_response(message.id.as_ref()),
    };
    if era == Era::Modern
        && let Ok(value) = HeaderValue::from_str(MODERN_VERSION)
    {
        resp.headers_mut().insert("mcp-protocol-version", value);
    }
    resp
}

/// A batch's messages run one after another behind one request, each with its own reads:
/// a cap keeps one request from costing thousands of DynamoDB calls.
pub const MAX_BATCH_MESSAGES: usize = 20;

/// JSON-RPC batches exist only in 2025-03-26; later revisions removed them.
async fn batch(
    req: &Request,
    deps: &Deps,
    caller: &Caller,
    messages: Vec<Value>,
) -> Response<Body> {
    let version = header(req, "mcp-protocol-version").unwrap_or(HEADERLESS_VERSION);
    if version != HEADERLESS_VERSION {
        return McpError::invalid_request(format!(
            "JSON-RPC batches are not supported in protocol version {version}; send one message per request"
        ))
        .into_response(None);
    }
    if messages.is_empty() {
        return McpError::invalid_request("an empty batch").into_response(None);
    }
    if messages.len() > MAX_BATCH_MESSAGES {
        return McpError::invalid_request(format!(
            "a batch may hold at most {MAX_BATCH_MESSAGES} messages; this one holds {}",
            messages.len()
        ))
        .into_response(None);
    }
    let mut responses = Vec::new();
    for body in messages {
        let message = match Message::parse(body) {
            Ok(message) => message,
            Err((id, err)) => {
                responses.push(err.to_json(id.as_ref()));
                continue;
            }
        };
        if message.method == "initialize" {
            responses.push(
                McpError::invalid_request("initialize must not be part of a batch")
                    .to_json(message.id.as_ref()),
            );
            continue;
        }
        match (
            dispatch(deps, caller, Era::Legacy(HEADERLESS_VERSION), &message).await,
            &message.id,
        ) {
            (Reply::InsufficientScope(scope), id) => {
                return auth::insufficient_scope(deps, scope, id.as_ref());
            }
            (Reply::SignInRequired(reason), _) => return auth::unauthorized(deps, Some(&reason)),
            (Reply::Result(result), Some(id)) => responses.push(result_response(id, result)),
            (Reply::Error(err), id) if id.is_some() => responses.push(err.to_json(id.as_ref())),
            _ => {}
        }
    }
    if responses.is_empty() {
        accepted()
    } else {
        json_ok(&Value::Array(responses))
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The era and version of a single message, with the 2026-07-28 `_meta` and header checks.
fn era_of(req: &Request, message: &Message) -> Result<Era, McpError> {
    let header_version = header(req, "mcp-protocol-version");
    // `initialize` starts the handshake of the 2025 revisions; 2026-07-28 removed it, so
    // under that header it falls through to "method not found".
    if message.method == "initialize" && header_version != Some(MODERN_VERSION) {
        if let Some(v) = header_version.filter(|v| !is_supported(v)) {
            return Err(McpError::unsupported_version(v, &SUPPORTED_VERSIONS));
        }
        return Ok(Era::Legacy(negotiate_legacy(
            message.param_str("protocolVersion"),
        )));
    }
    let meta_version = message.meta_protocol_version();
    let version = match (header_version, meta_version) {
        (None, None) => return Ok(Era::Legacy(HEADERLESS_VERSION)),
        (None, Some(_)) => {
            return Err(McpError::header_mismatch(
                "the MCP-Protocol-Version header is required",
            ));
        }
        (Some(v), _) => v,
    };
    if !is_supported(version) {
        return Err(McpError::unsupported_version(version, &SUPPORTED_VERSIONS));
    }
    if version == MODERN_VERSION && !message.is_notification() {
        check_request_meta(message)?;
    }
    if let Some(m) = meta_version
        && m != version
    {
        return Err(McpError::header_mismatch(format!(
            "Header mismatch: MCP-Protocol-Version header value '{version}' does not match body value '{m}'"
        )));
    }
    if version != MODERN_VERSION {
        return Ok(Era::Legacy(legacy_version(version)));
    }
    if meta_version.is_none() {
        return Err(McpError::header_mismatch(format!(
            "a {MODERN_VERSION} message must carry {META_PROTOCOL_VERSION} in params._meta"
        )));
    }
    match header(req, "mcp-method") {
        Some(m) if m == message.method => {}
        Some(m) => {
            return Err(McpError::header_mismatch(format!(
                "Header mismatch: Mcp-Method header value '{m}' does not match body value '{}'",
                message.method
            )));
        }
        None => {
            return Err(McpError::header_mismatch(
                "the Mcp-Method header is required",
            ));
        }
    }
    if matches!(
        message.method.as_str(),
        "tools/call" | "resources/read" | "prompts/get"
    ) {
        let body_name = message
            .param_str("name")
            .or_else(|| message.param_str("uri"))
            .unwrap_or("");
        match header(req, "mcp-name").map(decode_header_value) {
            Some(Some(name)) if name == body_name => {}
            Some(Some(name)) => {
                return Err(McpError::header_mismatch(format!(
                    "Header mismatch: Mcp-Name header value '{name}' does not match body value '{body_name}'"
                )));
            }
            Some(None) => {
                return Err(McpError::header_mismatch(
                    "the Mcp-Name header is malformed",
                ));
            }
            None => {
                return Err(McpError::header_mismatch(format!(
                    "the Mcp-Name header is required for {}",
                    message.method
                )));
            }
        }
    }
    Ok(Era::Modern)
}

fn legacy_version(version: &str) -> &'static str {
    LEGACY_VERSIONS
        .into_iter()
        .find(|v| *v == version)
        .unwrap_or(HEADERLESS_VERSION)
}

/// A 2026-07-28 request must carry its version and the client's capabilities in `_meta`
/// (basic §"Per-request protocol fields"): without them it is malformed, -32602 with 400.
fn check_request_meta(message: &Message) -> Result<(), McpError> {
    let malformed = |what: &str| {
        McpError::invalid_params(format!(
            "a {MODERN_VERSION} request must carry {what} in params._meta"
        ))
    };
    let Some(Value::Object(meta)) = message.params.get("_meta") else {
        return Err(malformed(&format!(
            "{META_PROTOCOL_VERSION} and {META_CLIENT_CAPABILITIES}"
        )));
    };
    if !meta
        .get(META_PROTOCOL_VERSION)
        .is_some_and(Value::is_string)
    {
        return Err(malformed(META_PROTOCOL_VERSION));
    }
    if !meta
        .get(META_CLIENT_CAPABILITIES)
        .is_some_and(Value::is_object)
    {
        return Err(malformed(&format!(
            "{META_CLIENT_CAPABILITIES} (an object)"
        )));
    }
    Ok(())
}

/// `initialize` agrees on the client's version when it is one of ours, else our newest
/// handshake version (the client then decides whether it can speak it).
fn negotiate_legacy(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| LEGACY_VERSIONS.into_iter().find(|v| *v == r))
        .unwrap_or(LEGACY_VERSIONS[0])
}

/// Handshake-era clients treat a non-2xx answer as a broken transport, so their
/// JSON-RPC errors about methods and parameters travel with 200.
fn legacy_status(era: Era, err: McpError) -> McpError {
    match era {
        Era::Legacy(_)
            if matches!(
                err.code,
                McpError::METHOD_NOT_FOUND | McpError::INVALID_PARAMS
            ) =>
        {
            err.with_status(StatusCode::OK)
        }
        _ => err,
    }
}

fn server_info() -> Value {
    json!({"name": "alta-mcp", "title": "Alta", "version": env!("CARGO_PKG_VERSION")})
}

async fn dispatch(deps: &Deps, caller: &Caller, era: Era, message: &Message) -> Reply {
    if message.is_notification() {
        return Reply::Accepted;
    }
    let complete = |mut result: Value| {
        if era == Era::Modern {
            result["resultType"] = json!("complete");
            // Results identify the server, since no handshake did (basic §"Per-response
            // protocol fields", a SHOULD).
            result["_meta"][META_SERVER_INFO] = server_info();
        }
        Reply::Result(result)
    };
    match (era, message.method.as_str()) {
        // Removed in 2026-07-28 with the handshake: there it is "method not found".
        (Era::Legacy(_), "ping") => complete(json!({})),
        (Era::Legacy(version), "initialize") => Reply::Result(json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        })),
        (Era::Modern, "server/discover") => complete(json!({
            "supportedVersions": SUPPORTED_VERSIONS,
            "capabilities": {
                "tools": {"listChanged": false},
                // An app may get its token through the company's identity provider
                // (an ID-JAG at /token): docs/enterprise-managed-authorization.md.
                "extensions": {ENTERPRISE_MANAGED_AUTHORIZATION: {}},
            },
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
            "ttlMs": DISCOVER_TTL_MS,
            "cacheScope": "public",
        })),
        (_, "tools/list") => {
            if message.params.get("cursor").is_some_and(|c| !c.is_null()) {
                return Reply::Error(McpError::invalid_params(
                    "invalid cursor: the tool list has one page",
                ));
            }
            let tools: Vec<Value> = tools::CATALOG.iter().map(|t| t.to_json()).collect();
            let mut result = json!({"tools": tools});
            if era == Era::Modern {
                result["ttlMs"] = json!(LIST_TTL_MS);
                result["cacheScope"] = json!("public");
            }
            complete(result)
        }
        (_, "tools/call") => {
            let Some(name) = message.param_str("name") else {
                return Reply::Error(McpError::invalid_params("params.name is required"));
            };
            let Some(tool) = tools::find(name) else {
                return Reply::Error(McpError::invalid_params(format!("Unknown tool: {name}")));
            };
            if let Some(scope) = tool.scope
                && !caller.scopes.contains(scope)
            {
                return Reply::InsufficientScope(scope);
            }
            let args = message
                .params
                .get("arguments")
                .cloned()
                .unwrap_or(Value::Null);
            match tools::call(deps, caller, tool, args).await {
                Ok(result) => complete(result),
                Err(tools::CallError::Protocol(err)) => Reply::Error(err),
                Err(tools::CallError::SignInRequired(reason)) => Reply::SignInRequired(reason),
            }
        }
        (_, method) => Reply::Error(McpError::method_not_found(method)),
    }
}

fn json_ok(body: &Value) -> Response<Body> {
    h::json_response(StatusCode::OK, body, Headers::no_store())
}

fn accepted() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

/// `Accept` is read leniently: JSON is answered unless the client explicitly refuses it
/// (strict 406s broke real clients behind Lambda).
fn refuses_json(req: &Request) -> bool {
    header(req, "accept").is_some_and(|accept| {
        accept.split(',').any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            pieces.next() == Some("application/json") && pieces.any(|p| p.replace(' ', "") == "q=0")
        })
    })
}
