//! Logging: JSON lines for CloudWatch in Lambda, readable lines on a terminal.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("ALTA_LOG_LEVEL")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// For Lambda: one JSON object per line, no colours, no timestamp (CloudWatch adds one).
/// The line's `span` is the Lambda runtime's invocation span, whose `requestId` ties each
/// line to its request (Logs Insights: `span.requestId`).
pub fn init_lambda() {
    // The runtime's span is at INFO: kept whatever the level, so that a WARN or ERROR line
    // still names its request.
    let filter = match "lambda_runtime=info".parse() {
        Ok(directive) => filter().add_directive(directive),
        Err(_) => filter(),
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// For the local server.
pub fn init_local() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .try_init();
}
