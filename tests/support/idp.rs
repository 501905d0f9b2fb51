//! The test OpenID providers of `tests/idp` (Node.js): panva's `oidc-provider` with its
//! login and consent screens, and a deliberately broken one that answers in the mode a
//! test asks for. Each runs on its own loopback port for one test and stops with it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::Server;

pub const CLIENT_ID: &str = "alta";
/// The providers' secrets: one each, so that a mix-up of them fails.
pub const PROVIDER_SECRET: &str = "provider-secret";
pub const FAKE_SECRET: &str = "fake-secret";

/// A provider process; killed when dropped.
pub struct Idp {
    pub issuer: String,
    child: tokio::process::Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/idp")
}

/// A port nobody listens on now: a provider's issuer must be known before the Alta server
/// that names it starts, and the provider needs that server's callback URL.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn issuer_at(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

impl Idp {
    async fn start(script: &str, port: u16, args: &[String]) -> Self {
        let ready = std::env::temp_dir().join(format!(
            "alta-idp-{}-{}.ready",
            std::process::id(),
            alta_shared::random::token(8)
        ));
        let child = tokio::process::Command::new("node")
            .arg(idp_dir().join(script))
            .args(["--port", &port.to_string(), "--ready-file"])
            .arg(&ready)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs tests/idp (scripts/test installs its packages)");
        for _ in 0..200 {
            if let Ok(issuer) = std::fs::read_to_string(&ready) {
                let _ = std::fs::remove_file(&ready);
                // One request first: a Node process answers its first one slowly, and
                // the tests start many at once on two cores.
                let discovery = format!("{issuer}/.well-known/openid-configuration");
                let warm = reqwest::get(&discovery)
                    .await
                    .expect("the provider answers");
                assert_eq!(warm.status(), 200, "{discovery}");
                return Self { issuer, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{script} did not start within 10 s");
    }

    /// `oidc-provider` on `port`, sending people back to `server`'s callback.
    pub async fn provider(port: u16, server: &impl Server) -> Self {
        let args = [
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            PROVIDER_SECRET,
            "--redirect-uri",
            &server.url("/authorize/callback"),
        ];
        Self::start("provider.mjs", port, &args.map(str::to_owned)).await
    }

    /// The broken provider on `port` (its token endpoint takes `client_secret_post`, to
    /// prove Alta follows the metadata).
    pub async fn fake(port: u16) -> Self {
        let args = [
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            FAKE_SECRET,
            "--auth-method",
            "client_secret_post",
        ];
        Self::start("fake.mjs", port, &args.map(str::to_owned)).await
    }
}

/// An `ALTA_IDENTITY_PROVIDERS` entry.
pub fn entry(id: &str, name: &str, port: u16, secret: &str, extra: Value) -> Value {
    let mut entry = json!({
        "id": id,
        "display_name": name,
        "issuer": issuer_at(port),
        "client_id": CLIENT_ID,
        "client_secret": secret,
    });
    entry
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    entry
}

/// Follows redirects from `url` with `http` (a cookie jar shared with Alta) until a page
/// answers, or until a redirect points at `stop` (Alta's callback): that URL.
pub async fn follow(
    http: &reqwest::Client,
    url: &str,
    stop: &str,
) -> Result<String, (u16, String)> {
    let mut next = url.to_owned();
    for _ in 0..10 {
        if next.starts_with(stop) {
            return Ok(next);
        }
        let resp = http.get(&next).send().await.unwrap();
        let status = resp.status().as_u16();
        if !(300..400).contains(&status) {
            let at = resp.url().to_string();
            return Err((status, format!("{at}\n{}", resp.text().await.unwrap())));
        }
        let location = resp.headers()["location"].to_str().unwrap();
        next = url::Url::parse(&next)
            .unwrap()
            .join(location)
            .unwrap()
            .to_string();
    }
    panic!("too many redirects from {url}");
}

/// Signs in at `oidc-provider` as `login` (its login and consent screens, posted as a
/// browser would), from the authorization URL Alta redirected to: Alta's callback URL.
pub async fn sign_in_at_provider(
    http: &reqwest::Client,
    authorization_url: &str,
    login: &str,
    alta_callback: &str,
) -> String {
    let page_url = |page: (u16, String)| {
        assert_eq!(page.0, 200, "{}", page.1);
        page.1.lines().next().unwrap().to_owned()
    };
    let login_page = page_url(
        follow(http, authorization_url, alta_callback)
            .await
            .unwrap_err(),
    );
    let after_login = post_and_follow(
        http,
        &login_page,
        &[("prompt", "login"), ("login", login), ("password", "x")],
        alta_callback,
    )
    .await
    .unwrap_err();
    let consent_page = page_url(after_login);
    post_and_follow(http, &consent_page, &[("prompt", "consent")], alta_callback)
        .await
        .expect("the provider sends the browser back to Alta")
}

async fn post_and_follow(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    stop: &str,
) -> Result<String, (u16, String)> {
    let resp = http.post(url).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    assert!((300..400).contains(&status), "posting {url}: {status}");
    let location = resp.headers()["location"].to_str().unwrap();
    let next = url::Url::parse(url)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string();
    follow(http, &next, stop).await
}
