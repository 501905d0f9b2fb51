//! `alta-stack`: the deployed stack on one machine (see `alta_local::stack`). Usually
//! started by `scripts/stack`, which builds the functions and starts DynamoDB and
//! Secrets Manager emulators first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use alta_local::stack::{Stack, StackOptions};
use tokio::net::TcpListener;

const USAGE: &str = "usage: alta-stack --dynamodb-endpoint URL --secretsmanager-endpoint URL
  [--template template.yaml] [--functions target/debug] [--port 3100] [--invoke-port 3101]
  [--stack-name alta-mcp] [--region eu-west-1] [--parameter Name=Value]...
  [--log-dir target/stack/logs] [--state-file target/stack/state.json] [--max-containers 10]";

struct Args {
    options: StackOptions,
    port: u16,
    invoke_port: u16,
    state_file: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument `{flag}`\n{USAGE}"))?;
        let value = iter
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        flags
            .entry(name.to_owned())
            .or_default()
            .push(value.clone());
    }
    let one = |name: &str, default: Option<&str>| -> Result<String, String> {
        match (flags.get(name).and_then(|v| v.last()), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_owned()),
            (None, None) => Err(format!("--{name} is required\n{USAGE}")),
        }
    };
    let number = |name: &str, default: &str| -> Result<u64, String> {
        one(name, Some(default))?
            .parse()
            .map_err(|_| format!("--{name} takes a number"))
    };
    let mut parameters = BTreeMap::new();
    for pair in flags.get("parameter").into_iter().flatten() {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--parameter `{pair}` is not Name=Value"))?;
        parameters.insert(k.to_owned(), v.to_owned());
    }
    let known = [
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
    ];
    if let Some(unknown) = flags.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown option --{unknown}\n{USAGE}"));
    }
    Ok(Args {
        options: StackOptions {
            template: one("template", Some("template.yaml"))?.into(),
            functions_dir: one("functions", Some("target/debug"))?.into(),
            stack_name: one("stack-name", Some("alta-mcp"))?,
            region: one("region", Some("eu-west-1"))?,
            account_id: "123456789012".into(),
            parameters,
            dynamodb_endpoint: one("dynamodb-endpoint", None)?,
            secretsmanager_endpoint: one("secretsmanager-endpoint", None)?,
            log_dir: Some(one("log-dir", Some("target/stack/logs"))?.into()),
            max_containers: number("max-containers", "10")? as usize,
        },
        port: u16::try_from(number("port", "3100")?).map_err(|_| "--port is too large")?,
        invoke_port: u16::try_from(number("invoke-port", "3101")?)
            .map_err(|_| "--invoke-port is too large")?,
        state_file: one("state-file", Some("target/stack/state.json"))?.into(),
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
