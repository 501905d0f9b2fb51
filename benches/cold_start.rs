//! Cold start of each function's release binary: started against a Lambda Runtime API
//! emulator on loopback, timed from exec to the first response, with peak RSS (VmHWM).
//! The events need no AWS call (in-memory store, a key generated at start).
//!
//! Run by scripts/bench after `cargo build --release` of the functions; writes
//! target/bench/cold-start.json. `cargo bench --bench cold_start -- RUNS` (default 15).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

const FUNCTIONS: [(&str, &str); 6] = [
    ("discovery", "discovery-jwks.json"),
    ("register", "register-vscode.json"),
    ("authorize", "authorize-get.json"),
    ("token", "token-refresh-unknown.json"),
    ("revoke", "revoke-unknown-token.json"),
    ("mcp", "mcp-without-token.json"),
];

/// What the emulator hands out and what it saw come back.
struct Emulator {
    event: Mutex<String>,
    served: Mutex<bool>,
    responded: Notify,
    response: Mutex<Option<(Instant, String)>>,
}

async fn serve(
    emulator: Arc<Emulator>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let first = !std::mem::replace(&mut *emulator.served.lock().unwrap(), true);
        if !first {
            // The function waits for its next event; it is killed first.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        let event = emulator.event.lock().unwrap().clone();
        return Ok(Response::builder()
            .header("lambda-runtime-aws-request-id", "bench-request-1")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap());
    }
    let at = Instant::now();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path.contains("/response") || path.contains("/error") {
        *emulator.response.lock().unwrap() =
            Some((at, format!("{path} {}", String::from_utf8_lossy(&body))));
        emulator.responded.notify_one();
    }
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

struct Run {
    millis: f64,
    rss_kib: u64,
    status: u16,
}

async fn cold_start(binary: &str, event: &str, addr: SocketAddr, emulator: &Arc<Emulator>) -> Run {
    *emulator.event.lock().unwrap() = event.to_owned();
    *emulator.served.lock().unwrap() = false;
    *emulator.response.lock().unwrap() = None;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env(
            "ALTA_BASE_URL",
            "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        )
        .env("ALTA_LOG_LEVEL", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the function binary");
    tokio::time::timeout(Duration::from_secs(20), emulator.responded.notified())
        .await
        .expect("the function answered");
    let (at, response) = emulator.response.lock().unwrap().take().unwrap();
    let pid = child.id().unwrap_or(0);
    let rss_kib = peak_rss_kib(pid);
    let _ = child.kill().await;
    let status =
        serde_json::from_str::<serde_json::Value>(response.split_once(' ').map_or("", |(_, b)| b))
            .ok()
            .and_then(|v| v["statusCode"].as_u64())
            .unwrap_or(0) as u16;
    Run {
        millis: (at - started).as_secs_f64() * 1000.0,
        rss_kib,
        status,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let root = env!("CARGO_MANIFEST_DIR");
    let emulator = Arc::new(Emulator {
        event: Mutex::new(String::new()),
        served: Mutex::new(false),
        responded: Notify::new(),
        response: Mutex::new(None),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = emulator.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let emulator = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| serve(emulator.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let mut results = Vec::new();
    println!(
        "{:<10} {:>8} {:>10} {:>12} {:>7}",
        "function", "runs", "median ms", "peak RSS MiB", "status"
    );
    for (function, event_file) in FUNCTIONS {
        let binary = format!("{root}/target/release/{function}");
        let event = std::fs::read_to_string(format!("{root}/events/{event_file}")).unwrap();
        let mut times = Vec::new();
        let mut rss = 0;
        let mut status = 0;
        for _ in 0..runs {
            let run = cold_start(&binary, &event, addr, &emulator).await;
            times.push(run.millis);
            rss = rss.max(run.rss_kib);
            status = run.status;
        }
        let median_ms = median(times);
        println!(
            "{function:<10} {runs:>8} {median_ms:>10.2} {:>12.1} {status:>7}",
            rss as f64 / 1024.0
        );
        results.push(serde_json::json!({
            "function": function, "event": event_file, "runs": runs,
            "median_ms": median_ms, "peak_rss_mib": rss as f64 / 1024.0, "status": status,
        }));
    }
    std::fs::create_dir_all(format!("{root}/target/bench")).unwrap();
    std::fs::write(
        format!("{root}/target/bench/cold-start.json"),
        serde_json::to_string_pretty(&results).unwrap(),
    )
    .unwrap();
}
