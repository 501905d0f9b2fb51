use alta_shared::clock::{Clock, SystemClock};
use alta_shared::key_rotation::{RotationEvent, RotationTarget, rotate};
use alta_shared::{Config, aws, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env()?;
    let target = RotationTarget::from_config(&config)?;
    let sdk = aws::sdk_config(config.secretsmanager_endpoint.is_some()).await;
    let client = aws::secretsmanager_client(&sdk, config.secretsmanager_endpoint.as_deref());
    let (client, target) = (&client, &target);
    run(service_fn(
        move |event: LambdaEvent<RotationEvent>| async move {
            // A failed step must fail the invocation: Secrets Manager then retries it.
            rotate(client, &event.payload, SystemClock.now(), target)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
