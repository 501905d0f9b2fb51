//! AWS SDK clients, built once per container from the `Config`.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// The roots AWS service endpoints chain to (Amazon Root CA 1–4, and Starfield Services
/// Root CA G2 behind them): all the SDK's HTTPS client needs to trust.
pub(crate) const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-roots.pem");

/// The SDK's HTTPS client (rustls on aws-lc), trusting only Amazon's roots: loading the
/// system's whole store (~150 certificates, parsed from disk) cost every container a few
/// milliseconds of its cold start. An https endpoint of someone else's (`https_elsewhere`,
/// a local emulator behind TLS) gets the system's roots as before.
fn https_client(https_elsewhere: bool) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let trust = if https_elsewhere {
        TrustStore::default()
    } else {
        TrustStore::empty().with_pem_certificate(AMAZON_ROOTS)
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store of PEM certificates");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The SDK configuration of the environment (Lambda's role, or the developer's profile).
/// When a local endpoint is configured and the environment holds no credentials, static
/// placeholder credentials and a region are supplied: local DynamoDB implementations and
/// moto accept any signature, and nobody should need an AWS account to run the tests.
pub async fn sdk_config(local_endpoint: bool) -> SdkConfig {
    sdk_config_with(local_endpoint, false).await
}

/// As [`sdk_config`]; `https_elsewhere` when an endpoint is https but not AWS's.
pub async fn sdk_config_with(local_endpoint: bool, https_elsewhere: bool) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(budget())
        .http_client(https_client(https_elsewhere));
    if local_endpoint {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "alta-local",
            ));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new("us-east-1"));
        }
    }
    loader.load().await
}

/// Every AWS call's budget, retries included: well inside the shortest function timeout
/// (10 s), so that a slow dependency costs a 503, not a timed-out invocation.
pub const OPERATION_BUDGET: Duration = Duration::from_secs(5);

fn budget() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(OPERATION_BUDGET)
        .build()
}

pub fn dynamodb_client(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if crate::aws_calls::enabled() {
        builder = builder.interceptor(crate::aws_calls::CallCounter);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

pub fn secretsmanager_client(
    sdk: &SdkConfig,
    endpoint: Option<&str>,
) -> aws_sdk_secretsmanager::Client {
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if crate::aws_calls::enabled() {
        builder = builder.interceptor(crate::aws_calls::CallCounter);
    }
    aws_sdk_secretsmanager::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DynamoDB that accepts connections and never answers.
    async fn silent_endpoint() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_silent_dependency_fails_within_the_operation_budget() {
        let sdk = sdk_config(true).await;
        let client = dynamodb_client(&sdk, Some(&silent_endpoint().await));
        let started = std::time::Instant::now();
        let result = client.describe_table().table_name("any").send().await;
        assert!(result.is_err());
        // Not a speed target: the budget is what keeps a 10 s function from timing out.
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "{:?}",
            started.elapsed()
        );
    }
}
