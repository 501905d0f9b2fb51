use alta_shared::{Deps, mcp, telemetry};
use lambda_http::{Error, run, service_fn};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let deps = Deps::from_env().await?;
    run(service_fn(|req| async {
        Ok::<_, Infallible>(mcp::handle(req, &deps).await)
    }))
    .await
}
