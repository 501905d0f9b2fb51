//! An emulated deployed stack of a test's own (`alta-stack` with moto whose Lambda backend
//! invokes its functions, on the test run's dynalite), for tests that need settings the
//! shared stack does not have, such as short key caches.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Server, dynamodb_endpoint};

pub struct EmulatedStack {
    pub state: Value,
    base: String,
    children: Vec<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < timeout, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl EmulatedStack {
    /// Starts a stack with these template parameters, and waits until it serves.
    pub fn start(parameters: &[(&str, &str)]) -> Self {
        Self::start_with(parameters, &[])
    }

    /// … and with `environment` added to every function's (`alta-stack --env`).
    pub fn start_with(parameters: &[(&str, &str)], environment: &[(&str, &str)]) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!(
            "alta-test-stack-{}",
            alta_shared::random::token(6).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let (moto_port, gateway_port, invoke_port) = (free_port(), free_port(), free_port());
        let moto = Command::new(root.join(".venv-test/bin/python"))
            .arg(root.join("scripts/moto-server"))
            .args(["--port", &moto_port.to_string()])
            .args([
                "--lambda-endpoint",
                &format!("http://127.0.0.1:{invoke_port}"),
            ])
            .stdout(log("moto.log"))
            .stderr(log("moto.err"))
            .spawn()
            .expect("start scripts/moto-server (scripts/test installs .venv-test)");
        let mut stack = Self {
            state: Value::Null,
            base: format!("http://127.0.0.1:{gateway_port}"),
            children: vec![moto],
        };
        wait_for("moto listening", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_ok()
        });
        let state_file = dir.join("state.json");
        let mut command = Command::new(env!("CARGO_BIN_EXE_alta-stack"));
        command
            .current_dir(&root)
            .args(["--dynamodb-endpoint", &dynamodb_endpoint()])
            .args([
                "--secretsmanager-endpoint",
                &format!("http://127.0.0.1:{moto_port}"),
            ])
            .args(["--port", &gateway_port.to_string()])
            .args(["--invoke-port", &invoke_port.to_string()])
            .args(["--log-dir", dir.join("logs").to_str().unwrap()])
            .args(["--state-file", state_file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log("alta-stack.log"));
        for (name, value) in parameters {
            command.args(["--parameter", &format!("{name}={value}")]);
        }
        for (name, value) in environment {
            command.args(["--env", &format!("{name}={value}")]);
        }
        stack
            .children
            .push(command.spawn().expect("start alta-stack"));
        wait_for("the stack's state file", Duration::from_secs(120), || {
            state_file.exists()
        });
        stack.state = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
        stack
    }

    /// Runs `alta-admin` against the stack's tables (`ALTA_ADMIN_PASSWORD` = `password`).
    pub fn admin(&self, args: &[&str], password: &str) {
        let status = admin_command(&self.state)
            .args(args)
            .env("ALTA_ADMIN_PASSWORD", password)
            .stdout(Stdio::null())
            .status()
            .expect("run alta-admin");
        assert!(status.success(), "alta-admin {args:?}");
    }
}

/// `alta-admin` set up as an operator sets it up from a stack's outputs (what
/// `scripts/stack` writes to `admin.env`), against the emulated services its state names.
fn admin_command(state: &Value) -> Command {
    let outputs = &state["outputs"];
    let output = |name: &str| outputs[name].as_str().unwrap().to_owned();
    let mut command = Command::new(env!("CARGO_BIN_EXE_alta-admin"));
    command
        .env("ALTA_STORE", "dynamodb")
        .env("AWS_REGION", state["region"].as_str().unwrap())
        .env(
            "ALTA_DYNAMODB_ENDPOINT",
            state["dynamodb_endpoint"].as_str().unwrap(),
        )
        .env("ALTA_DIRECTORY_TABLE", output("DirectoryTableName"))
        .env("ALTA_ALTA_DATA_TABLE", output("AltaDataTableName"))
        .env(
            "ALTA_REFRESH_TOKENS_TABLE",
            output("RefreshTokensTableName"),
        )
        .env("ALTA_REVOCATIONS_TABLE", output("RevocationsTableName"));
    command
}

/// A Secrets Manager client for the emulated services a stack's state names.
pub fn secrets_client(state: &Value) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Builder, Credentials, Region};
    aws_sdk_secretsmanager::Client::from_conf(
        Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(state["region"].as_str().unwrap().to_owned()))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(state["secretsmanager_endpoint"].as_str().unwrap())
            .build(),
    )
}

/// The stack scripts/test started for every test (`ALTA_TEST_STACK_STATE` names its state).
pub struct RunningStack {
    pub state: Value,
    base: String,
}

impl RunningStack {
    pub fn from_env() -> Self {
        let path = std::env::var("ALTA_TEST_STACK_STATE").expect(
            "ALTA_TEST_STACK_STATE names the running stack's state.json (scripts/test sets it)",
        );
        let state: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let base = state["base_url"].as_str().unwrap().to_owned();
        Self { state, base }
    }

    /// What a function has written to its log so far.
    pub fn function_log(&self, logical_id: &str) -> String {
        let path = self.state["functions"][logical_id]["log_file"]
            .as_str()
            .unwrap();
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `alta-admin args` against this stack's tables, as an operator runs it with the
    /// stack's outputs: whether it succeeded, and what it printed (standard output, then
    /// standard error).
    pub fn admin(&self, args: &[&str]) -> (bool, String) {
        let output = admin_command(&self.state)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run alta-admin");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }
}

impl Server for RunningStack {
    fn base(&self) -> &str {
        &self.base
    }
}

impl Server for EmulatedStack {
    fn base(&self) -> &str {
        &self.base
    }
}

impl Drop for EmulatedStack {
    fn drop(&mut self) {
        // alta-stack first: on SIGTERM it ends its containers.
        for child in self.children.iter_mut().rev() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}
