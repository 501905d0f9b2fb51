//! `template.yaml` against the code, read the way CloudFormation reads it: the HTTP API
//! has exactly the routes the local server serves (`alta_shared::routes::ROUTES`), each
//! going to the function whose handler serves it, and `sam build` builds every function.

use std::collections::{BTreeMap, BTreeSet};

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
    let resolver = Resolver::undeployed(&template, &BTreeMap::new()).unwrap();
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

fn resource(template: &Template, id: &str) -> serde_json::Value {
    template
        .resources()
        .find(|(logical, _)| *logical == id)
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| panic!("no resource {id}"))
}

#[test]
fn the_rotation_on_creation_waits_for_its_log_group_and_only_that_secret_may_invoke_it() {
    let template = template();
    let depends = resource(&template, "SigningKeyRotation")["DependsOn"].clone();
    for needed in ["RotateKeysPermission", "RotateKeysLogGroup"] {
        assert!(
            depends.as_array().unwrap().iter().any(|d| d == needed),
            "{needed}"
        );
    }
    let permission = resource(&template, "RotateKeysPermission");
    assert_eq!(
        permission["Properties"]["SourceArn"],
        serde_json::json!({"Ref": "SigningKeySecret"})
    );
}

#[test]
fn the_authorize_function_writes_only_sign_in_throttle_items_and_creates_identity_links_in_the_directory()
 {
    let template = template();
    let resolver = Resolver::undeployed(&template, &BTreeMap::new()).unwrap();
    let policies = resolver
        .resolve(&resource(&template, "AuthorizeFunction")["Properties"]["Policies"])
        .unwrap()
        .unwrap();
    let statements: Vec<&serde_json::Value> = policies
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap())
        .filter(|s| s["Resource"] == "arn:DirectoryTable")
        .collect();
    let throttle = format!("{}*", alta_shared::store::dynamo::SIGN_IN_THROTTLE_PREFIX);
    let links = format!("{}*", alta_shared::store::dynamo::IDENTITY_LINK_PREFIX);
    for statement in statements {
        let writes = statement["Action"].as_array().unwrap().iter().any(|a| {
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ]
            .contains(&a.as_str().unwrap())
        });
        if writes {
            let fence = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let put_only = statement["Action"] == serde_json::json!(["dynamodb:PutItem"]);
            assert!(
                *fence == serde_json::json!([throttle])
                    || (put_only && *fence == serde_json::json!([links])),
                "{statement}"
            );
        }
    }
}

#[test]
fn a_custom_domain_is_the_issuer_and_the_only_url() {
    let template = template();
    let overrides = BTreeMap::from([
        ("DomainName".to_owned(), "mcp.alta.example".to_owned()),
        (
            "CertificateArn".to_owned(),
            "arn:aws:acm:eu-west-1:123456789012:certificate/abc".to_owned(),
        ),
    ]);
    for (overrides, base, disabled) in [
        (overrides, "https://mcp.alta.example", true),
        (
            BTreeMap::new(),
            "https://HttpApi.execute-api.us-east-1.amazonaws.com",
            false,
        ),
    ] {
        let resolver = Resolver::undeployed(&template, &overrides).unwrap();
        let mcp = FunctionSpec::all(&template)
            .unwrap()
            .into_iter()
            .find(|f| f.logical_id == "McpFunction")
            .unwrap();
        assert_eq!(
            mcp.resolved_environment(&resolver).unwrap()["ALTA_BASE_URL"],
            base
        );
        let outputs = template.outputs().unwrap();
        let mcp_url = resolver
            .resolve(&outputs["McpUrl"]["Value"])
            .unwrap()
            .unwrap();
        assert_eq!(mcp_url, format!("{base}/mcp"));
        let api = resolver
            .resolve(&resource(&template, "HttpApi")["Properties"])
            .unwrap()
            .unwrap();
        assert_eq!(api["DisableExecuteApiEndpoint"], disabled);
        let domain = resource(&template, "ApiDomain");
        assert_eq!(
            resolver
                .condition(domain["Condition"].as_str().unwrap())
                .unwrap(),
            disabled
        );
    }
}

#[test]
fn the_api_functions_reserve_concurrency_unless_told_not_to() {
    let template = template();
    let functions = FunctionSpec::all(&template).unwrap();
    for (reserve, expect) in [("true", true), ("false", false)] {
        let overrides = BTreeMap::from([("ReserveConcurrency".to_owned(), reserve.to_owned())]);
        let resolver = Resolver::undeployed(&template, &overrides).unwrap();
        let mut total = 0;
        for function in Function::ALL {
            let properties = resolver
                .resolve(&resource(&template, &function.logical_id())["Properties"])
                .unwrap()
                .unwrap();
            let reserved = &properties["ReservedConcurrentExecutions"];
            assert_eq!(reserved.is_number(), expect, "{}", function.name());
            total += reserved.as_u64().unwrap_or(0);
        }
        // Lambda keeps 100 unreserved in a 1,000-execution account.
        assert!(total <= 900, "{total}");
        assert_eq!(functions.len(), 7);
    }
}

#[test]
fn the_alarms_watch_every_function_table_and_the_rotation() {
    let template = template();
    let resolver = Resolver::undeployed(&template, &BTreeMap::new()).unwrap();
    let alarm = |id: &str| {
        let alarm = resolver
            .resolve(&resource(&template, id)["Properties"])
            .unwrap()
            .unwrap();
        assert_eq!(
            alarm["AlarmActions"],
            serde_json::json!(["AlarmTopic"]),
            "{id}"
        );
        alarm
    };
    // The resources an alarm's metrics name by `dimension`.
    let watched = |alarm: &serde_json::Value, dimension: &str| -> BTreeSet<String> {
        alarm["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["MetricStat"]["Metric"]["Dimensions"][0])
            .filter(|d| d["Name"] == dimension)
            .map(|d| d["Value"].as_str().unwrap().to_owned())
            .collect()
    };
    let api_functions: BTreeSet<String> = Function::ALL.iter().map(|f| f.logical_id()).collect();
    let tables: BTreeSet<String> = template
        .resources_of_type("AWS::DynamoDB::Table")
        .map(|(id, _)| id.to_owned())
        .collect();
    for (id, dimension, expected) in [
        ("FunctionErrorsAlarm", "FunctionName", &api_functions),
        ("FunctionThrottlesAlarm", "FunctionName", &api_functions),
        ("DynamoDbReadThrottlesAlarm", "TableName", &tables),
        ("DynamoDbWriteThrottlesAlarm", "TableName", &tables),
    ] {
        assert_eq!(&watched(&alarm(id), dimension), expected, "{id}");
    }
    assert_eq!(
        alarm("KeyRotationFailedAlarm")["Dimensions"][0]["Value"],
        "RotateKeysFunction"
    );
    assert_eq!(
        watched(&alarm("Api5xxRateAlarm"), "ApiId"),
        BTreeSet::from(["HttpApi".to_owned()])
    );
    // The key-age alarm reads what the functions write, where they write it.
    let age = alarm("SigningKeyAgeAlarm");
    assert_eq!(
        age["MetricName"],
        alta_shared::metrics::SIGNING_KEY_AGE_DAYS
    );
    let discovery = FunctionSpec::all(&template)
        .unwrap()
        .into_iter()
        .find(|f| f.logical_id == "DiscoveryFunction")
        .unwrap();
    assert_eq!(
        age["Namespace"],
        discovery.resolved_environment(&resolver).unwrap()["ALTA_METRICS_NAMESPACE"]
    );
}

/// The tables' keys, indexes and TTL in `template.yaml` are those the DynamoDB store code
/// reads and writes (`store::dynamo::tables::table_specs`, which also creates the tables
/// for local runs and tests): a key or an index projection changed on one side only would
/// pass every test on dynalite and fail on AWS.
#[test]
fn the_tables_keys_and_indexes_are_those_the_store_uses() {
    use alta_shared::config::TableNames;
    use alta_shared::store::dynamo::tables::{TTL_ATTRIBUTE, table_specs};
    use serde_json::Value;

    let template = template();
    let resources: BTreeMap<&str, &Value> = template.resources().collect();
    // The table names as the logical ids of their resources.
    let names = TableNames {
        clients: "ClientsTable".into(),
        authorization_codes: "AuthorizationCodesTable".into(),
        refresh_tokens: "RefreshTokensTable".into(),
        revocations: "RevocationsTable".into(),
        directory: "DirectoryTable".into(),
        alta_data: "AltaDataTable".into(),
    };
    let key_schema = |schema: &Value| -> Vec<(String, String)> {
        schema
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let specs = table_specs(&names);
    assert_eq!(specs.len(), 6);
    for spec in specs {
        let table = resources
            .get(spec.name.as_str())
            .unwrap_or_else(|| panic!("{} is not in template.yaml", spec.name));
        let properties = &table["Properties"];
        let mut expected = vec![(spec.partition_key.to_owned(), "HASH".to_owned())];
        expected.extend(spec.sort_key.map(|k| (k.to_owned(), "RANGE".to_owned())));
        assert_eq!(
            key_schema(&properties["KeySchema"]),
            expected,
            "{}",
            spec.name
        );
        let ttl = &properties["TimeToLiveSpecification"];
        assert_eq!(
            ttl["Enabled"].as_bool().unwrap_or(false),
            spec.ttl,
            "{}: TTL",
            spec.name
        );
        if spec.ttl {
            assert_eq!(ttl["AttributeName"], TTL_ATTRIBUTE, "{}", spec.name);
        }
        let declared: Vec<&Value> = properties["GlobalSecondaryIndexes"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        assert_eq!(declared.len(), spec.indexes.len(), "{}: indexes", spec.name);
        for index in &spec.indexes {
            let found = declared
                .iter()
                .find(|i| i["IndexName"] == index.name)
                .unwrap_or_else(|| panic!("{}: no index {}", spec.name, index.name));
            assert_eq!(
                key_schema(&found["KeySchema"]),
                [
                    (index.partition_key.to_owned(), "HASH".to_owned()),
                    (index.sort_key.to_owned(), "RANGE".to_owned())
                ],
                "{}",
                index.name
            );
            assert_eq!(found["Projection"]["ProjectionType"], "INCLUDE");
            let projected: BTreeSet<&str> = found["Projection"]["NonKeyAttributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(
                projected,
                index.projected.iter().copied().collect(),
                "{}: projection",
                index.name
            );
            assert!(!projected.contains("body"), "bodies stay out of the index");
        }
        // Every key attribute, and nothing else, is defined.
        let defined: BTreeSet<&str> = properties["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AttributeName"].as_str().unwrap())
            .collect();
        let mut keys: BTreeSet<&str> = [spec.partition_key].into_iter().collect();
        keys.extend(spec.sort_key);
        for index in &spec.indexes {
            keys.insert(index.partition_key);
            keys.insert(index.sort_key);
        }
        assert_eq!(defined, keys, "{}: attribute definitions", spec.name);
    }
}

/// A function's policy statements as CloudFormation would resolve them (`arn:<LogicalId>`
/// for a resource's ARN), and the environment its code is given.
fn statements(template: &Template, function: &str) -> Vec<serde_json::Value> {
    let resolver = Resolver::undeployed(template, &BTreeMap::new()).unwrap();
    let policies = resolver
        .resolve(&resource(template, function)["Properties"]["Policies"])
        .unwrap()
        .unwrap_or_default();
    policies
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn actions(statement: &serde_json::Value) -> Vec<String> {
    match &statement["Action"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
        _ => vec![],
    }
}

fn resources_of(statement: &serde_json::Value) -> Vec<String> {
    match &statement["Resource"] {
        serde_json::Value::String(r) => vec![r.clone()],
        serde_json::Value::Array(r) => r
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// The secrets a function may read or write, by logical id.
fn secrets_used(template: &Template, function: &str) -> BTreeSet<String> {
    statements(template, function)
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("secretsmanager:")))
        .flat_map(resources_of)
        // `!Ref` of a secret is its ARN; undeployed, its logical id.
        .map(|r| r.trim_start_matches("arn:").to_owned())
        .filter(|r| r.ends_with("Secret"))
        .collect()
}

fn environment_names(template: &Template, function: &str) -> BTreeSet<String> {
    let own = resource(template, function)["Properties"]["Environment"]["Variables"].clone();
    let global = template.function_globals()["Environment"]["Variables"].clone();
    [own, global]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect()
}

#[test]
fn only_the_token_function_can_read_the_private_signing_keys() {
    let template = template();
    // The authorize function also reads its identity providers' client secrets.
    let expected: [(&str, &[&str], &str); 6] = [
        (
            "DiscoveryFunction",
            &["PublicKeysSecret"],
            "ALTA_PUBLIC_KEYS_SECRET_ID",
        ),
        (
            "RevokeFunction",
            &["PublicKeysSecret"],
            "ALTA_PUBLIC_KEYS_SECRET_ID",
        ),
        (
            "AuthorizeFunction",
            &["FormKeySecret", "IdentityProviderSecret"],
            "ALTA_FORM_KEY_SECRET_ID",
        ),
        (
            "TokenFunction",
            &["SigningKeySecret"],
            "ALTA_SIGNING_KEY_SECRET_ID",
        ),
        (
            "RotateKeysFunction",
            &["PublicKeysSecret", "SigningKeySecret"],
            "ALTA_PUBLIC_KEYS_SECRET_ID",
        ),
        ("McpFunction", &[], ""),
    ];
    for (function, secrets, variable) in expected {
        let used = secrets_used(&template, function);
        let expected: BTreeSet<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(used, expected, "{function}");
        let keys: BTreeSet<String> = environment_names(&template, function)
            .into_iter()
            .filter(|v| v.ends_with("_SECRET_ID"))
            .collect();
        let identity =
            (function == "AuthorizeFunction").then_some("ALTA_IDENTITY_PROVIDER_SECRET_ID");
        let expected: BTreeSet<String> = [Some(variable), identity]
            .into_iter()
            .flatten()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(keys, expected, "{function}'s key secrets");
    }
    assert!(secrets_used(&template, "RegisterFunction").is_empty());
}

#[test]
fn writes_to_the_revocations_table_are_fenced_by_key_prefix() {
    let template = template();
    let fences: [(&str, &[&str]); 3] = [
        ("AuthorizeFunction", &["form#*", "state#*", "family#*"]),
        (
            "TokenFunction",
            &["family#*", "jti#*", "assertion#*", "idjag#*"],
        ),
        ("RevokeFunction", &["family#*", "jti#*", "assertion#*"]),
    ];
    for (function, prefixes) in fences {
        let writes: Vec<serde_json::Value> = statements(&template, function)
            .into_iter()
            .filter(|s| resources_of(s).contains(&"arn:RevocationsTable".to_owned()))
            .filter(|s| {
                actions(s).iter().any(|a| {
                    [
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ]
                    .contains(&a.as_str())
                })
            })
            .collect();
        assert!(!writes.is_empty(), "{function} writes revocations");
        for statement in writes {
            assert_eq!(
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                serde_json::json!(prefixes),
                "{function}: {statement}"
            );
        }
    }
    // The keys the code writes carry those prefixes.
    use alta_shared::records::grant::{revoked_family_key, revoked_jti_key};
    assert!(revoked_family_key("f").starts_with("family#"));
    assert!(revoked_jti_key("j").starts_with("jti#"));
}

#[test]
fn authorize_and_revoke_write_only_the_fetch_counters_of_the_clients_table() {
    let template = template();
    let prefix = format!(
        "{}*",
        alta_shared::store::AddressCounter::DocumentFetches.key_prefix()
    );
    for function in ["AuthorizeFunction", "RevokeFunction"] {
        let writes: Vec<serde_json::Value> = statements(&template, function)
            .into_iter()
            .filter(|s| resources_of(s).contains(&"arn:ClientsTable".to_owned()))
            .filter(|s| actions(s).iter().any(|a| a != "dynamodb:GetItem"))
            .collect();
        assert_eq!(writes.len(), 1, "{function}");
        assert_eq!(
            writes[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            serde_json::json!([prefix]),
            "{function}"
        );
    }
}

/// A refresh reads its account (does it still accept how the person signed in?) and an
/// identity assertion finds and links its person: the token function reads the directory
/// and may only create identity links in it.
#[test]
fn the_token_function_reads_the_directory_and_only_creates_identity_links_there() {
    let template = template();
    let directory: Vec<serde_json::Value> = statements(&template, "TokenFunction")
        .into_iter()
        .filter(|s| resources_of(s).contains(&"arn:DirectoryTable".to_owned()))
        .collect();
    let reads = directory.iter().any(|s| {
        let actions = actions(s);
        actions.contains(&"dynamodb:GetItem".to_owned())
            && actions.contains(&"dynamodb:Query".to_owned())
            && s.get("Condition").is_none()
    });
    assert!(reads, "{directory:?}");
    let links = format!("{}*", alta_shared::store::dynamo::IDENTITY_LINK_PREFIX);
    for statement in directory {
        let writes = actions(&statement).iter().any(|a| {
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ]
            .contains(&a.as_str())
        });
        if writes {
            assert_eq!(actions(&statement), ["dynamodb:PutItem"], "{statement}");
            assert_eq!(
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                serde_json::json!([links]),
                "{statement}"
            );
        }
    }
}

/// The metrics an alarm or a dashboard widget names in the stack's own namespace, as
/// (metric name, dimension names).
type NamedMetric = (String, BTreeSet<String>);

/// `SEARCH('{Namespace,DimA,DimB} MetricName="X"', …)` → (namespace, X, {DimA, DimB}).
fn search_expression(expression: &str) -> (String, String, BTreeSet<String>) {
    let schema = expression
        .split_once("SEARCH('{")
        .and_then(|(_, rest)| rest.split_once('}'))
        .unwrap_or_else(|| panic!("not a SEARCH over a schema: {expression}"));
    let mut parts = schema.0.split(',').map(str::trim);
    // A namespace with other than letters and digits is quoted.
    let namespace = parts.next().unwrap().trim_matches('"').to_owned();
    let dimensions = parts.map(str::to_owned).collect();
    let name = schema
        .1
        .split_once("MetricName=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .unwrap_or_else(|| panic!("a SEARCH with no MetricName: {expression}"))
        .0
        .to_owned();
    (namespace, name, dimensions)
}

/// The stack's metric namespace, as the functions are given it.
fn metrics_namespace(template: &Template, resolver: &Resolver) -> String {
    FunctionSpec::all(template)
        .unwrap()
        .into_iter()
        .find(|f| f.logical_id == "DiscoveryFunction")
        .unwrap()
        .resolved_environment(resolver)
        .unwrap()["ALTA_METRICS_NAMESPACE"]
        .clone()
}

/// Whether the code publishes `name` with exactly these dimensions
/// (`alta_shared::metrics::Measurement::catalog`, read from the code).
fn emitted(name: &str, dimensions: &BTreeSet<String>) -> bool {
    alta_shared::metrics::Measurement::catalog()
        .iter()
        .any(|spec| {
            spec.name == name
                && spec.dimension_sets.iter().any(|set| {
                    set.iter().map(|d| (*d).to_owned()).collect::<BTreeSet<_>>() == *dimensions
                })
        })
}

#[test]
fn every_metric_the_alarms_and_the_dashboard_name_in_the_stacks_namespace_is_one_the_code_emits() {
    let template = template();
    let resolver = Resolver::undeployed(&template, &BTreeMap::new()).unwrap();
    let namespace = metrics_namespace(&template, &resolver);
    let mut named: Vec<(String, NamedMetric)> = Vec::new();

    // The alarms: a metric of their own, or metric queries.
    for (id, _) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        let alarm = resolver
            .resolve(&resource(&template, id)["Properties"])
            .unwrap()
            .unwrap();
        let metrics = std::iter::once(&alarm).chain(
            alarm["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| &m["MetricStat"]["Metric"]),
        );
        for metric in metrics {
            if metric["Namespace"] == namespace.as_str() {
                let dimensions = metric["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| d["Name"].as_str().unwrap().to_owned())
                    .collect();
                named.push((
                    id.to_owned(),
                    (
                        metric["MetricName"].as_str().unwrap().to_owned(),
                        dimensions,
                    ),
                ));
            }
        }
    }

    // The dashboard: plain metrics and SEARCH expressions.
    for (title, widget_metrics) in dashboard_metrics(&template, &resolver) {
        for metric in widget_metrics {
            match metric {
                DashboardMetric::Search(expression) => {
                    let (ns, name, dimensions) = search_expression(&expression);
                    assert_eq!(ns, namespace, "{title}: {expression}");
                    named.push((title.clone(), (name, dimensions)));
                }
                DashboardMetric::Plain {
                    namespace: ns,
                    name,
                    dimensions,
                } if ns == namespace => {
                    named.push((title.clone(), (name, dimensions.into_keys().collect())));
                }
                DashboardMetric::Plain { .. } => {}
            }
        }
    }
    assert!(named.iter().any(|(id, _)| id == "SigningKeyAgeAlarm"));
    for (by, (name, dimensions)) in &named {
        assert!(
            emitted(name, dimensions),
            "{by} names {name} {dimensions:?} in {namespace}, which the code does not publish \
             (alta_shared::metrics::Measurement::catalog)"
        );
    }
    // And the dashboard shows every metric the code publishes.
    for spec in alta_shared::metrics::Measurement::catalog() {
        assert!(
            named
                .iter()
                .any(|(by, (name, _))| by != "SigningKeyAgeAlarm" && name == spec.name),
            "the dashboard does not show {}",
            spec.name
        );
    }
}

#[derive(Debug)]
enum DashboardMetric {
    Search(String),
    Plain {
        namespace: String,
        name: String,
        dimensions: BTreeMap<String, String>,
    },
}

/// Each metric widget's title and metrics, from the dashboard body as CloudFormation
/// substitutes it.
fn dashboard_metrics(
    template: &Template,
    resolver: &Resolver,
) -> Vec<(String, Vec<DashboardMetric>)> {
    let body = dashboard_body(template, resolver);
    body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .map(|widget| {
            let title = widget["properties"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let metrics = widget["properties"]["metrics"]
                .as_array()
                .unwrap_or_else(|| panic!("{title}: no metrics"))
                .iter()
                .map(|row| {
                    let row = row.as_array().unwrap();
                    if let Some(expression) = row[0].get("expression") {
                        return DashboardMetric::Search(expression.as_str().unwrap().to_owned());
                    }
                    let strings: Vec<String> = row
                        .iter()
                        .take_while(|v| v.is_string())
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    assert!(
                        strings.len() >= 2
                            && strings.len().is_multiple_of(2)
                            && !strings.contains(&".".to_owned()),
                        "{title}: write each metric in full: {row:?}"
                    );
                    DashboardMetric::Plain {
                        namespace: strings[0].clone(),
                        name: strings[1].clone(),
                        dimensions: strings[2..]
                            .chunks(2)
                            .map(|pair| (pair[0].clone(), pair[1].clone()))
                            .collect(),
                    }
                })
                .collect();
            (title, metrics)
        })
        .collect()
}

fn dashboard_body(template: &Template, resolver: &Resolver) -> serde_json::Value {
    let body = resolver
        .resolve(&resource(template, "Dashboard")["Properties"]["DashboardBody"])
        .unwrap()
        .unwrap();
    serde_json::from_str(body.as_str().unwrap())
        .expect("the dashboard body is JSON once substituted")
}

#[test]
fn the_dashboard_shows_the_api_every_function_every_table_and_every_alarm() {
    let template = template();
    let resolver = Resolver::undeployed(&template, &BTreeMap::new()).unwrap();
    // Which resources each AWS metric is shown for: (namespace, metric) → dimension values.
    let mut shown: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (_, metrics) in dashboard_metrics(&template, &resolver) {
        for metric in metrics {
            if let DashboardMetric::Plain {
                namespace,
                name,
                dimensions,
            } = metric
            {
                shown
                    .entry((namespace, name))
                    .or_default()
                    .extend(dimensions.into_values());
            }
        }
    }
    let of_type = |kind: &str| -> BTreeSet<String> {
        template
            .resources_of_type(kind)
            .map(|(id, _)| id.to_owned())
            .collect()
    };
    let functions = of_type("AWS::Serverless::Function");
    let tables = of_type("AWS::DynamoDB::Table");
    let api = BTreeSet::from(["HttpApi".to_owned()]);
    let expected = [
        ("AWS/ApiGateway", "Count", &api),
        ("AWS/ApiGateway", "4xx", &api),
        ("AWS/ApiGateway", "5xx", &api),
        ("AWS/ApiGateway", "Latency", &api),
        ("AWS/Lambda", "Errors", &functions),
        ("AWS/Lambda", "Throttles", &functions),
        ("AWS/Lambda", "Duration", &functions),
        ("AWS/Lambda", "ConcurrentExecutions", &functions),
        ("AWS/DynamoDB", "ConsumedReadCapacityUnits", &tables),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", &tables),
        ("AWS/DynamoDB", "ReadThrottleEvents", &tables),
        ("AWS/DynamoDB", "WriteThrottleEvents", &tables),
    ];
    for (namespace, name, resources) in expected {
        assert_eq!(
            shown.get(&(namespace.to_owned(), name.to_owned())),
            Some(resources),
            "{namespace} {name}"
        );
    }
    // Every alarm's state, by its ARN.
    let body = dashboard_body(&template, &resolver);
    let alarms: BTreeSet<String> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().clone())
        .map(|arn| arn.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|id| resolver.arn(&id).unwrap().to_owned())
        .collect();
    assert_eq!(alarms, expected);
    // The stack's outputs link to it.
    let url = resolver
        .resolve(&template.outputs().unwrap()["DashboardUrl"]["Value"])
        .unwrap()
        .unwrap();
    assert!(
        url.as_str()
            .unwrap()
            .ends_with("#dashboards:name=Dashboard"),
        "{url}"
    );
}
