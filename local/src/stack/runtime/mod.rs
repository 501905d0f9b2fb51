//! A Lambda Runtime API emulator: each function's real bootstrap binary runs as one or
//! more "containers" (processes), each with its own Runtime API endpoint, as Lambda runs
//! them. An invocation goes to an idle container, or starts a new one when all are busy;
//! a container that crashes or outlives its function's timeout is killed and its
//! invocation fails, as on Lambda.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alta_shared::clock::civil_date;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Lambda's limit on a synchronous invocation's request and response payloads.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Lambda gives a container's init phase at most 10 s.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function's response payload.
    Response(Bytes),
    /// The handler reported an error (`/invocation/{id}/error`): its error document.
    HandlerError(Bytes),
    /// The runtime failed: init error, crash, timeout, oversized payload, or no capacity.
    RuntimeFailure { error_type: String, message: String },
}

impl Outcome {
    fn failure(error_type: &str, message: impl Into<String>) -> Self {
        Outcome::RuntimeFailure {
            error_type: error_type.to_owned(),
            message: message.into(),
        }
    }
}

/// What a function is, as deployed: its binary, resources and environment.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub logical_id: String,
    pub function_name: String,
    pub arn: String,
    pub binary: PathBuf,
    pub memory_mb: u64,
    pub timeout: Duration,
    /// The template's variables plus the emulator's endpoint overrides.
    pub environment: BTreeMap<String, String>,
    pub region: String,
    pub log_file: Option<PathBuf>,
    /// At most this many containers at once; more concurrent invocations are throttled.
    pub max_containers: usize,
}

struct Invocation {
    request_id: String,
    payload: Bytes,
    /// Told when the container takes the event: the function's timeout starts then.
    delivered: oneshot::Sender<()>,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Started for an invocation that waits in its inbox.
    Starting,
    /// Waiting in `/invocation/next`.
    Idle,
    Busy,
    Dead,
}

struct Container {
    id: u64,
    state: Mutex<State>,
    inbox: mpsc::Sender<Invocation>,
    /// The invocation the container is working on, answered by `/response` or `/error`.
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    /// Set once to end the container: its process is killed and its Runtime API closed.
    stop: tokio::sync::watch::Sender<bool>,
    /// When its process was started, and its pid: the cold start it reports with its first
    /// response (exec to first response, peak RSS), as Lambda reports an init duration.
    started: Instant,
    pid: std::sync::atomic::AtomicU32,
    reported: std::sync::atomic::AtomicBool,
    /// The init phase's length, from the start to the first `/invocation/next`, until the
    /// first REPORT line carries it (Lambda's `Init Duration`).
    init: Mutex<Option<Duration>>,
    initialized: std::sync::atomic::AtomicBool,
    /// When the current invocation was handed to the function: its REPORT's `Duration`.
    invoked_at: Mutex<Option<Instant>>,
}

impl Container {
    fn set_state(&self, state: State) {
        *self.state.lock().expect("state lock") = state;
    }

    fn state(&self) -> State {
        *self.state.lock().expect("state lock")
    }

    fn fail_current(&self, outcome: Outcome) {
        if let Some((_, reply)) = self.current.lock().expect("current lock").take() {
            let _ = reply.send(outcome);
        }
    }

    /// Ends the container (SIGKILL, as Lambda ends a timed-out or failed sandbox).
    fn kill(&self) {
        self.set_state(State::Dead);
        self.stop.send_replace(true);
    }
}

/// One function's containers.
pub struct Function {
    pub config: FunctionConfig,
    containers: Mutex<Vec<Arc<Container>>>,
    next_container: AtomicU64,
    next_request: AtomicU64,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("logical_id", &self.config.logical_id)
            .field("census", &self.census())
            .finish()
    }
}

/// Counts of a function's containers, for tests and the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Census {
    pub containers: usize,
    pub busy: usize,
    pub started: u64,
}

impl Function {
    pub fn new(config: FunctionConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            containers: Mutex::new(Vec::new()),
            next_container: AtomicU64::new(1),
            next_request: AtomicU64::new(1),
        })
    }

    /// Ends every container of the function.
    pub fn stop_all(&self) {
        for container in self.containers.lock().expect("containers lock").drain(..) {
            container.kill();
        }
    }

    pub fn census(&self) -> Census {
        let containers = self.containers.lock().expect("containers lock");
        Census {
            containers: containers.len(),
            busy: containers
                .iter()
                .filter(|c| matches!(c.state(), State::Busy | State::Starting))
                .count(),
            started: self.next_container.load(Ordering::Relaxed) - 1,
        }
    }

    /// Invokes the function synchronously (RequestResponse) with `payload`.
    pub async fn invoke(self: &Arc<Self>, payload: Bytes) -> Outcome {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Outcome::failure(
                "RequestTooLargeException",
                format!(
                    "Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
                ),
            );
        }
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let request_id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rand_u32(),
            n & 0xffff,
            rand_u32() & 0xfff,
            rand_u32() & 0xfff,
            (u64::from(rand_u32()) << 16) | (n & 0xffff)
        );
        let (reply, outcome) = oneshot::channel();
        let (delivered_to, delivered) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload,
            delivered: delivered_to,
            reply,
        };
        let container = match self.claim().await {
            Ok(container) => container,
            Err(outcome) => return outcome,
        };
        if container.inbox.send(invocation).await.is_err() {
            container.kill();
            return Outcome::failure("Runtime.ExitError", "the container exited");
        }
        // A cold container first runs its init phase, which has a limit of its own.
        match tokio::time::timeout(INIT_TIMEOUT, delivered).await {
            Ok(Ok(())) => {}
            // Failed before the container took it (a crash or an init error).
            Ok(Err(_)) => {
                return outcome.await.unwrap_or_else(|_| {
                    Outcome::failure("Runtime.ExitError", "the container exited")
                });
            }
            Err(_) => {
                container.kill();
                self.remove(container.id);
                return Outcome::failure(
                    "Sandbox.Timedout",
                    format!(
                        "Init timed out after {:.2} seconds",
                        INIT_TIMEOUT.as_secs_f64()
                    ),
                );
            }
        }
        match tokio::time::timeout(self.config.timeout, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                // As Lambda logs a runtime that exits mid-invocation.
                write_log_line(
                    self,
                    &format!(
                        "RequestId: {request_id} Error: Runtime exited without providing a reason\nRuntime.ExitError"
                    ),
                );
                report_invocation(
                    self,
                    &container,
                    &request_id,
                    "\tStatus: error\tError Type: Runtime.ExitError",
                );
                Outcome::failure("Runtime.ExitError", "the container exited")
            }
            Err(_) => {
                // As Lambda logs a timeout: a line of its own, and the REPORT's status.
                write_log_line(
                    self,
                    &format!(
                        "{} {request_id} Task timed out after {:.2} seconds",
                        log_timestamp(),
                        self.config.timeout.as_secs_f64()
                    ),
                );
                report_invocation(self, &container, &request_id, "\tStatus: timeout");
                container.kill();
                self.remove(container.id);
                Outcome::failure(
                    "Sandbox.Timedout",
                    format!(
                        "Task timed out after {:.2} seconds",
                        self.config.timeout.as_secs_f64()
                    ),
                )
            }
        }
    }

    /// An idle container, marked busy; or a new one, started for this invocation.
    async fn claim(self: &Arc<Self>) -> Result<Arc<Container>, Outcome> {
        {
            let containers = self.containers.lock().expect("containers lock");
            for container in containers.iter() {
                let mut state = container.state.lock().expect("state lock");
                if *state == State::Idle {
                    *state = State::Busy;
                    return Ok(container.clone());
                }
            }
            if containers.len() >= self.config.max_containers {
                return Err(Outcome::failure(
                    "TooManyRequestsException",
                    "Rate Exceeded.",
                ));
            }
        }
        self.start_container().await
    }

    fn remove(&self, id: u64) {
        self.containers
            .lock()
            .expect("containers lock")
            .retain(|c| c.id != id);
    }

    async fn start_container(self: &Arc<Self>) -> Result<Arc<Container>, Outcome> {
        let failed = |e: std::io::Error| Outcome::failure("Runtime.StartError", e.to_string());
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(failed)?;
        let addr = listener.local_addr().map_err(failed)?;
        let (inbox, receiver) = mpsc::channel(1);
        let container = Arc::new(Container {
            id: self.next_container.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State::Starting),
            inbox,
            current: Mutex::new(None),
            stop: tokio::sync::watch::channel(false).0,
            started: Instant::now(),
            pid: std::sync::atomic::AtomicU32::new(0),
            reported: std::sync::atomic::AtomicBool::new(false),
            init: Mutex::new(None),
            initialized: std::sync::atomic::AtomicBool::new(false),
            invoked_at: Mutex::new(None),
        });
        let api = Arc::new(RuntimeApi {
            container: container.clone(),
            receiver: tokio::sync::Mutex::new(receiver),
            function: self.clone(),
        });
        tokio::spawn(serve_runtime_api(listener, api.clone()));

        let mut command = tokio::process::Command::new(&self.config.binary);
        command
            .env_clear()
            .envs(self.lambda_environment(addr, container.id))
            .current_dir(
                self.config
                    .binary
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new(".")),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match &self.config.log_file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(failed)?;
                command
                    .stdout(file.try_clone().map_err(failed)?)
                    .stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let mut child = command.spawn().map_err(failed)?;
        container
            .pid
            .store(child.id().unwrap_or(0), Ordering::Relaxed);
        self.containers
            .lock()
            .expect("containers lock")
            .push(container.clone());
        let function = self.clone();
        let watched = container.clone();
        let mut stop = container.stop.subscribe();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            watched.kill();
            function.remove(watched.id);
            let message = match status {
                Ok(status) => format!("Runtime exited with error: {status}"),
                Err(err) => format!("Runtime exited: {err}"),
            };
            watched.fail_current(Outcome::failure("Runtime.ExitError", message.clone()));
            // An invocation still queued for the dead container fails the same way.
            if let Ok(mut receiver) = api.receiver.try_lock() {
                while let Ok(invocation) = receiver.try_recv() {
                    let _ = invocation
                        .reply
                        .send(Outcome::failure("Runtime.ExitError", message.clone()));
                }
            }
        });
        Ok(container)
    }

    /// The variables Lambda sets for a `provided.al2023` function, then the function's own.
    fn lambda_environment(
        &self,
        runtime_api: SocketAddr,
        container: u64,
    ) -> BTreeMap<String, String> {
        let c = &self.config;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (y, m, d) = civil_date(now.as_secs());
        let task_root = c
            .binary
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut env: BTreeMap<String, String> = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", c.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", c.function_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{y}/{m:02}/{d:02}/[$LATEST]{container:032x}"),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", c.region.clone()),
            ("AWS_DEFAULT_REGION", c.region.clone()),
            // The emulated services accept any signature; Lambda would hand the role's
            // temporary credentials here.
            ("AWS_ACCESS_KEY_ID", "emulated".into()),
            ("AWS_SECRET_ACCESS_KEY", "emulated".into()),
            ("AWS_SESSION_TOKEN", "emulated".into()),
            ("_HANDLER", "bootstrap".into()),
            ("LAMBDA_TASK_ROOT", task_root),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(c.environment.clone());
        env
    }
}

struct RuntimeApi {
    container: Arc<Container>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    function: Arc<Function>,
}

async fn serve_runtime_api(listener: TcpListener, api: Arc<RuntimeApi>) {
    let mut stop = api.container.stop.subscribe();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => return,
            },
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => return,
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(runtime_request(&api, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

fn error_json(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"errorType": error_type, "errorMessage": message});
    let mut response = plain(status, body.to_string());
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn runtime_request(api: &RuntimeApi, req: Request<Incoming>) -> Response<Full<Bytes>> {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return error_json(
            StatusCode::NOT_FOUND,
            "InvalidRequest",
            "unknown Runtime API path",
        );
    };
    let container = &api.container;
    if *req.method() == Method::GET && route == "invocation/next" {
        container.set_state(State::Idle);
        let invocation = api.receiver.lock().await.recv().await;
        let Some(invocation) = invocation else {
            return error_json(
                StatusCode::GONE,
                "ContainerStopped",
                "the container is stopping",
            );
        };
        container.set_state(State::Busy);
        let _ = invocation.delivered.send(());
        if !container.initialized.swap(true, Ordering::Relaxed) {
            *container.init.lock().expect("init lock") = Some(container.started.elapsed());
        }
        *container.invoked_at.lock().expect("invoked_at lock") = Some(Instant::now());
        write_log_line(
            &api.function,
            &format!(
                "START RequestId: {} Version: $LATEST",
                invocation.request_id
            ),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let deadline_ms = (now + api.function.config.timeout).as_millis();
        *container.current.lock().expect("current lock") =
            Some((invocation.request_id.clone(), invocation.reply));
        let config = &api.function.config;
        return Response::builder()
            .header("lambda-runtime-aws-request-id", &invocation.request_id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &config.arn)
            .header(
                "lambda-runtime-trace-id",
                format!(
                    "Root=1-{:08x}-{:024x};Sampled=0",
                    now.as_secs(),
                    u128::from(rand_u32()) << 64 | u128::from(rand_u32())
                ),
            )
            .header("content-type", "application/json")
            .body(Full::new(invocation.payload))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, ""));
    }
    if *req.method() != Method::POST {
        return error_json(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequest",
            "method not allowed",
        );
    }
    let body = match http_body_util::Limited::new(req.into_body(), MAX_PAYLOAD_BYTES + 1)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if route == "init/error" {
        container.kill();
        api.function.remove(container.id);
        let reason = String::from_utf8_lossy(&body).into_owned();
        let outcome = Outcome::failure("Runtime.InitError", reason);
        if let Ok(mut receiver) = api.receiver.try_lock() {
            while let Ok(invocation) = receiver.try_recv() {
                let _ = invocation.reply.send(outcome.clone());
            }
        }
        return plain(StatusCode::ACCEPTED, r#"{"status":"OK"}"#);
    }
    let Some((request_id, kind)) = route
        .strip_prefix("invocation/")
        .and_then(|rest| rest.split_once('/'))
    else {
        return error_json(
            StatusCode::NOT_FOUND,
            "InvalidRequest",
            "unknown Runtime API path",
        );
    };
    let current = container.current.lock().expect("current lock").take();
    let Some((expected_id, reply)) = current else {
        return error_json(
            StatusCode::BAD_REQUEST,
            "InvalidStateTransition",
            "no invocation in progress",
        );
    };
    if expected_id != request_id {
        *container.current.lock().expect("current lock") = Some((expected_id, reply));
        return error_json(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "unknown request id",
        );
    }
    let outcome = match kind {
        "response" if body.len() > MAX_PAYLOAD_BYTES => Outcome::failure(
            "Function.ResponseSizeTooLarge",
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        ),
        "response" => {
            report_cold_start(&api.function, container);
            report_invocation(&api.function, container, request_id, "");
            Outcome::Response(body)
        }
        "error" => {
            report_invocation(&api.function, container, request_id, "");
            Outcome::HandlerError(body)
        }
        _ => {
            *container.current.lock().expect("current lock") = Some((expected_id, reply));
            return error_json(
                StatusCode::NOT_FOUND,
                "InvalidRequest",
                "unknown Runtime API path",
            );
        }
    };
    let _ = reply.send(outcome);
    plain(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

/// A container's first response: one line in its function's log, as Lambda's REPORT line
/// carries an init duration (`scripts/bench` reads them).
fn report_cold_start(function: &Function, container: &Container) {
    if container.reported.swap(true, Ordering::Relaxed) {
        return;
    }
    let elapsed = container.started.elapsed();
    let peak_rss_kib = peak_rss_kib(container);
    let line = serde_json::json!({
        "emulator": "cold_start",
        "function": function.config.logical_id,
        "container": container.id,
        "exec_to_first_response_ms": elapsed.as_secs_f64() * 1000.0,
        "peak_rss_kib": peak_rss_kib,
    });
    write_log_line(function, &line.to_string());
}

/// The container's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib(container: &Container) -> Option<u64> {
    let pid = container.pid.load(Ordering::Relaxed);
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Lambda's END and REPORT lines for an answered invocation, in its format, so that what
/// reads Lambda's logs (the template's saved queries) reads the emulator's too: `Duration`
/// from the handing out of the event, `Max Memory Used` the peak RSS, and `Init Duration`
/// on a container's first invocation only; `status` ends the REPORT line of one that did
/// not answer (`\tStatus: timeout`).
fn report_invocation(function: &Function, container: &Container, request_id: &str, status: &str) {
    let duration = container
        .invoked_at
        .lock()
        .expect("invoked_at lock")
        .take()
        .map(|at| at.elapsed())
        .unwrap_or_default();
    let init = container.init.lock().expect("init lock").take();
    write_log_line(function, &format!("END RequestId: {request_id}"));
    let report = report_line(
        request_id,
        duration,
        function.config.memory_mb,
        peak_rss_kib(container).unwrap_or(0).div_ceil(1024),
        init,
    );
    write_log_line(function, &format!("{report}{status}"));
}

/// `2026-12-03T18:00:00.000Z`, as Lambda stamps its own lines.
fn log_timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (y, m, d) = civil_date(now.as_secs());
    let s = now.as_secs() % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        now.subsec_millis()
    )
}

/// `REPORT RequestId: …\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\t
/// Max Memory Used: 30 MB[\tInit Duration: 4.56 ms]`, as Lambda writes it.
fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u64,
    used_mb: u64,
    init: Option<Duration>,
) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let billed = (ms(duration).ceil() as u64).max(1);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used_mb} MB",
        ms(duration)
    );
    if let Some(init) = init {
        line.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
    }
    line
}

fn write_log_line(function: &Function, line: &str) {
    if let Some(path) = &function.config.log_file
        && let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(path)
    {
        use std::io::Write;
        let _ = writeln!(file, "{line}");
    }
}

fn rand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // Request and trace ids need to be distinct, not secret; a failure leaves zeros.
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests;
