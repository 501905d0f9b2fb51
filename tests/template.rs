//! `template.yaml` against the code: every route of DESIGN.md is there, each goes to the
//! function whose handler serves it (the same table the local server routes by), and no
//! route goes anywhere else.

use std::collections::BTreeSet;

use alta_shared::routes::Function;

/// (route key, integration logical id) pairs, read from the template's Route resources.
fn routes() -> Vec<(String, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let mut routes = Vec::new();
    let mut pending: Option<String> = None;
    for line in template.lines().map(str::trim) {
        if let Some(key) = line.strip_prefix("RouteKey: ") {
            pending = Some(key.trim_matches('"').to_owned());
        } else if let (Some(key), Some(target)) = (pending.as_ref(), line.strip_prefix("Target: "))
        {
            let integration = target
                .trim_matches('"')
                .trim_start_matches("!Sub ")
                .trim_matches('"')
                .trim_start_matches("integrations/${")
                .trim_end_matches('}')
                .to_owned();
            routes.push((key.clone(), integration));
            pending = None;
        }
    }
    routes
}

fn logical_name(function: Function) -> String {
    let name = function.name();
    format!("{}{}Integration", name[..1].to_uppercase(), &name[1..])
}

#[test]
fn every_design_route_is_in_the_template() {
    let keys: BTreeSet<String> = routes().into_iter().map(|(k, _)| k).collect();
    for route in [
        "GET /.well-known/oauth-authorization-server",
        "GET /.well-known/openid-configuration",
        "GET /.well-known/oauth-protected-resource",
        "GET /.well-known/oauth-protected-resource/mcp",
        "GET /.well-known/jwks.json",
        "POST /register",
        "GET /authorize",
        "POST /authorize",
        "POST /token",
        "POST /revoke",
        "POST /mcp",
        "GET /mcp",
        "DELETE /mcp",
    ] {
        assert!(
            keys.contains(route),
            "{route} is missing from template.yaml"
        );
    }
}

#[test]
fn each_route_goes_to_the_function_that_serves_its_path() {
    let routes = routes();
    assert!(routes.len() >= 13);
    for (key, integration) in routes {
        let (method, path) = key.split_once(' ').unwrap();
        let function = if path == "/.well-known/{proxy+}" {
            Function::Discovery
        } else {
            Function::for_path(path).unwrap_or_else(|| panic!("{key} is served by no function"))
        };
        assert_eq!(integration, logical_name(function), "{key}");
        assert!(
            ["GET", "POST", "DELETE", "OPTIONS"].contains(&method),
            "{key}"
        );
    }
}

#[test]
fn every_function_binary_is_built_by_sam() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    for function in Function::ALL {
        assert!(
            template.contains(&format!("Binary: {}", function.name())),
            "{}",
            function.name()
        );
    }
    assert!(template.contains("Binary: rotate-keys"));
}
