//! The deployed shape on one machine: `template.yaml` "deployed" the way CloudFormation
//! would (tables on a DynamoDB implementation, secrets on Secrets Manager, each function's
//! environment resolved from the template, the key secret rotated on creation), the real
//! function binaries behind a Lambda Runtime API emulator, an API Gateway HTTP API front
//! door, and a Lambda Invoke API (`sam local invoke` / `aws lambda invoke` style).

pub mod gateway;
pub mod runtime;
pub mod template;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use alta_shared::random;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_secretsmanager::types::RotationRulesType;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use thiserror::Error;
use tokio::net::TcpListener;

use gateway::{Gateway, Route};
use runtime::{Function, FunctionConfig, Outcome};
use template::{FunctionSpec, Resolver, RotationSpec, RouteSpec, Template, TemplateError};

#[derive(Debug, Error)]
pub enum StackError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Deploy(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn deploy_error(what: &str, err: impl std::fmt::Display) -> StackError {
    StackError::Deploy(format!("{what}: {err}"))
}

/// Where and how to run a stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub template: PathBuf,
    /// The directory holding one host binary per function (`Metadata.BuildProperties.Binary`).
    pub functions_dir: PathBuf,
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    /// Template parameter overrides; `PublicBaseUrl` defaults to the front door's URL.
    pub parameters: BTreeMap<String, String>,
    pub dynamodb_endpoint: String,
    pub secretsmanager_endpoint: String,
    pub log_dir: Option<PathBuf>,
    pub max_containers: usize,
}

/// A running stack.
pub struct Stack {
    pub base_url: String,
    pub invoke_url: String,
    pub outputs: BTreeMap<String, String>,
    pub tables: BTreeMap<String, String>,
    pub functions: BTreeMap<String, Arc<Function>>,
    pub region: String,
    /// The emulated services the stack runs on.
    pub dynamodb_endpoint: String,
    pub secretsmanager_endpoint: String,
    gateway: Arc<Gateway>,
}

/// Physical names as CloudFormation makes them: `<stack>-<LogicalId>-<SUFFIX>`.
fn physical_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}-{}", random_id(12).to_uppercase())
}

fn random_id(len: usize) -> String {
    random::token(len * 2)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(len)
        .collect()
}

impl Stack {
    /// Creates every resource of the template, starts the servers on the two listeners,
    /// and rotates the secrets that rotate on creation.
    pub async fn deploy(
        options: &StackOptions,
        gateway_listener: TcpListener,
        invoke_listener: TcpListener,
    ) -> Result<Arc<Self>, StackError> {
        let base_url = format!("http://{}", gateway_listener.local_addr()?);
        let invoke_url = format!("http://{}", invoke_listener.local_addr()?);
        let template = Template::parse(&std::fs::read_to_string(&options.template)?)?;
        let mut overrides = options.parameters.clone();
        overrides
            .entry("PublicBaseUrl".into())
            .or_insert_with(|| base_url.clone());
        let mut resolver = Resolver::new(
            &template,
            template.parameters(&overrides)?,
            &options.stack_name,
            &options.region,
            &options.account_id,
        );
        let api_id = random_id(10);
        for (id, resource) in template.resources() {
            let physical = match resource["Type"].as_str().unwrap_or_default() {
                "AWS::ApiGatewayV2::Api" => api_id.clone(),
                "AWS::DynamoDB::Table" | "AWS::Serverless::Function" => {
                    physical_name(&options.stack_name, id)
                }
                _ => id.to_owned(),
            };
            if resource["Type"] == "AWS::Serverless::Function" {
                resolver.set_arn(
                    id,
                    format!(
                        "arn:aws:lambda:{}:{}:function:{physical}",
                        options.region, options.account_id
                    ),
                );
            }
            resolver.set_physical_id(id, physical);
        }

        // The stack's region, whatever the caller's environment says: the functions run
        // there, and the emulated Secrets Manager keeps secrets per region.
        let sdk = alta_shared::aws::sdk_config(true).await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .region(aws_sdk_dynamodb::config::Region::new(
                    options.region.clone(),
                ))
                .endpoint_url(&options.dynamodb_endpoint)
                .build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&sdk)
                .region(aws_sdk_secretsmanager::config::Region::new(
                    options.region.clone(),
                ))
                .endpoint_url(&options.secretsmanager_endpoint)
                .build(),
        );
        let mut tables = BTreeMap::new();
        for (id, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
            let properties = resolver
                .resolve(&resource["Properties"])?
                .unwrap_or_default();
            let name = resolver.physical_id(id).unwrap_or(id).to_owned();
            create_table(&dynamodb, &name, &properties)
                .await
                .map_err(|e| deploy_error(&format!("creating table {id}"), e))?;
            resolver.set_arn(
                id,
                format!(
                    "arn:aws:dynamodb:{}:{}:table/{name}",
                    options.region, options.account_id
                ),
            );
            tables.insert(id.to_owned(), name);
        }
        for (id, resource) in template.resources_of_type("AWS::SecretsManager::Secret") {
            let properties = resolver
                .resolve(&resource["Properties"])?
                .unwrap_or_default();
            let created = secrets
                .create_secret()
                .name(format!("{id}-{}", random_id(12)))
                .set_description(properties["Description"].as_str().map(str::to_owned))
                .set_secret_string(properties["SecretString"].as_str().map(str::to_owned))
                .send()
                .await
                .map_err(|e| {
                    deploy_error(
                        &format!("creating secret {id}"),
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                    )
                })?;
            let arn = created.arn().unwrap_or_default().to_owned();
            resolver.set_physical_id(id, arn.clone());
            resolver.set_arn(id, arn);
        }

        let mut functions = BTreeMap::new();
        for spec in FunctionSpec::all(&template)? {
            let mut environment = spec.resolved_environment(&resolver)?;
            // The one difference from a deployment: AWS's regional endpoints are replaced
            // by the emulated services'.
            environment
                .entry("ALTA_DYNAMODB_ENDPOINT".into())
                .or_insert_with(|| options.dynamodb_endpoint.clone());
            environment
                .entry("ALTA_SECRETSMANAGER_ENDPOINT".into())
                .or_insert_with(|| options.secretsmanager_endpoint.clone());
            let binary = options.functions_dir.join(&spec.binary);
            let binary = std::fs::canonicalize(&binary).map_err(|e| {
                StackError::Deploy(format!(
                    "{}: no binary at {} ({e}): build the functions for this machine first",
                    spec.logical_id,
                    binary.display()
                ))
            })?;
            let function = Function::new(FunctionConfig {
                function_name: resolver
                    .physical_id(&spec.logical_id)
                    .unwrap_or_default()
                    .to_owned(),
                arn: resolver
                    .arn(&spec.logical_id)
                    .unwrap_or_default()
                    .to_owned(),
                logical_id: spec.logical_id.clone(),
                binary,
                memory_mb: spec.memory_mb,
                timeout: spec.timeout,
                environment,
                region: options.region.clone(),
                log_file: options
                    .log_dir
                    .as_ref()
                    .map(|dir| dir.join(format!("{}.log", spec.binary))),
                max_containers: options.max_containers,
            });
            functions.insert(spec.logical_id.clone(), function);
        }

        let routes = RouteSpec::all(&template, &resolver)?
            .into_iter()
            .map(|spec| {
                let function = functions[&spec.function].clone();
                Route::new(&spec.route_key, function).map_err(StackError::Deploy)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let gateway = Arc::new(Gateway {
            routes,
            api_id,
            account_id: options.account_id.clone(),
        });

        let mut outputs = BTreeMap::new();
        if let Some(declared) = template.outputs() {
            for (name, output) in declared {
                if let Some(Value::String(value)) = resolver.resolve(&output["Value"])? {
                    outputs.insert(name.clone(), value);
                }
            }
        }

        let stack = Arc::new(Self {
            base_url,
            invoke_url,
            outputs,
            tables,
            functions,
            region: options.region.clone(),
            dynamodb_endpoint: options.dynamodb_endpoint.clone(),
            secretsmanager_endpoint: options.secretsmanager_endpoint.clone(),
            gateway,
        });
        tokio::spawn(serve(gateway_listener, {
            let stack = stack.clone();
            move |req, peer| {
                let stack = stack.clone();
                async move { stack.gateway.handle(req, peer).await }
            }
        }));
        tokio::spawn(serve(invoke_listener, {
            let stack = stack.clone();
            move |req, _| {
                let stack = stack.clone();
                async move { stack.invoke_api(req).await }
            }
        }));

        for rotation in RotationSpec::all(&template, &resolver)? {
            if rotation.rotate_immediately {
                rotate_secret(&secrets, &resolver, &rotation).await?;
            }
        }
        Ok(stack)
    }

    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions.get(name).or_else(|| {
            self.functions
                .values()
                .find(|f| f.config.function_name == name || f.config.arn == name)
        })
    }

    /// Ends every container.
    pub fn stop(&self) {
        for function in self.functions.values() {
            function.stop_all();
        }
    }

    /// What scripts and tests need to reach the stack, as JSON.
    pub fn state(&self) -> Value {
        let functions: BTreeMap<_, _> = self
            .functions
            .iter()
            .map(|(id, f)| {
                (
                    id.clone(),
                    json!({
                        "function_name": f.config.function_name,
                        "arn": f.config.arn,
                        "binary": f.config.binary,
                        "log_file": f.config.log_file,
                    }),
                )
            })
            .collect();
        json!({
            "base_url": self.base_url,
            "invoke_url": self.invoke_url,
            "outputs": self.outputs,
            "tables": self.tables,
            "functions": functions,
            "region": self.region,
            "dynamodb_endpoint": self.dynamodb_endpoint,
            "secretsmanager_endpoint": self.secretsmanager_endpoint,
        })
    }

    /// The Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`), and
    /// `GET /emulator/functions` with each function's containers.
    async fn invoke_api(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        if req.method() == hyper::Method::GET && path == "/emulator/functions" {
            let census: BTreeMap<_, _> = self
                .functions
                .iter()
                .map(|(id, f)| (id.clone(), f.census()))
                .collect();
            return json_response(StatusCode::OK, &json!(census));
        }
        let name = path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"))
            .map(|name| {
                url::form_urlencoded::parse(format!("n={name}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            });
        let Some(name) = name.filter(|_| req.method() == hyper::Method::POST) else {
            return json_response(
                StatusCode::NOT_FOUND,
                &json!({"Type": "User", "message": "unknown path"}),
            );
        };
        let Some(function) = self.function(&name).cloned() else {
            return json_response(
                StatusCode::NOT_FOUND,
                &json!({"Type": "User", "Message": format!("Function not found: {name}")}),
            );
        };
        let payload = match Limited::new(req.into_body(), runtime::MAX_PAYLOAD_BYTES + 1)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => Bytes::new(),
        };
        match function.invoke(payload).await {
            Outcome::Response(body) => Response::builder()
                .header("content-type", "application/json")
                .header("x-amz-executed-version", "$LATEST")
                .body(Full::new(body))
                .unwrap_or_default(),
            Outcome::HandlerError(body) => Response::builder()
                .header("content-type", "application/json")
                .header("x-amz-function-error", "Unhandled")
                .body(Full::new(body))
                .unwrap_or_default(),
            Outcome::RuntimeFailure {
                error_type,
                message,
            } if error_type == "TooManyRequestsException"
                || error_type == "RequestTooLargeException" =>
            {
                let status = if error_type == "TooManyRequestsException" {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::PAYLOAD_TOO_LARGE
                };
                json_response(status, &json!({"Type": "User", "Message": message}))
            }
            Outcome::RuntimeFailure {
                error_type,
                message,
            } => {
                let mut response = json_response(
                    StatusCode::OK,
                    &json!({"errorType": error_type, "errorMessage": message}),
                );
                response.headers_mut().insert(
                    "x-amz-function-error",
                    hyper::header::HeaderValue::from_static("Unhandled"),
                );
                response
            }
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn serve<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req, peer).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `CreateTable` from the resource's properties (TTL, point-in-time recovery and
/// encryption have no effect on a local implementation and are left out).
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    properties: &Value,
) -> Result<(), String> {
    let text = |v: &Value, field: &str| {
        v[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{field} is missing"))
    };
    let key_schema = |v: &Value| -> Result<Vec<KeySchemaElement>, String> {
        v.as_array()
            .ok_or("KeySchema is missing")?
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName")?)
                    .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&properties["KeySchema"])?));
    for attribute in properties["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    text(attribute, "AttributeType")?.as_str(),
                ))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for index in properties["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let projection = &index["Projection"];
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?)
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            projection["ProjectionType"].as_str().unwrap_or("ALL"),
                        ))
                        .set_non_key_attributes(projection["NonKeyAttributes"].as_array().map(
                            |a| {
                                a.iter()
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect()
                            },
                        ))
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

/// What Secrets Manager does for a rotation schedule with `RotateImmediatelyOnUpdate`:
/// `RotateSecret`, which stages a new version and invokes the rotation function with
/// createSecret, setSecret, testSecret and finishSecret. The Secrets Manager emulator
/// (`scripts/moto-server`) invokes it through this stack's Invoke API.
async fn rotate_secret(
    client: &aws_sdk_secretsmanager::Client,
    resolver: &Resolver,
    rotation: &RotationSpec,
) -> Result<(), StackError> {
    let secret_arn = resolver
        .arn(&rotation.secret)
        .unwrap_or_default()
        .to_owned();
    let function_arn = resolver
        .arn(&rotation.function)
        .unwrap_or_default()
        .to_owned();
    // moto enables rotation only for a number of days; `rate(N days)` is the same rule.
    let days = rotation
        .schedule
        .as_deref()
        .and_then(|s| s.strip_prefix("rate("))
        .and_then(|s| s.strip_suffix(" days)").or_else(|| s.strip_suffix(" day)")))
        .and_then(|n| n.trim().parse::<i64>().ok())
        .unwrap_or(30);
    let token = format!(
        "{}-{}-{}-{}-{}",
        random_id(8),
        random_id(4),
        random_id(4),
        random_id(4),
        random_id(12)
    );
    client
        .rotate_secret()
        .secret_id(&secret_arn)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(days)
                .build(),
        )
        .rotate_immediately(true)
        .send()
        .await
        .map_err(|e| {
            deploy_error(
                &format!(
                    "rotating {} (is Secrets Manager scripts/moto-server, which invokes rotation functions?)",
                    rotation.secret
                ),
                aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )
        })?;
    let described = client
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .map_err(|e| {
            deploy_error(
                "describing the rotated secret",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )
        })?;
    let current = described
        .version_ids_to_stages()
        .and_then(|v| v.get(&token))
        .is_some_and(|stages| stages.iter().any(|s| s == "AWSCURRENT"));
    if !current {
        return Err(StackError::Deploy(format!(
            "the rotation of {} did not finish: see the {} function's log",
            rotation.secret, rotation.function
        )));
    }
    Ok(())
}
