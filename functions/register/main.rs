use alta_shared::{Deps, oauth::register, telemetry};
use lambda_http::{Error, run, service_fn};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let deps = Deps::from_env().await?;
    run(service_fn(|req| async {
        Ok::<_, Infallible>(register::handle(req, &deps).await)
    }))
    .await
}
