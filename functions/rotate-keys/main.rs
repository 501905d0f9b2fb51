use alta_shared::clock::{Clock, SystemClock};
use alta_shared::key_rotation::{RotationEvent, rotate};
use alta_shared::{aws, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let endpoint = std::env::var("ALTA_SECRETSMANAGER_ENDPOINT").ok();
    let sdk = aws::sdk_config(endpoint.is_some()).await;
    let client = aws::secretsmanager_client(&sdk, endpoint.as_deref());
    let client = &client;
    run(service_fn(
        move |event: LambdaEvent<RotationEvent>| async move {
            // A failed step must fail the invocation: Secrets Manager then retries it.
            rotate(client, &event.payload, SystemClock.now())
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
