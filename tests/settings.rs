//! One declaration per setting (`alta_shared::config::SETTINGS`), held equal to what
//! template.yaml gives the functions and to docs/configuration.md, both ways.

use std::collections::{BTreeMap, BTreeSet};

use alta_local::stack::template::Template;
use alta_shared::config::SETTINGS;
use serde_json::Value;

fn template() -> Template {
    Template::parse(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap(),
    )
    .unwrap()
}

/// Every function's environment (the globals included): variable → value as written.
fn environments(template: &Template) -> BTreeMap<String, Vec<Value>> {
    let mut env: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let globals = template.function_globals()["Environment"]["Variables"].clone();
    let functions = template
        .resources_of_type("AWS::Serverless::Function")
        .map(|(_, f)| f["Properties"]["Environment"]["Variables"].clone());
    for variables in std::iter::once(globals).chain(functions) {
        for (name, value) in variables.as_object().into_iter().flatten() {
            env.entry(name.clone()).or_default().push(value.clone());
        }
    }
    env
}

fn declared() -> BTreeSet<String> {
    SETTINGS.iter().map(|s| s.name.to_owned()).collect()
}

#[test]
fn every_variable_the_template_sets_is_a_declared_setting() {
    let template = template();
    for name in environments(&template).keys() {
        assert!(
            declared().contains(name),
            "template.yaml sets {name}, which config::SETTINGS does not declare"
        );
    }
}

#[test]
fn a_setting_and_its_template_parameter_name_each_other_with_the_same_bounds() {
    let template = template();
    let env = environments(&template);
    for setting in SETTINGS {
        let refs_parameter = |p: &str| {
            env.get(setting.name)
                .is_some_and(|values| values.iter().any(|v| v == &serde_json::json!({"Ref": p})))
        };
        match setting.parameter {
            Some(parameter) => {
                let spec = template.parameter(parameter);
                assert!(
                    spec.is_object(),
                    "{}: no parameter {parameter}",
                    setting.name
                );
                assert!(
                    refs_parameter(parameter),
                    "{} is not set from {parameter}",
                    setting.name
                );
                if setting.bounds.is_some() {
                    let default = match &spec["Default"] {
                        Value::Number(n) => n.to_string(),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    };
                    assert_eq!(
                        default, setting.default,
                        "{}: the parameter's default",
                        setting.name
                    );
                }
                if let Some((min, max)) = setting.bounds {
                    assert_eq!(
                        spec["MinValue"].as_u64(),
                        Some(min),
                        "{} MinValue",
                        setting.name
                    );
                    assert_eq!(
                        spec["MaxValue"].as_u64(),
                        Some(max),
                        "{} MaxValue",
                        setting.name
                    );
                }
            }
            None => {
                for value in env.get(setting.name).into_iter().flatten() {
                    {
                        let is_parameter = value["Ref"]
                            .as_str()
                            .is_some_and(|r| template.parameter(r).is_object());
                        assert!(
                            !is_parameter,
                            "{} is set from a parameter it does not declare",
                            setting.name
                        );
                    }
                }
            }
        }
    }
}

/// Every backticked `ALTA_…` name in the first column of docs/configuration.md's tables.
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    doc.lines()
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| line.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.starts_with("ALTA_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_configuration_doc_lists_exactly_the_declared_settings() {
    assert_eq!(documented(), declared());
}
