//! JSON-RPC messages and MCP protocol versions.

use serde_json::{Map, Value};

use crate::error::McpError;

/// The stateless revision: every request carries its version in `_meta`.
pub const MODERN_VERSION: &str = "2026-07-28";
/// The `initialize`-handshake revisions, newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// What a request without `MCP-Protocol-Version` speaks (2025-03-26 defined no header).
pub const HEADERLESS_VERSION: &str = "2025-03-26";
pub const SUPPORTED_VERSIONS: [&str; 4] =
    [MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26"];
/// The `_meta` key carrying a modern request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key carrying the capabilities a modern request relies on (required).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key by which a modern result names the server.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

pub fn is_supported(version: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&version)
}

/// One JSON-RPC message from the client, checked for shape.
#[derive(Debug, Clone)]
pub struct Message {
    /// Absent for a notification.
    pub id: Option<Value>,
    pub method: String,
    pub params: Map<String, Value>,
}

impl Message {
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    pub fn parse(value: Value) -> Result<Self, (Option<Value>, McpError)> {
        let Value::Object(mut fields) = value else {
            return Err((
                None,
                McpError::invalid_request("a JSON-RPC message must be an object"),
            ));
        };
        let id = match fields.remove("id") {
            None => None,
            Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
            Some(_) => {
                return Err((
                    None,
                    McpError::invalid_request("the id must be a string or an integer"),
                ));
            }
        };
        if fields.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err((id, McpError::invalid_request("jsonrpc must be \"2.0\"")));
        }
        if fields.contains_key("result") || fields.contains_key("error") {
            return Err((
                id,
                McpError::invalid_request(
                    "the server accepts requests and notifications, not responses",
                ),
            ));
        }
        let method = match fields.remove("method") {
            Some(Value::String(m)) if !m.is_empty() => m,
            _ => return Err((id, McpError::invalid_request("method is required"))),
        };
        let params = match fields.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err((id, McpError::invalid_params("params must be an object"))),
        };
        Ok(Self { id, method, params })
    }

    /// `params._meta["io.modelcontextprotocol/protocolVersion"]`, if present.
    pub fn meta_protocol_version(&self) -> Option<&str> {
        self.params
            .get("_meta")?
            .get(META_PROTOCOL_VERSION)?
            .as_str()
    }

    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
}

/// A successful JSON-RPC response.
pub fn result_response(id: &Value, result: Value) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// Decodes the `=?base64?…?=` sentinel of MCP header values.
pub fn decode_header_value(raw: &str) -> Option<String> {
    use base64::Engine;
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_and_notification_parse() {
        let m = Message::parse(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).unwrap();
        assert!(!m.is_notification());
        let n =
            Message::parse(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).unwrap();
        assert!(n.is_notification());
    }

    #[test]
    fn malformed_messages_are_invalid_requests() {
        for bad in [
            json!([]),
            json!({"jsonrpc":"1.0","id":1,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":{"a":1},"method":"x"}),
            json!({"jsonrpc":"2.0","id":1,"result":{}}),
        ] {
            let (_, err) = Message::parse(bad.clone()).unwrap_err();
            assert_eq!(err.code, McpError::INVALID_REQUEST, "{bad}");
        }
        let (id, err) =
            Message::parse(json!({"jsonrpc":"2.0","id":7,"method":"x","params":[1]})).unwrap_err();
        assert_eq!((id, err.code), (Some(json!(7)), McpError::INVALID_PARAMS));
    }

    #[test]
    fn header_values_decode_the_base64_sentinel() {
        assert_eq!(
            decode_header_value("list_campaigns").as_deref(),
            Some("list_campaigns")
        );
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }

    #[test]
    fn meta_version_is_read_from_params() {
        let m = Message::parse(json!({"jsonrpc":"2.0","id":1,"method":"tools/list",
            "params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}))
        .unwrap();
        assert_eq!(m.meta_protocol_version(), Some("2026-07-28"));
    }
}
