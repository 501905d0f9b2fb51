//! Calling `/mcp` as each protocol era does.

use serde_json::{Value, json};

use super::Server;

pub const MODERN: &str = "2026-07-28";

/// A `ping` with `token`: the HTTP status and the `WWW-Authenticate` challenge, if any.
pub async fn ping_status(server: &impl Server, token: &str) -> (u16, String) {
    let resp = super::http()
        .post(server.url("/mcp"))
        .bearer_auth(token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), challenge)
}

pub struct Mcp<'a> {
    pub server: &'a dyn Server,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn result(&self) -> &Value {
        assert!(
            self.body.get("error").is_none(),
            "unexpected error: {}",
            self.body
        );
        &self.body["result"]
    }

    pub fn error_code(&self) -> i64 {
        self.body["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error in {}", self.body))
    }
}

impl<'a> Mcp<'a> {
    pub fn new(server: &'a dyn Server, token: String) -> Self {
        Self { server, token }
    }

    /// POSTs `body` with exactly these extra headers.
    pub async fn raw(&self, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = super::http()
            .post(self.server.url("/mcp"))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A 2025-era request (after an `initialize` it never needs to repeat).
    pub async fn legacy(&self, version: &str, method: &str, params: Value) -> Answer {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        self.raw(&body.to_string(), &[("mcp-protocol-version", version)])
            .await
    }

    /// A 2026-07-28 request: `_meta` in the body, version, method and name in headers.
    pub async fn modern(&self, method: &str, mut params: Value) -> Answer {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "alta-tests", "version": "1.0.0"},
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if let Some(name) = name.as_deref() {
            headers.push(("mcp-name", name));
        }
        self.raw(&body.to_string(), &headers).await
    }

    /// `tools/call` over 2026-07-28.
    pub async fn call(&self, tool: &str, arguments: Value) -> Answer {
        self.modern("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }
}
