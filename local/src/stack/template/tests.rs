use super::*;

const TEMPLATE: &str = r#"
Parameters:
  BaseUrl: {Type: String, Default: ""}
  Level: {Type: String, Default: info, AllowedValues: [info, debug]}
  Arns: {Type: CommaDelimitedList, Default: ""}
Conditions:
  HasBaseUrl: !Not [!Equals [!Ref BaseUrl, ""]]
  HasArns: !Not [!Equals [!Join ["", !Ref Arns], ""]]
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        BASE: !If [HasBaseUrl, !Ref BaseUrl, !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"]
        TABLE: !Ref Table
        LEVEL: !Ref Level
        GONE: !If [HasArns, "yes", !Ref AWS::NoValue]
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api}
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: fn}}
    Properties: {MemorySize: 256}
  FnIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn, PayloadFormatVersion: "2.0"}
  FnRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {RouteKey: "POST /fn", Target: !Sub "integrations/${FnIntegration}"}
"#;

fn resolver(template: &Template, overrides: &[(&str, &str)]) -> Resolver {
    let overrides = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut resolver = Resolver::new(
        template,
        template.parameters(&overrides).unwrap(),
        "stack",
        "eu-west-1",
        "123456789012",
    );
    resolver.set_physical_id("Api", "abc123defg");
    resolver.set_physical_id("Table", "stack-Table-XYZ");
    resolver.set_physical_id("FnIntegration", "int1234");
    resolver.set_arn(
        "Fn",
        "arn:aws:lambda:eu-west-1:123456789012:function:stack-Fn-1",
    );
    resolver
}

#[test]
fn globals_and_intrinsics_give_the_environment_cloudformation_would() {
    let template = Template::parse(TEMPLATE).unwrap();
    let functions = FunctionSpec::all(&template).unwrap();
    assert_eq!(functions.len(), 1);
    let function = &functions[0];
    assert_eq!((function.memory_mb, function.timeout.as_secs()), (256, 10));
    let env = function
        .resolved_environment(&resolver(&template, &[]))
        .unwrap();
    assert_eq!(
        env["BASE"],
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com"
    );
    assert_eq!(env["TABLE"], "stack-Table-XYZ");
    assert_eq!(env["LEVEL"], "info");
    assert!(!env.contains_key("GONE"), "AWS::NoValue drops the variable");

    let env = function
        .resolved_environment(&resolver(
            &template,
            &[
                ("BaseUrl", "http://127.0.0.1:9"),
                ("Arns", "a,b"),
                ("Level", "debug"),
            ],
        ))
        .unwrap();
    assert_eq!(env["BASE"], "http://127.0.0.1:9");
    assert_eq!(env["GONE"], "yes");
    assert_eq!(env["LEVEL"], "debug");
}

#[test]
fn parameters_outside_their_allowed_values_or_unknown_are_refused() {
    let template = Template::parse(TEMPLATE).unwrap();
    let one = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
    assert!(template.parameters(&one("Level", "trace")).is_err());
    assert!(template.parameters(&one("Nope", "x")).is_err());
}

#[test]
fn a_route_leads_through_its_integration_to_its_function() {
    let template = Template::parse(TEMPLATE).unwrap();
    let routes = RouteSpec::all(&template, &resolver(&template, &[])).unwrap();
    assert_eq!(
        routes,
        [RouteSpec {
            route_key: "POST /fn".into(),
            function: "Fn".into()
        }]
    );
}

#[test]
fn a_resource_or_output_under_a_false_condition_is_not_created() {
    let template = Template::parse(TEMPLATE).unwrap();
    let conditional =
        serde_json::json!({"Condition": "HasBaseUrl", "Value": {"Fn::GetAtt": ["Nope", "Arn"]}});
    assert!(!resolver(&template, &[]).creates(&conditional).unwrap());
    assert!(
        resolver(&template, &[("BaseUrl", "https://x.example")])
            .creates(&conditional)
            .unwrap()
    );
    assert!(
        resolver(&template, &[])
            .creates(&serde_json::json!({}))
            .unwrap()
    );
}

#[test]
fn sub_keeps_escaped_placeholders_and_refuses_unknown_names() {
    let template = Template::parse(TEMPLATE).unwrap();
    let resolver = resolver(&template, &[]);
    let sub = |s: &str| resolver.resolve(&serde_json::json!({"Fn::Sub": s}));
    assert_eq!(
        sub("${!Literal}-${Table}").unwrap().unwrap(),
        "${Literal}-stack-Table-XYZ"
    );
    assert!(sub("${Missing}").is_err());
}
