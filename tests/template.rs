//! `template.yaml` against the code, read the way CloudFormation reads it: the HTTP API
//! has exactly the routes the local server serves (`alta_shared::routes::ROUTES`), each
//! going to the function whose handler serves it, and `sam build` builds every function.

use std::collections::BTreeSet;

use alta_local::stack::template::{FunctionSpec, Resolver, RouteSpec, Template};
use alta_shared::routes::{Function, ROUTES};

fn template() -> Template {
    Template::parse(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap(),
    )
    .unwrap()
}

#[test]
fn the_http_api_has_exactly_the_routes_the_local_server_serves() {
    let template = template();
    let resolver = Resolver::undeployed(&template).unwrap();
    let declared: BTreeSet<(String, String)> = RouteSpec::all(&template, &resolver)
        .unwrap()
        .into_iter()
        .map(|r| (r.route_key, r.function))
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.key(), r.function.logical_id()))
        .collect();
    assert_eq!(declared, served);
}

#[test]
fn every_design_route_is_in_the_template() {
    let keys: BTreeSet<String> = ROUTES.iter().map(|r| r.key()).collect();
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
        assert!(keys.contains(route), "{route} is not routed");
    }
}

#[test]
fn sam_build_makes_one_binary_per_function_from_one_package() {
    let template = template();
    let functions = FunctionSpec::all(&template).unwrap();
    let binaries: BTreeSet<String> = functions.iter().map(|f| f.binary.clone()).collect();
    let mut expected: BTreeSet<String> =
        Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    expected.insert("rotate-keys".into());
    assert_eq!(binaries, expected);
    for function in Function::ALL {
        assert!(
            functions
                .iter()
                .any(|f| f.logical_id == function.logical_id())
        );
    }
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/functions/Cargo.toml"))
            .unwrap();
    for binary in &binaries {
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "functions/ builds no {binary}"
        );
    }
    // One CodeUri: every `cargo lambda build --bin` runs in the same package.
    assert_eq!(template.function_globals()["CodeUri"], "functions/");
}
