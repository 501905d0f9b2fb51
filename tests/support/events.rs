//! The sample API Gateway events in `events/` and the status each must get.

/// Each event and the status its handler must answer.
pub const EXPECTED: &[(&str, u16)] = &[
    ("discovery-authorization-server.json", 200),
    ("discovery-openid-configuration.json", 200),
    ("discovery-protected-resource.json", 200),
    ("discovery-protected-resource-mcp.json", 200),
    ("discovery-jwks.json", 200),
    ("discovery-preflight.json", 204),
    ("register-claude.json", 201),
    ("register-cursor.json", 201),
    ("register-vscode.json", 201),
    ("register-claude-code.json", 201),
    ("register-invalid-redirect.json", 400),
    ("register-preflight.json", 204),
    ("authorize-get.json", 200),
    ("authorize-get-unknown-client.json", 400),
    ("authorize-post-expired-form.json", 400),
    ("authorize-callback-forged-state.json", 400),
    ("connections-get.json", 200),
    ("connections-post-expired-form.json", 400),
    ("token-authorization-code-unknown.json", 400),
    ("token-refresh-unknown.json", 400),
    ("token-unknown-client.json", 401),
    ("token-preflight.json", 204),
    ("revoke-unknown-token.json", 200),
    ("mcp-without-token.json", 401),
    ("mcp-get-stream.json", 405),
    ("mcp-preflight.json", 204),
    ("mcp-modern-tools-list-expired-token.json", 401),
];

pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

pub fn read(file: &str) -> String {
    std::fs::read_to_string(dir().join(file)).unwrap()
}
