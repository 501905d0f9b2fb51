//! What the flow tests share: the local server in-process on a free loopback port, on
//! either store, and (in the submodules) clients, keys, events and the emulated stack.

use std::collections::HashMap;
use std::sync::Arc;

use alta_shared::clock::{Clock, ManualClock, SystemClock};
use alta_shared::{Config, Deps};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Memory,
    /// The DynamoDB at `ALTA_TEST_DYNAMODB_ENDPOINT` (dynalite, started by scripts/test),
    /// with fresh tables per server.
    DynamoDb,
}

pub const DEMO_PASSWORD: &str = "alta-demo";

pub struct TestServer {
    pub base: String,
    pub deps: Arc<Deps>,
    /// The server's clock: tests move it to expire codes and tokens.
    pub clock: Arc<ManualClock>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        Self::start_wrapped(backend, extra, |deps| deps).await
    }

    /// A server whose dependencies `wrap` changes once they are built and seeded (a fault
    /// injector in front of the stores).
    pub async fn start_wrapped(
        backend: Backend,
        extra: &[(&str, &str)],
        wrap: impl FnOnce(Deps) -> Deps,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Backend::DynamoDb = backend {
            vars.insert("ALTA_STORE".into(), "dynamodb".into());
            vars.insert("ALTA_DYNAMODB_ENDPOINT".into(), dynamodb_endpoint());
            vars.insert("ALTA_TABLE_PREFIX".into(), unique_prefix());
        }
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        let config =
            Config::from_lookup(|k| vars.get(k).cloned(), Some(&base)).expect("test config");
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let deps = Deps::from_config(config, true)
            .await
            .expect("build dependencies")
            .with_clock(clock.clone());
        alta_shared::demo::seed_directory(deps.directory.as_ref(), DEMO_PASSWORD, deps.clock.now())
            .await
            .expect("seed the demo directory");
        alta_shared::demo::seed_alta_data(deps.alta.as_ref(), deps.clock.now())
            .await
            .expect("seed the demo data");
        alta_shared::demo::load_identity_providers(
            deps.identities.as_ref(),
            deps.directory.as_ref(),
            &deps.local_providers,
        )
        .await
        .expect("load the identity providers");
        let deps = Arc::new(wrap(deps));
        let (tx, rx) = oneshot::channel();
        tokio::spawn(alta_local::serve(listener, deps.clone(), async {
            let _ = rx.await;
        }));
        Self {
            base,
            deps,
            clock,
            shutdown: Some(tx),
        }
    }
}

/// Where the flow helpers send their requests: the local server in process, or an
/// emulated stack.
pub trait Server {
    fn base(&self) -> &str;

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }
}

impl Server for TestServer {
    fn base(&self) -> &str {
        &self.base
    }
}

impl<S: Server + ?Sized> Server for Arc<S> {
    fn base(&self) -> &str {
        (**self).base()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("ALTA_TEST_DYNAMODB_ENDPOINT").expect(
        "ALTA_TEST_DYNAMODB_ENDPOINT must name a DynamoDB endpoint (scripts/test starts dynalite)",
    )
}

pub fn secretsmanager_endpoint() -> String {
    std::env::var("ALTA_TEST_SECRETSMANAGER_ENDPOINT")
        .expect("ALTA_TEST_SECRETSMANAGER_ENDPOINT must name a Secrets Manager endpoint (scripts/test starts moto)")
}

/// Table names unique to one test, so tests sharing one dynalite never see each other.
pub fn unique_prefix() -> String {
    let token = alta_shared::random::token(6)
        .to_ascii_lowercase()
        .replace(['-', '_'], "x");
    format!("t{token}-")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Declares each test once per store: in memory always; on DynamoDB when the test
/// script provides one (it runs the ignored tests with `--include-ignored`).
macro_rules! on_every_store {
    // Tests that need more than the store (test identity providers, moto): both ignored by
    // a bare `cargo test`, each with what it needs.
    (ignore: $memory:literal, $dynamodb:literal; $($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                #[ignore = $memory]
                async fn $name() {
                    super::$name($crate::support::Backend::Memory).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = $dynamodb]
                async fn $name() {
                    super::$name($crate::support::Backend::DynamoDb).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::support::Backend::Memory).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
                async fn $name() {
                    super::$name($crate::support::Backend::DynamoDb).await;
                }
            )*
        }
    };
}
pub mod client_keys;
pub mod clients;
pub mod events;
pub mod faults;
pub mod https;
pub mod idp;
pub mod mcp;
pub mod oauth;
pub mod stack;
