use std::sync::Arc;

use alta_shared::{Config, Deps, demo, telemetry};
use tokio::net::TcpListener;

/// MCP Inspector's default origins: a browser-based client a developer runs next to the
/// local server, allowed unless `ALTA_ALLOWED_ORIGINS` says otherwise.
const LOCAL_DEFAULT_ORIGINS: &str = "http://localhost:6274,http://127.0.0.1:6274";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init_local();
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let default_base = format!("http://127.0.0.1:{port}");
    let lookup = |name: &str| match (name, std::env::var(name)) {
        (_, Ok(value)) => Some(value),
        ("ALTA_ALLOWED_ORIGINS", Err(_)) => Some(LOCAL_DEFAULT_ORIGINS.to_owned()),
        _ => None,
    };
    let config = Config::from_lookup(lookup, Some(&default_base))?;
    let create_tables = config.create_tables;
    let deps = Arc::new(Deps::from_config(config, create_tables).await?);
    let now = deps.clock.now();
    demo::seed_directory(deps.directory.as_ref(), &deps.config.demo_password, now).await?;
    demo::seed_alta_data(deps.alta.as_ref(), now).await?;
    demo::load_identity_providers(
        deps.identities.as_ref(),
        deps.directory.as_ref(),
        &deps.local_providers,
    )
    .await?;

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{}", alta_local::banner(&deps));
    alta_local::serve(listener, deps, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
