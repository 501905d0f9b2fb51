use super::*;

/// A stand-in runtime that talks the Runtime API the way a bootstrap does, and
/// misbehaves on request (`MODE`): echo, error, crash, hang, init-error.
const FAKE_RUNTIME: &str = r#"
import os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
mode = os.environ["MODE"]
def post(path, body):
    urllib.request.urlopen(urllib.request.Request(api + path, data=body, method="POST")).read()
if mode == "init-error":
    post("/init/error", b'{"errorMessage": "bad configuration", "errorType": "Runtime.Init"}')
    sys.exit(1)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = response.read()
    if mode == "crash":
        os._exit(3)
    if mode == "hang":
        time.sleep(60)
    if mode == "error":
        post("/invocation/" + request_id + "/error", b'{"errorMessage": "boom", "errorType": "Handler"}')
    else:
        post("/invocation/" + request_id + "/response", event)
"#;

fn python() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("python3"))
        .find(|candidate| candidate.is_file())
        .expect("python3 on PATH")
}

fn fake_function(mode: &str, timeout: Duration, max_containers: usize) -> Arc<Function> {
    Function::new(fake_config(mode, timeout, max_containers))
}

fn fake_config(mode: &str, timeout: Duration, max_containers: usize) -> FunctionConfig {
    let dir = std::env::temp_dir().join(format!("alta-stack-test-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bootstrap");
    std::fs::write(&script, format!("#!{}\n{FAKE_RUNTIME}", python().display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    FunctionConfig {
        logical_id: "FakeFunction".into(),
        function_name: "stack-FakeFunction-1".into(),
        arn: "arn:aws:lambda:eu-west-1:123456789012:function:stack-FakeFunction-1".into(),
        binary: script,
        memory_mb: 128,
        timeout,
        environment: BTreeMap::from([("MODE".to_owned(), mode.to_owned())]),
        region: "eu-west-1".into(),
        log_file: None,
        max_containers,
    }
}

#[tokio::test]
async fn each_invocation_writes_lambdas_start_end_and_report_lines_with_the_init_duration_once() {
    let log =
        std::env::temp_dir().join(format!("alta-stack-test-{}-report.log", std::process::id()));
    std::fs::write(&log, "").unwrap();
    let function = Function::new(FunctionConfig {
        log_file: Some(log.clone()),
        ..fake_config("echo", Duration::from_secs(10), 1)
    });
    for n in 0..2 {
        let answer = function.invoke(Bytes::from(format!("{{\"n\":{n}}}"))).await;
        assert!(matches!(answer, Outcome::Response(_)), "{answer:?}");
        for _ in 0..100 {
            if function.census().busy == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    function.stop_all();
    let text = std::fs::read_to_string(&log).unwrap();
    let platform: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("START") || l.starts_with("END") || l.starts_with("REPORT"))
        .collect();
    assert_eq!(platform.len(), 6, "{text}");
    let id = |line: &str| line.split_whitespace().nth(2).unwrap().to_owned();
    for invocation in platform.chunks(3) {
        assert!(
            invocation[0].starts_with("START RequestId: ")
                && invocation[0].ends_with(" Version: $LATEST")
        );
        assert!(invocation[1].starts_with("END RequestId: "));
        assert_eq!(id(invocation[0]), id(invocation[1]));
        assert_eq!(id(invocation[0]), id(invocation[2]));
        let fields: Vec<&str> = invocation[2].split('\t').collect();
        assert!(
            fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"),
            "{}",
            invocation[2]
        );
        assert!(fields[2].starts_with("Billed Duration: "));
        assert_eq!(fields[3], "Memory Size: 128 MB");
        assert!(fields[4].starts_with("Max Memory Used: ") && fields[4].ends_with(" MB"));
    }
    // The cold start carries the init phase; the warm one does not.
    assert!(platform[2].contains("\tInit Duration: "), "{}", platform[2]);
    assert!(!platform[5].contains("Init Duration"), "{}", platform[5]);
    std::fs::remove_file(&log).ok();
}

#[test]
fn a_report_line_is_as_lambda_writes_it() {
    assert_eq!(
        report_line(
            "r-1",
            Duration::from_micros(12_345),
            256,
            31,
            Some(Duration::from_micros(45_678))
        ),
        "REPORT RequestId: r-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB\tMax Memory Used: 31 MB\tInit Duration: 45.68 ms"
    );
    assert_eq!(
        report_line("r-2", Duration::from_micros(200), 128, 9, None),
        "REPORT RequestId: r-2\tDuration: 0.20 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB"
    );
}

fn error_type(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::RuntimeFailure { error_type, .. } => error_type,
        other => panic!("not a runtime failure: {other:?}"),
    }
}

#[tokio::test]
async fn a_warm_container_serves_the_next_invocation() {
    let function = fake_function("echo", Duration::from_secs(10), 5);
    let first = function.invoke(Bytes::from_static(b"{\"n\":1}")).await;
    assert_eq!(first, Outcome::Response(Bytes::from_static(b"{\"n\":1}")));
    // The container is busy until it asks for its next event.
    for _ in 0..100 {
        if function.census().busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = function.invoke(Bytes::from_static(b"{\"n\":2}")).await;
    assert_eq!(second, Outcome::Response(Bytes::from_static(b"{\"n\":2}")));
    assert_eq!(function.census().started, 1);
    function.stop_all();
}

#[tokio::test]
async fn a_handler_error_is_the_invocations_error_document() {
    let function = fake_function("error", Duration::from_secs(10), 5);
    let outcome = function.invoke(Bytes::from_static(b"{}")).await;
    assert_eq!(
        outcome,
        Outcome::HandlerError(Bytes::from_static(
            b"{\"errorMessage\": \"boom\", \"errorType\": \"Handler\"}"
        ))
    );
    function.stop_all();
}

#[tokio::test]
async fn a_crash_fails_the_invocation_and_the_next_one_starts_a_new_container() {
    let function = fake_function("crash", Duration::from_secs(10), 5);
    let outcome = function.invoke(Bytes::from_static(b"{}")).await;
    assert_eq!(error_type(&outcome), "Runtime.ExitError");
    let again = function.invoke(Bytes::from_static(b"{}")).await;
    assert_eq!(error_type(&again), "Runtime.ExitError");
    assert_eq!(function.census().started, 2);
}

#[tokio::test]
async fn an_invocation_past_the_timeout_is_killed() {
    let log = std::env::temp_dir().join(format!(
        "alta-stack-test-{}-timeout.log",
        std::process::id()
    ));
    std::fs::write(&log, "").unwrap();
    let function = Function::new(FunctionConfig {
        log_file: Some(log.clone()),
        ..fake_config("hang", Duration::from_secs(1), 5)
    });
    let started = std::time::Instant::now();
    let outcome = function.invoke(Bytes::from_static(b"{}")).await;
    assert_eq!(error_type(&outcome), "Sandbox.Timedout");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        function.census().containers,
        0,
        "the timed-out container is gone"
    );
    // Logged as Lambda logs it: what an operator's query for timeouts finds.
    let text = std::fs::read_to_string(&log).unwrap();
    let timed_out = text
        .lines()
        .find(|l| l.contains(" Task timed out after 1.00 seconds"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        timed_out.ends_with("Z") || timed_out.contains("Z "),
        "{timed_out}"
    );
    let report = text.lines().find(|l| l.starts_with("REPORT")).unwrap();
    assert!(report.ends_with("\tStatus: timeout"), "{report}");
    std::fs::remove_file(&log).ok();
}

#[tokio::test]
async fn an_init_error_fails_the_invocation_that_started_the_container() {
    let function = fake_function("init-error", Duration::from_secs(10), 5);
    let outcome = function.invoke(Bytes::from_static(b"{}")).await;
    assert!(
        matches!(
            error_type(&outcome),
            "Runtime.InitError" | "Runtime.ExitError"
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn invocations_beyond_the_concurrency_limit_are_throttled() {
    let function = fake_function("hang", Duration::from_secs(2), 1);
    let busy = tokio::spawn({
        let function = function.clone();
        async move { function.invoke(Bytes::from_static(b"{}")).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let throttled = function.invoke(Bytes::from_static(b"{}")).await;
    assert_eq!(error_type(&throttled), "TooManyRequestsException");
    assert_eq!(error_type(&busy.await.unwrap()), "Sandbox.Timedout");
}
