use std::sync::Arc;

use alta_shared::{Config, Deps, telemetry};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init_local();
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(3000);
    let default_base = format!("http://127.0.0.1:{port}");
    let config = Config::from_lookup(|k| std::env::var(k).ok(), Some(&default_base))?;
    let create_tables = std::env::var("ALTA_CREATE_TABLES").is_ok_and(|v| v == "1" || v == "true");
    let deps = Arc::new(Deps::from_config(config, create_tables).await?);
    alta_shared::demo::seed_directory(
        deps.directory.as_ref(),
        &deps.config.demo_password,
        deps.clock.now(),
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
