//! Resource indicators (RFC 8707): the only resource here is the MCP endpoint.

use url::Url;

use crate::config::BaseUrl;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::http::Params;

/// The resource a request names: the MCP resource URL when it names none. Malformed,
/// foreign or repeated `resource` parameters are `invalid_target`, checked before any
/// code is consumed or token rotated.
pub fn requested_resource(params: &Params, base: &BaseUrl) -> Result<String, OAuthError> {
    let expected = base.mcp_resource();
    let values = params.all("resource");
    match values.as_slice() {
        [] => Ok(expected),
        [one] if names_resource(one, &expected) => Ok(expected),
        [one] => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!("resource `{one}` is not served here; the resource is {expected}"),
        )),
        _ => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!("only one resource may be requested: {expected}"),
        )),
    }
}

/// Canonical comparison: scheme and host compare case-insensitively (URL parsing lowers
/// them), everything else exactly; a fragment is never allowed (RFC 8707 §2).
fn names_resource(raw: &str, expected: &str) -> bool {
    if raw.contains('#') {
        return false;
    }
    let (Ok(asked), Ok(ours)) = (Url::parse(raw), Url::parse(expected)) else {
        return false;
    };
    // Compare the parsed scheme/host/port, but the path and query as written: URL
    // parsing would otherwise forgive `/mcp/../mcp` or `%6Dcp`.
    let raw_rest = raw
        .splitn(4, '/')
        .nth(3)
        .map(|rest| format!("/{rest}"))
        .unwrap_or_default();
    asked.scheme() == ours.scheme()
        && asked.host_str() == ours.host_str()
        && asked.port_or_known_default() == ours.port_or_known_default()
        && asked.username().is_empty()
        && asked.password().is_none()
        && raw_rest == expected_rest(&ours)
}

fn expected_rest(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<String, OAuthErrorCode> {
        let base = BaseUrl::parse("https://mcp.alta.example").unwrap();
        requested_resource(&Params::parse(query.as_bytes()), &base).map_err(|e| e.code)
    }

    #[test]
    fn absent_resource_means_the_mcp_endpoint() {
        assert_eq!(check(""), Ok("https://mcp.alta.example/mcp".into()));
    }

    #[test]
    fn the_mcp_url_is_accepted_with_any_case_of_scheme_and_host() {
        assert!(check("resource=https%3A%2F%2Fmcp.alta.example%2Fmcp").is_ok());
        assert!(check("resource=HTTPS%3A%2F%2FMCP.Alta.Example%2Fmcp").is_ok());
        assert!(check("resource=https%3A%2F%2Fmcp.alta.example%3A443%2Fmcp").is_ok());
    }

    #[test]
    fn other_paths_cases_and_fragments_are_invalid_target() {
        for bad in [
            "resource=https%3A%2F%2Fmcp.alta.example%2FMCP",
            "resource=https%3A%2F%2Fmcp.alta.example%2Fmcp%2F",
            "resource=https%3A%2F%2Fmcp.alta.example%2Fmcp%23x",
            "resource=https%3A%2F%2Fmcp.alta.example",
            "resource=https%3A%2F%2Fevil.example%2Fmcp",
            "resource=http%3A%2F%2Fmcp.alta.example%2Fmcp",
            "resource=mcp",
            "resource=https%3A%2F%2Fmcp.alta.example%2Fx%2F..%2Fmcp",
        ] {
            assert_eq!(check(bad), Err(OAuthErrorCode::InvalidTarget), "{bad}");
        }
    }

    #[test]
    fn repeated_resource_is_invalid_target() {
        let one = "resource=https%3A%2F%2Fmcp.alta.example%2Fmcp";
        assert_eq!(
            check(&format!("{one}&{one}")),
            Err(OAuthErrorCode::InvalidTarget)
        );
    }
}
