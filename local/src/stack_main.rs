//! `alta-stack`: the deployed stack on one machine (see `alta_local::stack`). Usually
//! started by `scripts/stack`, which builds the functions and starts DynamoDB and
//! Secrets Manager emulators first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use alta_local::cli::Flags;
use alta_local::stack::{Stack, StackOptions};
use tokio::net::TcpListener;

const USAGE: &str = "usage: alta-stack --dynamodb-endpoint URL --secretsmanager-endpoint URL
  [--template template.yaml] [--functions target/debug] [--port 3100] [--invoke-port 3101]
  [--stack-name alta-mcp] [--region eu-west-1] [--parameter Name=Value]...
  [--log-dir target/stack/logs] [--state-file target/stack/state.json] [--max-containers 10]
  [--env NAME=VALUE]... (added to every function's environment, like sam local --env-vars)";

struct Args {
    options: StackOptions,
    port: u16,
    invoke_port: u16,
    state_file: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let flags = Flags::parse(args, USAGE)?.only(&[
        "dynamodb-endpoint",
        "secretsmanager-endpoint",
        "template",
        "functions",
        "port",
        "invoke-port",
        "stack-name",
        "region",
        "parameter",
        "log-dir",
        "state-file",
        "max-containers",
        "env",
    ])?;
    let pairs = |flag: &str| -> Result<BTreeMap<String, String>, String> {
        flags
            .all(flag)
            .into_iter()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| format!("--{flag} `{pair}` is not Name=Value"))
            })
            .collect()
    };
    let parameters = pairs("parameter")?;
    let extra_environment = pairs("env")?;
    let port = |name: &str, default: u64| -> Result<u16, String> {
        u16::try_from(flags.number(name, default)?).map_err(|_| format!("--{name} is not a port"))
    };
    Ok(Args {
        options: StackOptions {
            template: flags.get_or("template", "template.yaml").into(),
            functions_dir: flags.get_or("functions", "target/debug").into(),
            stack_name: flags.get_or("stack-name", "alta-mcp").to_owned(),
            region: flags.get_or("region", "eu-west-1").to_owned(),
            account_id: "123456789012".into(),
            parameters,
            dynamodb_endpoint: flags.require("dynamodb-endpoint")?.to_owned(),
            secretsmanager_endpoint: flags.require("secretsmanager-endpoint")?.to_owned(),
            log_dir: Some(flags.get_or("log-dir", "target/stack/logs").into()),
            max_containers: usize::try_from(flags.number("max-containers", 10)?)
                .map_err(|_| "--max-containers is too large")?,
            extra_environment,
        },
        port: port("port", 3100)?,
        invoke_port: port("invoke-port", 3101)?,
        state_file: flags.get_or("state-file", "target/stack/state.json").into(),
    })
}

async fn run(args: Args) -> Result<(), String> {
    let gateway = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("listening on 127.0.0.1:{}: {e}", args.port))?;
    let invoke = TcpListener::bind(("127.0.0.1", args.invoke_port))
        .await
        .map_err(|e| format!("listening on 127.0.0.1:{}: {e}", args.invoke_port))?;
    if let Some(dir) = &args.options.log_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let stack = Stack::deploy(&args.options, gateway, invoke)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(dir) = args.state_file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&args.state_file, stack.state().to_string()).map_err(|e| e.to_string())?;
    let mcp = stack
        .outputs
        .get("McpUrl")
        .cloned()
        .unwrap_or_else(|| format!("{}/mcp", stack.base_url));
    println!(
        "\nAlta MCP stack `{}` is running: {} functions behind an API Gateway HTTP API emulator.\n\n\
         \x20 MCP server URL:   {mcp}\n\
         \x20 Lambda Invoke API: {}  (aws lambda invoke --endpoint-url …)\n\
         \x20 Function logs:     {}\n\
         \x20 Stack state:       {}\n",
        args.options.stack_name,
        stack.functions.len(),
        stack.invoke_url,
        args.options
            .log_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        args.state_file.display(),
    );
    for (name, value) in &stack.outputs {
        println!("  {name:<22} {value}");
    }
    shutdown_signal().await;
    stack.stop();
    let _ = std::fs::remove_file(&args.state_file);
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse_args(&args) {
        Ok(args) => run(args).await,
        Err(message) => Err(message),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alta-stack: {message}");
            ExitCode::FAILURE
        }
    }
}
