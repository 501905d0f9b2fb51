//! The deployed shape on one machine: `template.yaml` "deployed" the way CloudFormation
//! would (tables on a DynamoDB implementation, secrets on Secrets Manager, each function's
//! environment resolved from the template, the key secret rotated on creation), the real
//! function binaries behind a Lambda Runtime API emulator, an API Gateway HTTP API front
//! door, and a Lambda Invoke API (`sam local invoke` / `aws lambda invoke` style).

pub mod gateway;
mod invoke;
mod resources;
pub mod runtime;
pub mod template;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use thiserror::Error;
use tokio::net::TcpListener;

use gateway::{Gateway, Route};
use resources::{Services, physical_name, random_id};
use runtime::{Function, FunctionConfig};
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
    /// Added to every function's environment, as `sam local --env-vars` does: for settings
    /// a test needs and no deployment has (a loopback metadata-document host's CA).
    pub extra_environment: BTreeMap<String, String>,
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

        let services = Services::connect(options).await;
        let mut tables = BTreeMap::new();
        for (id, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
            if !resolver.creates(resource)? {
                continue;
            }
            let properties = resolver
                .resolve(&resource["Properties"])?
                .unwrap_or_default();
            let name = resolver.physical_id(id).unwrap_or(id).to_owned();
            services.create_table(id, &name, &properties).await?;
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
            if !resolver.creates(resource)? {
                continue;
            }
            let properties = resolver
                .resolve(&resource["Properties"])?
                .unwrap_or_default();
            let arn = services.create_secret(id, &properties).await?;
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
            environment.extend(options.extra_environment.clone());
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
                if !resolver.creates(output)? {
                    continue;
                }
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
                async move { invoke::handle(&stack, req).await }
            }
        }));

        for rotation in RotationSpec::all(&template, &resolver)? {
            if rotation.rotate_immediately {
                services.rotate_secret(&resolver, &rotation).await?;
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
