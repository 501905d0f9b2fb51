//! Signing in through an identity provider, against the test providers of `tests/idp`:
//! the real `oidc-provider` (its login and consent screens posted as a browser would) and
//! the broken one, each ID token check broken once. On the in-memory store and on
//! DynamoDB; they need Node.js and tests/idp's packages, so a bare `cargo test` skips them.

use crate::support;

use serde_json::{Value, json};
use support::Server as _;
use support::idp::{
    FAKE_SECRET, Idp, PROVIDER_SECRET, entry, follow, free_port, sign_in_at_provider,
};
use support::mcp::Mcp;
use support::oauth::{
    FlowClient, challenge, claims, get_page, hidden_field, offered_accounts, pending_field,
    post_authorize, preselected_account, verifier,
};
use support::{Backend, DEMO_PASSWORD, TestServer};

on_every_store!(
    ignore: "needs Node.js and tests/idp's packages; scripts/test runs it",
    "needs DynamoDB, Node.js and tests/idp's packages; scripts/test runs it";
    a_person_without_a_password_connects_through_their_companys_provider,
    a_globex_member_cannot_connect_globex_with_a_password,
    a_provider_button_links_by_verified_email_and_the_link_decides_after,
    each_broken_answer_of_a_provider_is_refused,
    the_state_is_single_use_and_bound_to_the_browser,
    people_the_provider_cannot_vouch_for_are_not_signed_in,
    a_provider_that_does_not_answer_gets_a_page,
    the_connections_page_signs_in_through_a_provider,
    each_store_call_of_the_callback_failing_leaves_a_clear_page,
);

/// The claims of a JWT, unverified.
fn heading(html: &str) -> &str {
    let start = html.find("<h1>").map_or(0, |i| i + 4);
    let end = html[start..]
        .find("</h1>")
        .map_or(html.len(), |i| start + i);
    &html[start..end]
}

async fn server_with(backend: Backend, providers: &[Value]) -> TestServer {
    let json = Value::Array(providers.to_vec()).to_string();
    TestServer::start_with(backend, &[("ALTA_IDENTITY_PROVIDERS", &json)]).await
}

/// Globex's own provider (the real one: domain globex.example, required by Globex) and an
/// open one everyone may choose (the broken provider, answering well unless asked not to).
/// The providers run as long as their `Idp`s are kept.
struct Setup {
    server: TestServer,
    globex: Idp,
    open: Idp,
}

async fn setup(backend: Backend) -> Setup {
    let (globex_port, open_port) = (free_port(), free_port());
    let server = server_with(
        backend,
        &[
            entry(
                "globex-sso",
                "Globex SSO",
                globex_port,
                PROVIDER_SECRET,
                json!({"domains": ["globex.example"], "accounts": ["acct_globex"]}),
            ),
            entry(
                "test-id",
                "Test ID",
                open_port,
                FAKE_SECRET,
                json!({"button": true}),
            ),
        ],
    )
    .await;
    let globex = Idp::provider(globex_port, &server).await;
    let open = Idp::fake(open_port).await;
    Setup {
        server,
        globex,
        open,
    }
}

/// The sign-in page's form, posted with `fields` (beside `request`): where Alta sends the
/// browser (a 303 to the provider), else the page.
async fn post_sign_in_page(
    client: &FlowClient,
    server: &TestServer,
    fields: &[(&str, &str)],
) -> Result<String, (u16, String)> {
    let url = client.authorize_url(server, &challenge(&verifier()), &[]);
    let page = get_page(&client.http, &url).await;
    post_pending(client, server, &pending_field(&page), fields).await
}

async fn post_pending(
    client: &FlowClient,
    server: &TestServer,
    pending: &str,
    fields: &[(&str, &str)],
) -> Result<String, (u16, String)> {
    let mut form = vec![("request", pending)];
    form.extend_from_slice(fields);
    let resp = post_authorize(&client.http, server, &form).await;
    let status = resp.status().as_u16();
    match status {
        302 | 303 => Ok(resp.headers()["location"].to_str().unwrap().to_owned()),
        _ => Err((status, resp.text().await.unwrap())),
    }
}

async fn get(client: &FlowClient, url: &str) -> (u16, String) {
    let resp = client.http.get(url).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn query(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Through the open (broken) provider in `mode`: Alta's callback URL.
async fn via_open_provider(
    client: &FlowClient,
    server: &TestServer,
    mode: &str,
    login_hint: Option<&str>,
) -> String {
    let to_provider = post_sign_in_page(client, server, &[("provider", "test-id")])
        .await
        .expect("a 303 to the provider");
    let mut url = url::Url::parse(&to_provider).unwrap();
    url.query_pairs_mut().append_pair("mode", mode);
    if let Some(hint) = login_hint {
        url.query_pairs_mut().append_pair("login_hint", hint);
    }
    follow(
        &client.http,
        url.as_str(),
        &server.url("/authorize/callback"),
    )
    .await
    .expect("the provider sends the browser back")
}

/// The code in the app's redirect after the account page's Allow for `account`.
async fn allow(
    client: &FlowClient,
    server: &TestServer,
    account_page: &str,
    account: &str,
) -> String {
    let location = post_pending(
        client,
        server,
        &pending_field(account_page),
        &[("account", account), ("decision", "allow")],
    )
    .await
    .expect("a redirect to the app");
    assert!(location.starts_with(&client.redirect_uri), "{location}");
    query(&location, "code").expect("a code")
}

async fn exchange(client: &FlowClient, server: &TestServer, code: &str, verifier: &str) -> Value {
    let (status, body) = client
        .token(
            server,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn a_person_without_a_password_connects_through_their_companys_provider(backend: Backend) {
    let Setup {
        server,
        globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let pkce = verifier();
    let url = client.authorize_url(&server, &challenge(&pkce), &[]);
    let page = get_page(&client.http, &url).await;
    assert!(
        page.contains("Sign in with Test ID"),
        "the open provider's button"
    );
    assert!(
        !page.contains("Sign in with Globex SSO"),
        "a domain's provider has no button"
    );
    // An email of Globex's domain goes to Globex's provider: no password is looked at.
    let to_provider = post_pending(
        &client,
        &server,
        &pending_field(&page),
        &[
            ("email", "SSO@globex.example"),
            ("password", ""),
            ("decision", "allow"),
        ],
    )
    .await
    .expect("a 303 to Globex's provider");
    assert_eq!(
        query(&to_provider, "login_hint").as_deref(),
        Some("sso@globex.example")
    );
    assert_eq!(
        query(&to_provider, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query(&to_provider, "nonce").is_some_and(|n| n.len() >= 43));
    let callback = sign_in_at_provider(
        &client.http,
        &to_provider,
        "sso@globex.example",
        &server.url("/authorize/callback"),
    )
    .await;
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(globex.issuer.as_str())
    );
    let (status, account_page) = get(&client, &callback).await;
    assert_eq!(status, 200, "{account_page}");
    // Consent is on the account page, even for one account: nothing is issued before Allow.
    // Shown at the callback's path, its form still posts to /authorize.
    assert!(
        account_page.contains(&format!("action=\"{}\"", server.url("/authorize"))),
        "{account_page}"
    );
    assert_eq!(
        offered_accounts(&account_page),
        ["acct_globex", "acct_acme"]
    );
    assert_eq!(
        preselected_account(&account_page).as_deref(),
        Some("acct_globex")
    );
    let code = allow(&client, &server, &account_page, "acct_globex").await;
    let tokens = exchange(&client, &server, &code, &pkce).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], "user_sso");
    assert_eq!(access["idp"], "globex-sso");
    assert_eq!(access["account_id"], "acct_globex");
    let account = Mcp::new(&server, tokens["access_token"].as_str().unwrap().to_owned())
        .call("get_account", json!({}))
        .await;
    assert_eq!(
        account.result()["structuredContent"]["id"],
        "acct_globex",
        "{:?}",
        account.result()
    );
    // A refresh keeps how the person signed in.
    let (status, refreshed) = client
        .refresh(&server, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["idp"],
        "globex-sso"
    );
}

async fn a_globex_member_cannot_connect_globex_with_a_password(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let (status, account_page) = post_sign_in_page(
        &client,
        &server,
        &[
            ("email", "demo@alta.local"),
            ("password", DEMO_PASSWORD),
            ("decision", "allow"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 200);
    assert!(
        account_page.contains("value=\"acct_globex\" disabled>"),
        "{account_page}"
    );
    assert!(account_page.contains("requires signing in with Globex SSO"));
    assert!(account_page.contains("name=\"provider\" value=\"globex-sso\""));
    assert_eq!(
        preselected_account(&account_page).as_deref(),
        Some("acct_acme")
    );
    // Posting Globex anyway is refused on the page, with no code.
    let (status, refused) = post_pending(
        &client,
        &server,
        &pending_field(&account_page),
        &[("account", "acct_globex"), ("decision", "allow")],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400);
    assert!(
        refused.contains("Globex requires signing in with Globex SSO."),
        "{refused}"
    );

    // Acme takes a password; once Acme requires a provider, that token's tool calls stop.
    let pkce = verifier();
    let url = client.authorize_url(&server, &challenge(&pkce), &[]);
    let page = get_page(&client.http, &url).await;
    let (_, account_page) = post_pending(
        &client,
        &server,
        &pending_field(&page),
        &[
            ("email", "demo@alta.local"),
            ("password", DEMO_PASSWORD),
            ("decision", "allow"),
        ],
    )
    .await
    .unwrap_err();
    let code = allow(&client, &server, &account_page, "acct_acme").await;
    let tokens = exchange(&client, &server, &code, &pkce).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["idp"], "password");
    let mcp = Mcp::new(&server, token);
    assert_eq!(
        mcp.call("get_account", json!({})).await.result()["structuredContent"]["id"],
        "acct_acme"
    );
    let mut acme = server
        .deps
        .directory
        .account("acct_acme")
        .await
        .unwrap()
        .unwrap();
    acme.required_idp = Some("test-id".into());
    server.deps.directory.put_account(&acme).await.unwrap();
    let refused = mcp.call("get_account", json!({})).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let challenge = refused.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("requires signing in through test-id"),
        "{challenge}"
    );
    // However the method is spelled in JSON (`\/` is `/`), the tool does not run.
    let escaped = mcp
        .raw(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools\/call","params":{"name":"get_account","arguments":{},
                "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
                "io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},
                "io.modelcontextprotocol/clientCapabilities":{}}}}"#,
            &[
                ("mcp-protocol-version", support::mcp::MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "get_account"),
            ],
        )
        .await;
    assert_eq!(escaped.status, 401, "{}", escaped.body);
    // And the grant's refresh token no longer refreshes.
    let (status, body) = client
        .refresh(&server, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

async fn a_provider_button_links_by_verified_email_and_the_link_decides_after(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let callback = via_open_provider(&client, &server, "ok", Some("demo@alta.local")).await;
    let (status, account_page) = get(&client, &callback).await;
    assert_eq!(status, 200, "{account_page}");
    assert!(account_page.contains("Signed in as demo@alta.local"));
    assert!(
        account_page.contains("value=\"acct_globex\" disabled>"),
        "Globex requires its own provider"
    );
    assert_eq!(
        preselected_account(&account_page).as_deref(),
        Some("acct_acme")
    );

    // The same subject later says it is someone else: the link, not the email, decides.
    let client = FlowClient::register(&server).await;
    let to_provider = post_sign_in_page(&client, &server, &[("provider", "test-id")])
        .await
        .unwrap();
    let mut url = url::Url::parse(&to_provider).unwrap();
    url.query_pairs_mut()
        .append_pair("login_hint", "viewer@alta.local")
        .append_pair("sub", "alta-demo-0004");
    let callback = follow(
        &client.http,
        url.as_str(),
        &server.url("/authorize/callback"),
    )
    .await
    .unwrap();
    let (status, account_page) = get(&client, &callback).await;
    assert_eq!(status, 200, "{account_page}");
    assert!(
        account_page.contains("Signed in as demo@alta.local"),
        "{account_page}"
    );
}

async fn each_broken_answer_of_a_provider_is_refused(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let cases = [
        ("wrong_aud", 400, "The sign-in could not be verified"),
        ("wrong_iss", 400, "The sign-in could not be verified"),
        (
            "iss_trailing_slash",
            400,
            "The sign-in could not be verified",
        ),
        ("wrong_nonce", 400, "The sign-in could not be verified"),
        ("no_nonce", 400, "The sign-in could not be verified"),
        ("expired", 400, "The sign-in could not be verified"),
        ("iat_future", 400, "The sign-in could not be verified"),
        ("unknown_kid", 400, "The sign-in could not be verified"),
        ("alg_none", 400, "The sign-in could not be verified"),
        (
            "hs256_jwks_secret",
            400,
            "The sign-in could not be verified",
        ),
        ("bad_signature", 400, "The sign-in could not be verified"),
        ("wrong_azp", 400, "The sign-in could not be verified"),
        (
            "wrong_callback_iss",
            400,
            "This sign-in came from the wrong place",
        ),
        ("error", 400, "The identity provider did not sign you in"),
    ];
    for (mode, status, title) in cases {
        let client = FlowClient::register(&server).await;
        let callback = via_open_provider(&client, &server, mode, Some("demo@alta.local")).await;
        let (got, html) = get(&client, &callback).await;
        assert_eq!((got, heading(&html)), (status, title), "{mode}: {html}");
        assert!(
            !html.contains("name=\"request\""),
            "{mode}: no consent form"
        );
    }
    // A callback without `iss` from a provider that says it always sends it: a mix-up.
    let client = FlowClient::register(&server).await;
    let callback = via_open_provider(&client, &server, "ok", Some("demo@alta.local")).await;
    let mut without_iss = url::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = without_iss
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    without_iss.query_pairs_mut().clear().extend_pairs(kept);
    let (status, html) = get(&client, without_iss.as_str()).await;
    assert_eq!(
        (status, heading(&html)),
        (400, "This sign-in came from the wrong place")
    );
    // The provider's error page leads back to the app, which hears access_denied.
    let client = FlowClient::register(&server).await;
    let callback = via_open_provider(&client, &server, "error", None).await;
    let (_, html) = get(&client, &callback).await;
    assert!(html.contains("Test ID answered: access_denied"), "{html}");
    let href = hidden_href(&html);
    assert!(href.starts_with(&client.redirect_uri), "{href}");
    assert_eq!(query(&href, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&href, "state").as_deref(), Some("st-123"));
    assert_eq!(query(&href, "iss").as_deref(), Some(server.base.as_str()));
}

/// The way-back link of an error page.
fn hidden_href(html: &str) -> String {
    let start = html.find("<a href=\"").unwrap() + 9;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

async fn the_state_is_single_use_and_bound_to_the_browser(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let callback = via_open_provider(&client, &server, "ok", Some("demo@alta.local")).await;
    // Lifted into another browser (no cookie): refused, and not spent.
    let elsewhere = FlowClient::register(&server).await;
    let (status, html) = get(&elsewhere, &callback).await;
    assert_eq!((status, heading(&html)), (400, "This sign-in has expired"));
    let (status, html) = get(&client, &callback).await;
    assert_eq!(status, 200, "{html}");
    let (status, html) = get(&client, &callback).await;
    assert_eq!(
        (status, heading(&html)),
        (400, "This sign-in was already used")
    );
    // A state from another sign-in page (another form of the same browser) is refused too.
    let (status, html) = get(
        &client,
        &server.url("/authorize/callback?state=forged&code=x"),
    )
    .await;
    assert_eq!((status, heading(&html)), (400, "This sign-in has expired"));
}

async fn people_the_provider_cannot_vouch_for_are_not_signed_in(backend: Backend) {
    let (fake_port, open_port) = (free_port(), free_port());
    let server = server_with(
        backend,
        &[
            entry(
                "globex-fake",
                "Globex Fake",
                fake_port,
                FAKE_SECRET,
                json!({"domains": ["globex.example"]}),
            ),
            entry(
                "test-id",
                "Test ID",
                open_port,
                FAKE_SECRET,
                json!({"button": true}),
            ),
        ],
    )
    .await;
    let _fake = Idp::fake(fake_port).await;
    let _open = Idp::fake(open_port).await;
    let cases = [
        // (email at the provider, mode)
        (
            "unverified@globex.example",
            "unverified_email",
            "has not verified this email",
        ),
        (
            "sso@globex.example",
            "no_email_verified",
            "has not verified this email",
        ),
        (
            "someone@elsewhere.example",
            "ok",
            "outside the identity provider&#39;s domains",
        ),
        ("nobody@globex.example", "ok", "no Alta user has this email"),
    ];
    for (email, mode, why) in cases {
        let client = FlowClient::register(&server).await;
        // Routed by the domain, then the provider says it is `email`.
        let to_provider = post_sign_in_page(
            &client,
            &server,
            &[("email", "sso@globex.example"), ("decision", "allow")],
        )
        .await
        .expect("a 303 to the domain's provider");
        let mut url = url::Url::parse(&to_provider).unwrap();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "login_hint")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("login_hint", email)
            .append_pair("mode", mode);
        let callback = follow(
            &client.http,
            url.as_str(),
            &server.url("/authorize/callback"),
        )
        .await
        .unwrap();
        let (status, html) = get(&client, &callback).await;
        assert_eq!(
            (status, heading(&html)),
            (403, "No Alta user matches"),
            "{email} {mode}"
        );
        assert!(html.contains(why), "{email} {mode}: {html}");
    }
    // The open provider (no domains) links a verified email of an Alta user, and only that.
    let client = FlowClient::register(&server).await;
    let callback =
        via_open_provider(&client, &server, "ok", Some("someone@elsewhere.example")).await;
    let (status, html) = get(&client, &callback).await;
    assert_eq!(
        (status, heading(&html)),
        (403, "No Alta user matches"),
        "{html}"
    );
}

async fn a_provider_that_does_not_answer_gets_a_page(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let callback = via_open_provider(&client, &server, "slow", Some("demo@alta.local")).await;
    let started = std::time::Instant::now();
    let (status, html) = get(&client, &callback).await;
    assert_eq!(
        (status, heading(&html)),
        (502, "The identity provider could not be reached"),
        "{html}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // A provider that is not there at all: the same page when its sign-in starts.
    let gone = server_with(
        backend,
        &[entry(
            "gone",
            "Gone",
            free_port(),
            FAKE_SECRET,
            json!({"button": true}),
        )],
    )
    .await;
    let client = FlowClient::register(&gone).await;
    let (status, html) = post_sign_in_page(&client, &gone, &[("provider", "gone")])
        .await
        .unwrap_err();
    assert_eq!(
        (status, heading(&html)),
        (502, "The identity provider could not be reached")
    );
}

async fn the_connections_page_signs_in_through_a_provider(backend: Backend) {
    let Setup {
        server,
        globex: _globex,
        open: _open,
    } = setup(backend).await;
    let client = FlowClient::register(&server).await;
    let page = get_page(&client.http, &server.url("/connections")).await;
    assert!(page.contains("Sign in with Test ID"), "{page}");
    let form = hidden_field(&page, "form");
    let resp = client
        .http
        .post(server.url("/connections"))
        .form(&[("form", form.as_str()), ("provider", "test-id")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let mut url = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("login_hint", "demo@alta.local");
    let callback = follow(
        &client.http,
        url.as_str(),
        &server.url("/authorize/callback"),
    )
    .await
    .unwrap();
    let (status, html) = get(&client, &callback).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Connected apps"), "{html}");
    assert!(html.contains("Signed in as demo@alta.local"), "{html}");
    assert!(
        !html.contains("action=\"connections\""),
        "forms post to the page's absolute URL: {html}"
    );
    // An email of Globex's domain is sent to Globex's provider from here too.
    let page = get_page(&client.http, &server.url("/connections")).await;
    let form = hidden_field(&page, "form");
    let resp = client
        .http
        .post(server.url("/connections"))
        .form(&[
            ("form", form.as_str()),
            ("email", "sso@globex.example"),
            ("action", "sign_in"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query(&location, "login_hint").as_deref(),
        Some("sso@globex.example")
    );
}

/// Each store call of the callback failed in turn (`support::faults`): a clear page (a 4xx,
/// or a 503 with `Retry-After`), never a 500; starting again from the app then works.
async fn each_store_call_of_the_callback_failing_leaves_a_clear_page(backend: Backend) {
    use std::sync::Arc;
    use support::faults::{FaultPlan, Faulty};

    let port = free_port();
    let providers = Value::Array(vec![entry(
        "test-id",
        "Test ID",
        port,
        FAKE_SECRET,
        json!({"button": true}),
    )])
    .to_string();
    let plan = Arc::new(FaultPlan::default());
    let wrap = plan.clone();
    let server = TestServer::start_wrapped(
        backend,
        &[("ALTA_IDENTITY_PROVIDERS", providers.as_str())],
        move |deps| Faulty::around(deps, wrap),
    )
    .await;
    let _fake = Idp::fake(port).await;
    for n in 1..40 {
        let client = FlowClient::register(&server).await;
        let callback = via_open_provider(&client, &server, "ok", Some("demo@alta.local")).await;
        plan.arm(n);
        let resp = client.http.get(&callback).send().await.unwrap();
        plan.disarm();
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let html = resp.text().await.unwrap();
        let Some(call) = plan.failed() else {
            assert_eq!(status, 200, "{html}");
            assert!(html.contains("Signed in as demo@alta.local"));
            return;
        };
        assert!(
            status < 500 || (status == 503 && retry_after),
            "{call} failing: {status} {html}"
        );
        assert!(
            !html.contains("name=\"request\"") || status == 200,
            "{call}: {html}"
        );
        // The person starts again from the app.
        let client = FlowClient::register(&server).await;
        let callback = via_open_provider(&client, &server, "ok", Some("demo@alta.local")).await;
        let (status, html) = get(&client, &callback).await;
        assert_eq!(status, 200, "after {call} failed: {html}");
    }
    panic!("the callback made more than 40 store calls");
}
