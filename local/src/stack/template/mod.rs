//! `template.yaml` read the way CloudFormation deploys it: parameters and conditions,
//! the intrinsic functions the template uses, and the resources an emulated stack is made
//! of (functions, HTTP API routes and integrations, tables, secrets, rotation schedules).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(String),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// The template with every short-form intrinsic (`!Ref X`) in its long form
/// (`{"Ref": "X"}`), as JSON.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

impl Template {
    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(yaml).map_err(|e| TemplateError::Yaml(e.to_string()))?;
        Ok(Self {
            root: long_form(value),
        })
    }

    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(id, resource)| (id.as_str(), resource))
    }

    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources()
            .filter(move |(_, resource)| resource["Type"] == kind)
    }

    /// Each parameter's value: its default, or the override given for it.
    pub fn parameters(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<HashMap<String, Value>, TemplateError> {
        let mut values = HashMap::new();
        for (name, spec) in self.root["Parameters"].as_object().into_iter().flatten() {
            let raw = match (overrides.get(name), &spec["Default"]) {
                (Some(value), _) => value.clone(),
                (None, Value::Null) => {
                    return Err(invalid(format!("parameter {name} has no value")));
                }
                (None, default) => scalar_string(default)
                    .ok_or_else(|| invalid(format!("parameter {name}: default is not a scalar")))?,
            };
            if let Some(allowed) = spec["AllowedValues"].as_array()
                && !allowed
                    .iter()
                    .any(|a| scalar_string(a).as_deref() == Some(&raw))
            {
                return Err(invalid(format!("parameter {name}: `{raw}` is not allowed")));
            }
            let value = if spec["Type"] == "CommaDelimitedList" {
                Value::Array(
                    raw.split(',')
                        .map(|s| Value::String(s.trim().to_owned()))
                        .collect(),
                )
            } else {
                Value::String(raw)
            };
            values.insert(name.clone(), value);
        }
        for name in overrides.keys() {
            if !values.contains_key(name) {
                return Err(invalid(format!("no parameter named {name}")));
            }
        }
        Ok(values)
    }

    pub fn conditions(&self) -> Map<String, Value> {
        self.root["Conditions"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    pub fn outputs(&self) -> Option<&Map<String, Value>> {
        self.root["Outputs"].as_object()
    }

    /// A parameter's declaration (`Type`, `Default`, `MinValue`, …), or `null`.
    pub fn parameter(&self, name: &str) -> &Value {
        &self.root["Parameters"][name]
    }

    /// `Globals.Function`: what every `AWS::Serverless::Function` inherits.
    pub fn function_globals(&self) -> &Value {
        &self.root["Globals"]["Function"]
    }
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// YAML → JSON, turning `!Tag value` into `{"Fn::Tag": value}` (`!Ref` into `Ref`, and
/// `!GetAtt A.B` into `["A", "B"]`).
fn long_form(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match long_form(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = long_form(tagged.value);
            let (key, inner) = match (name, inner) {
                ("Ref", inner) => ("Ref".to_owned(), inner),
                ("Condition", inner) => ("Condition".to_owned(), inner),
                ("GetAtt", Value::String(path)) => {
                    let parts = match path.split_once('.') {
                        Some((resource, attribute)) => vec![resource, attribute],
                        None => vec![path.as_str()],
                    };
                    (
                        "Fn::GetAtt".to_owned(),
                        Value::Array(parts.into_iter().map(Value::from).collect()),
                    )
                }
                (other, inner) => (format!("Fn::{other}"), inner),
            };
            Value::Object(Map::from_iter([(key, inner)]))
        }
    }
}

/// What CloudFormation knows while it creates a stack: parameter values, conditions, and
/// each resource's physical id (`Ref`) and ARN (`Fn::GetAtt X.Arn`).
#[derive(Debug, Clone)]
pub struct Resolver {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    parameters: HashMap<String, Value>,
    conditions: Map<String, Value>,
    refs: HashMap<String, String>,
    arns: HashMap<String, String>,
}

impl Resolver {
    pub fn new(
        template: &Template,
        parameters: HashMap<String, Value>,
        stack_name: &str,
        region: &str,
        account_id: &str,
    ) -> Self {
        Self {
            stack_name: stack_name.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            parameters,
            conditions: template.conditions(),
            refs: HashMap::new(),
            arns: HashMap::new(),
        }
    }

    /// For reading a template without deploying it: parameters at their defaults but for
    /// `overrides`, each resource's physical id its logical id, each ARN `arn:<logical id>`.
    pub fn undeployed(
        template: &Template,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let mut resolver = Self::new(
            template,
            template.parameters(overrides)?,
            "stack",
            "us-east-1",
            "123456789012",
        );
        for (id, _) in template.resources() {
            resolver.set_physical_id(id, id);
            resolver.set_arn(id, format!("arn:{id}"));
        }
        Ok(resolver)
    }

    pub fn set_physical_id(&mut self, logical_id: &str, physical_id: impl Into<String>) {
        self.refs.insert(logical_id.to_owned(), physical_id.into());
    }

    pub fn set_arn(&mut self, logical_id: &str, arn: impl Into<String>) {
        self.arns.insert(logical_id.to_owned(), arn.into());
    }

    pub fn physical_id(&self, logical_id: &str) -> Option<&str> {
        self.refs.get(logical_id).map(String::as_str)
    }

    pub fn arn(&self, logical_id: &str) -> Option<&str> {
        self.arns.get(logical_id).map(String::as_str)
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account_id.clone(),
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ => return None,
        })
    }

    fn reference(&self, name: &str) -> Result<Option<Value>, TemplateError> {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        if let Some(value) = self.pseudo(name).or_else(|| self.refs.get(name).cloned()) {
            return Ok(Some(Value::String(value)));
        }
        Err(invalid(format!(
            "Ref {name}: no such parameter or resource"
        )))
    }

    /// Whether CloudFormation creates `resource` (or an output): its `Condition`, if any.
    pub fn creates(&self, resource: &Value) -> Result<bool, TemplateError> {
        match resource["Condition"].as_str() {
            Some(name) => self.condition(name),
            None => Ok(true),
        }
    }

    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let expression = self
            .conditions
            .get(name)
            .ok_or_else(|| invalid(format!("no condition named {name}")))?;
        self.boolean(expression)
    }

    fn boolean(&self, value: &Value) -> Result<bool, TemplateError> {
        match self.resolve(value)? {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            other => Err(invalid(format!("{other:?} is not a condition"))),
        }
    }

    /// The value after every intrinsic function is applied; `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, TemplateError> {
        let Value::Object(map) = value else {
            return match value {
                Value::Array(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        out.extend(self.resolve(item)?);
                    }
                    Ok(Some(Value::Array(out)))
                }
                other => Ok(Some(other.clone())),
            };
        };
        if map.len() == 1 {
            let (key, arg) = map.iter().next().expect("one entry");
            if let Some(result) = self.intrinsic(key, arg)? {
                return Ok(result);
            }
        }
        let mut out = Map::new();
        for (key, item) in map {
            if let Some(resolved) = self.resolve(item)? {
                out.insert(key.clone(), resolved);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    /// `Some(result)` when `key` names an intrinsic function, `None` for a plain key.
    #[allow(clippy::type_complexity)]
    fn intrinsic(&self, key: &str, arg: &Value) -> Result<Option<Option<Value>>, TemplateError> {
        let args = |n: usize| -> Result<&Vec<Value>, TemplateError> {
            arg.as_array()
                .filter(|a| a.len() == n)
                .ok_or_else(|| invalid(format!("{key} takes {n} arguments")))
        };
        let text = |v: &Value| -> Result<String, TemplateError> {
            self.resolve(v)?
                .as_ref()
                .and_then(scalar_string)
                .ok_or_else(|| invalid(format!("{key}: {v} is not a string")))
        };
        let result = match key {
            "Ref" => self.reference(arg.as_str().ok_or_else(|| invalid("Ref takes a name"))?)?,
            "Condition" => Some(Value::Bool(
                self.condition(
                    arg.as_str()
                        .ok_or_else(|| invalid("Condition takes a name"))?,
                )?,
            )),
            "Fn::If" => {
                let a = args(3)?;
                let name = a[0]
                    .as_str()
                    .ok_or_else(|| invalid("Fn::If takes a condition name"))?;
                let chosen = if self.condition(name)? { &a[1] } else { &a[2] };
                self.resolve(chosen)?
            }
            "Fn::Equals" => {
                let a = args(2)?;
                Some(Value::Bool(self.resolve(&a[0])? == self.resolve(&a[1])?))
            }
            "Fn::Not" => Some(Value::Bool(!self.boolean(&args(1)?[0])?)),
            "Fn::And" | "Fn::Or" => {
                let items = arg
                    .as_array()
                    .ok_or_else(|| invalid(format!("{key} takes a list")))?;
                let values = items
                    .iter()
                    .map(|c| self.boolean(c))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Value::Bool(if key == "Fn::And" {
                    values.iter().all(|b| *b)
                } else {
                    values.iter().any(|b| *b)
                }))
            }
            "Fn::Join" => {
                let a = args(2)?;
                let separator = text(&a[0])?;
                let items = match self.resolve(&a[1])? {
                    Some(Value::Array(items)) => items,
                    other => return Err(invalid(format!("Fn::Join: {other:?} is not a list"))),
                };
                let parts = items
                    .iter()
                    .map(|v| scalar_string(v).ok_or_else(|| invalid("Fn::Join of a non-string")))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Value::String(parts.join(&separator)))
            }
            "Fn::Sub" => {
                let (pattern, variables) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(a) if a.len() == 2 => {
                        let pattern = a[0]
                            .as_str()
                            .ok_or_else(|| invalid("Fn::Sub takes a string"))?
                            .to_owned();
                        let mut variables = Map::new();
                        for (name, v) in a[1].as_object().into_iter().flatten() {
                            variables.insert(name.clone(), Value::String(text(v)?));
                        }
                        (pattern, variables)
                    }
                    _ => return Err(invalid("Fn::Sub takes a string or [string, map]")),
                };
                Some(Value::String(self.substitute(&pattern, &variables)?))
            }
            "Fn::GetAtt" => {
                let a = args(2)?;
                let (resource, attribute) = (
                    a[0].as_str().unwrap_or_default(),
                    a[1].as_str().unwrap_or_default(),
                );
                Some(Value::String(self.attribute(resource, attribute)?))
            }
            other if other.starts_with("Fn::") => {
                return Err(invalid(format!("{other} is not supported by the emulator")));
            }
            _ => return Ok(None),
        };
        Ok(Some(result))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, TemplateError> {
        match attribute {
            "Arn" => self.arns.get(resource).cloned(),
            _ => None,
        }
        .ok_or_else(|| invalid(format!("Fn::GetAtt {resource}.{attribute} is not known")))
    }

    fn substitute(
        &self,
        pattern: &str,
        variables: &Map<String, Value>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid(format!("Fn::Sub: unclosed ${{ in `{pattern}`")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(value.as_str().unwrap_or_default());
            } else if let Some((resource, attribute)) = name.split_once('.')
                && !name.starts_with("AWS::")
            {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                let value = self
                    .reference(name)?
                    .as_ref()
                    .and_then(scalar_string)
                    .ok_or_else(|| invalid(format!("Fn::Sub: ${{{name}}} is not a string")))?;
                out.push_str(&value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// One `AWS::Serverless::Function` with `Globals.Function` applied.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the bootstrap `sam build` makes.
    pub binary: String,
    pub memory_mb: u64,
    pub timeout: Duration,
    /// Unresolved `Environment.Variables` (intrinsics still in place).
    pub environment: Map<String, Value>,
}

impl FunctionSpec {
    pub fn all(template: &Template) -> Result<Vec<Self>, TemplateError> {
        let globals = template.function_globals();
        let mut functions = Vec::new();
        for (id, resource) in template.resources_of_type("AWS::Serverless::Function") {
            let properties = &resource["Properties"];
            let property = |name: &str| {
                Some(&properties[name])
                    .filter(|v| !v.is_null())
                    .or(Some(&globals[name]).filter(|v| !v.is_null()))
            };
            if resource["Metadata"]["BuildMethod"] != "rust-cargolambda" {
                return Err(invalid(format!(
                    "{id}: BuildMethod is not rust-cargolambda"
                )));
            }
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .ok_or_else(|| invalid(format!("{id}: no Metadata.BuildProperties.Binary")))?;
            let mut environment = globals["Environment"]["Variables"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            environment.extend(
                properties["Environment"]["Variables"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            );
            functions.push(Self {
                logical_id: id.to_owned(),
                binary: binary.to_owned(),
                // CloudFormation's defaults: 128 MB, 3 s.
                memory_mb: property("MemorySize")
                    .and_then(Value::as_u64)
                    .unwrap_or(128),
                timeout: Duration::from_secs(
                    property("Timeout").and_then(Value::as_u64).unwrap_or(3),
                ),
                environment,
            });
        }
        Ok(functions)
    }

    /// Environment variables as the function sees them (a variable that resolves to
    /// `AWS::NoValue` is left out).
    pub fn resolved_environment(
        &self,
        resolver: &Resolver,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let mut out = BTreeMap::new();
        for (name, value) in &self.environment {
            if let Some(resolved) = resolver.resolve(value)? {
                let text = scalar_string(&resolved).ok_or_else(|| {
                    invalid(format!("{}: {name} is not a string", self.logical_id))
                })?;
                out.insert(name.clone(), text);
            }
        }
        Ok(out)
    }
}

/// One HTTP API route: its key (`POST /token`, `$default`) and the function its
/// integration invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub route_key: String,
    pub function: String,
}

impl RouteSpec {
    /// Every `AWS::ApiGatewayV2::Route`, its `Target` followed to an `AWS_PROXY`
    /// integration with payload format 2.0, and that integration's `IntegrationUri` to the
    /// function whose ARN it names.
    pub fn all(template: &Template, resolver: &Resolver) -> Result<Vec<Self>, TemplateError> {
        let functions_by_arn: HashMap<&str, &str> = template
            .resources_of_type("AWS::Serverless::Function")
            .filter_map(|(id, _)| resolver.arn(id).map(|arn| (arn, id)))
            .collect();
        let mut routes = Vec::new();
        for (id, resource) in template.resources_of_type("AWS::ApiGatewayV2::Route") {
            if !resolver.creates(resource)? {
                continue;
            }
            let properties = &resource["Properties"];
            let key = resolver
                .resolve(&properties["RouteKey"])?
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| invalid(format!("{id}: no RouteKey")))?;
            let target = resolver
                .resolve(&properties["Target"])?
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| invalid(format!("{id}: no Target")))?;
            let integration_id = target
                .strip_prefix("integrations/")
                .ok_or_else(|| invalid(format!("{id}: Target `{target}` is not an integration")))?;
            let (integration_logical_id, integration) = template
                .resources_of_type("AWS::ApiGatewayV2::Integration")
                .find(|(logical, _)| resolver.physical_id(logical) == Some(integration_id))
                .ok_or_else(|| invalid(format!("{id}: no integration {integration_id}")))?;
            let integration = &integration["Properties"];
            if integration["IntegrationType"] != "AWS_PROXY"
                || integration["PayloadFormatVersion"] != "2.0"
            {
                return Err(invalid(format!(
                    "{integration_logical_id}: only AWS_PROXY integrations with payload format 2.0 are emulated"
                )));
            }
            let uri = resolver
                .resolve(&integration["IntegrationUri"])?
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let function = functions_by_arn.get(uri.as_str()).ok_or_else(|| {
                invalid(format!(
                    "{integration_logical_id}: `{uri}` is no function of this template"
                ))
            })?;
            routes.push(Self {
                route_key: key,
                function: (*function).to_owned(),
            });
        }
        Ok(routes)
    }
}

/// A secret's rotation: which function rotates it, and whether at once.
#[derive(Debug, Clone)]
pub struct RotationSpec {
    pub secret: String,
    pub function: String,
    pub schedule: Option<String>,
    pub rotate_immediately: bool,
}

impl RotationSpec {
    pub fn all(template: &Template, resolver: &Resolver) -> Result<Vec<Self>, TemplateError> {
        let mut out = Vec::new();
        for (id, resource) in template.resources_of_type("AWS::SecretsManager::RotationSchedule") {
            if !resolver.creates(resource)? {
                continue;
            }
            let properties = resolver
                .resolve(&resource["Properties"])?
                .unwrap_or_default();
            let string = |name: &str| {
                properties[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{id}: no {name}")))
            };
            let secret_arn = string("SecretId")?;
            let function_arn = string("RotationLambdaARN")?;
            let logical_of = |value: &str, kind: &str| {
                template
                    .resources_of_type(kind)
                    .map(|(logical, _)| logical)
                    .find(|logical| {
                        resolver.arn(logical) == Some(value)
                            || resolver.physical_id(logical) == Some(value)
                    })
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        invalid(format!("{id}: `{value}` is no {kind} of this template"))
                    })
            };
            out.push(Self {
                secret: logical_of(&secret_arn, "AWS::SecretsManager::Secret")?,
                function: logical_of(&function_arn, "AWS::Serverless::Function")?,
                schedule: properties["RotationRules"]["ScheduleExpression"]
                    .as_str()
                    .map(str::to_owned),
                rotate_immediately: properties["RotateImmediatelyOnUpdate"]
                    .as_bool()
                    .unwrap_or(true),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
