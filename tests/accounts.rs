//! People with several accounts and several devices: the account chosen at consent binds
//! the grant (and every token of it), membership and role are checked on every call,
//! installs of one client do not sign each other out, and the connections page lists and
//! disconnects grants. On the in-memory store and on DynamoDB.

use crate::support;

use support::Server as _;

use alta_shared::directory::{Membership, Role};
use alta_shared::jwt::{AccessTokenClaims, sign_access_token};
use alta_shared::records::grant::MAX_GRANTS_PER_SHARED_CLIENT;
use serde_json::{Value, json};
use support::mcp::Mcp;
use support::oauth::{
    Authorization, FlowClient, SignIn, challenge, claims, get_page, offered_accounts,
    pending_field, post_authorize, verifier,
};
use support::{Backend, DEMO_PASSWORD, TestServer, http};

on_every_store!(
    a_person_with_several_accounts_chooses_one_at_consent,
    membership_removal_and_role_changes_apply_at_once,
    installs_of_one_client_do_not_sign_each_other_out,
    the_connections_page_lists_and_disconnects_grants,
);

/// The claims of a JWT, unverified: what the token says, for the test to read.
async fn get_account(server: &TestServer, token: &str) -> Value {
    let answer = Mcp::new(server, token.to_owned())
        .call("get_account", json!({}))
        .await;
    answer.result().clone()
}

async fn a_person_with_several_accounts_chooses_one_at_consent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let pkce = verifier();
    let url = client.authorize_url(&server, &challenge(&pkce), &[]);
    let page = get_page(&client.http, &url).await;
    // demo@ is Admin of Acme (first) and Member of Globex: the account page lists both,
    // with their roles, the first preselected.
    let pending = pending_field(&page);
    let fields = [
        ("request", pending.as_str()),
        ("email", "demo@alta.local"),
        ("password", DEMO_PASSWORD),
        ("decision", "allow"),
    ];
    let resp = post_authorize(&client.http, &server, &fields).await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let account_page = resp.text().await.unwrap();
    assert_eq!(
        offered_accounts(&account_page),
        ["acct_acme", "acct_globex"]
    );
    assert_eq!(
        support::oauth::preselected_account(&account_page).as_deref(),
        Some("acct_acme")
    );
    for shown in [
        "Acme Corp",
        "Admin",
        "Globex",
        "Member",
        "Signed in as demo@alta.local",
    ] {
        assert!(account_page.contains(shown), "{shown}: {account_page}");
    }
    let signed_in = pending_field(&account_page);
    // An account the person is not a member of: the page again, no code.
    let SignIn::Page(400, again) = client
        .choose_account(&server, &signed_in, "acct_initech", "allow")
        .await
    else {
        panic!("a foreign account must not give a code");
    };
    assert!(again.contains("Choose one of your accounts"), "{again}");
    // Without the browser's cookie, the signed-in form is worthless.
    let stranger = FlowClient::new(client.client_id.clone());
    let SignIn::Page(400, expired) = stranger
        .choose_account(&server, &signed_in, "acct_globex", "allow")
        .await
    else {
        panic!("a lifted form must not give a code");
    };
    assert!(expired.contains("expired"), "{expired}");
    // Globex: the code, its tokens and every refresh act there.
    let SignIn::Redirected(location) = client
        .choose_account(&server, &signed_in, "acct_globex", "allow")
        .await
    else {
        panic!("choosing an account redirects to the client");
    };
    let auth = Authorization {
        code: location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap(),
        state: None,
        iss: None,
        verifier: pkce,
    };
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["account_id"], "acct_globex");
    let account = get_account(&server, access).await;
    let info = &account["structuredContent"];
    assert_eq!(
        (info["id"].as_str(), info["role"].as_str()),
        (Some("acct_globex"), Some("Member"))
    );
    assert_eq!(info["other_accounts"][0]["id"], "acct_acme");
    assert!(
        info["switching"]
            .as_str()
            .unwrap()
            .contains("connect it again")
    );
    let text = account["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("Connected account: Globex") && text.contains("Acme Corp"),
        "{text}"
    );
    let campaigns = Mcp::new(&server, access.to_owned())
        .call("list_campaigns", json!({}))
        .await;
    let ids: Vec<&str> = campaigns.result()["structuredContent"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["camp_globex_intro"]);
    let (status, refreshed) = client
        .refresh(&server, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let again = refreshed["access_token"].as_str().unwrap();
    assert_eq!(claims(again)["account_id"], "acct_globex");
    assert_eq!(
        get_account(&server, again).await["structuredContent"]["id"],
        "acct_globex"
    );

    // Deny on the account page goes back as access_denied.
    let page = get_page(&client.http, &url).await;
    let pending = pending_field(&page);
    let fields = [
        ("request", pending.as_str()),
        ("email", "demo@alta.local"),
        ("password", DEMO_PASSWORD),
        ("decision", "allow"),
    ];
    let resp = post_authorize(&client.http, &server, &fields).await;
    let choice = pending_field(&resp.text().await.unwrap());
    let SignIn::Redirected(denied) = client
        .choose_account(&server, &choice, "acct_acme", "deny")
        .await
    else {
        panic!("deny redirects");
    };
    assert!(
        denied
            .query_pairs()
            .any(|(k, v)| k == "error" && v == "access_denied")
    );

    // A token that names no account (an external identity provider's, or one from before
    // account choice) acts in the person's first account.
    let keys = server.deps.signing_keys.current().await.unwrap();
    let now = server.deps.clock.now();
    let unnamed = sign_access_token(
        keys.newest_key(),
        &AccessTokenClaims {
            iss: server.base.clone(),
            sub: alta_shared::demo::DEMO_USER.into(),
            aud: server.url("/mcp"),
            exp: now + 3600,
            iat: now,
            jti: "external-1".into(),
            client_id: "external".into(),
            scope: "campaigns:read".into(),
            grant_id: None,
            account_id: None,
            idp: None,
        },
    )
    .unwrap();
    assert_eq!(
        get_account(&server, &unnamed).await["structuredContent"]["id"],
        "acct_acme"
    );

    // A person with one account never sees the page, and gets that account.
    let manager = FlowClient::register(&server).await;
    let auth = manager.authorize_as(&server, "manager@alta.local").await;
    let (_, tokens) = manager.exchange(&server, &auth).await;
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["account_id"],
        "acct_acme"
    );
}

async fn membership_removal_and_role_changes_apply_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server)
        .await
        .choosing_account("acct_globex");
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (_, tokens) = client.exchange(&server, &auth).await;
    let mcp = Mcp::new(&server, tokens["access_token"].as_str().unwrap().to_owned());
    let pause = || {
        mcp.call(
            "pause_campaign",
            json!({"campaign_id": "camp_globex_intro"}),
        )
    };
    let denied = pause().await;
    assert_eq!(denied.result()["isError"], true, "a Member may not pause");
    let user = server
        .deps
        .directory
        .user_by_email("demo@alta.local")
        .await
        .unwrap()
        .unwrap();
    let member = server
        .deps
        .directory
        .memberships(&user.user_id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.account_id == "acct_globex")
        .unwrap();
    server
        .deps
        .directory
        .put_membership(&Membership {
            role: Role::Admin,
            ..member
        })
        .await
        .unwrap();
    let allowed = pause().await;
    assert_eq!(
        allowed.result()["isError"],
        false,
        "the new role, at once: {}",
        allowed.body
    );
    server
        .deps
        .directory
        .remove_membership(&user.user_id, "acct_globex")
        .await
        .unwrap();
    let removed = mcp.call("get_account", json!({})).await;
    assert_eq!(removed.result()["isError"], true);
    let text = removed.result()["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("Globex (acct_globex)") && text.contains("no longer a member"),
        "{text}"
    );
    // Not silently the person's other account.
    assert!(!text.contains("Acme"), "{text}");
}

async fn installs_of_one_client_do_not_sign_each_other_out(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Claude's pre-configured client: one client_id on every laptop.
    let claude = || {
        FlowClient::new("claude")
            .redirecting_to("https://claude.ai/api/mcp/auth_callback")
            .choosing_account("acct_acme")
    };
    let mut sessions = Vec::new();
    for _ in 0..MAX_GRANTS_PER_SHARED_CLIENT + 1 {
        let laptop = claude();
        let auth = laptop.authorize_as(&server, "demo@alta.local").await;
        let (status, tokens) = laptop.exchange(&server, &auth).await;
        assert_eq!(status, 200, "{tokens}");
        sessions.push((laptop, tokens["refresh_token"].as_str().unwrap().to_owned()));
        server.clock.advance(1);
    }
    // A consent whose code is never redeemed ends nothing.
    let abandoned = claude();
    let url = abandoned.authorize_url(&server, &challenge(&verifier()), &[]);
    let SignIn::Redirected(_) = abandoned
        .sign_in(&server, &url, "demo@alta.local", DEMO_PASSWORD, "allow")
        .await
    else {
        panic!("consent redirects");
    };
    let mut alive = Vec::new();
    for (laptop, refresh_token) in &sessions {
        let (status, _) = laptop.refresh(&server, refresh_token).await;
        alive.push(status == 200);
    }
    // The five most recent stay signed in; the oldest, beyond five, is ended.
    let mut expected = vec![true; MAX_GRANTS_PER_SHARED_CLIENT + 1];
    expected[0] = false;
    assert_eq!(alive, expected);

    // A dynamically registered client is one install: its new grant replaces the old one,
    // but only when the new code is redeemed.
    let registered = FlowClient::register(&server).await;
    let auth = registered.authorize_as(&server, "manager@alta.local").await;
    let (_, first) = registered.exchange(&server, &auth).await;
    let pending = registered.authorize_as(&server, "manager@alta.local").await;
    let (status, first) = registered
        .refresh(&server, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "an unredeemed consent ends nothing: {first}");
    let (status, _) = registered.exchange(&server, &pending).await;
    assert_eq!(status, 200);
    let (status, _) = registered
        .refresh(&server, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 400, "redeeming the new code replaced the old grant");
}

/// The connections page: sign in, the list, Disconnect.
async fn the_connections_page_lists_and_disconnects_grants(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Two apps for demo@: a registered one in Acme, Claude in Globex.
    let registered = http()
        .post(server.url("/register"))
        .json(&json!({"client_name": "<b>Evil</b> Notes", "redirect_uris": [support::oauth::REDIRECT_URI]}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let notes =
        FlowClient::new(registered["client_id"].as_str().unwrap()).choosing_account("acct_acme");
    let auth = notes.authorize_as(&server, "demo@alta.local").await;
    let (_, notes_tokens) = notes.exchange(&server, &auth).await;
    let claude = FlowClient::new("claude")
        .redirecting_to("https://claude.ai/api/mcp/auth_callback")
        .choosing_account("acct_globex");
    let auth = claude.authorize_as(&server, "demo@alta.local").await;
    let (_, claude_tokens) = claude.exchange(&server, &auth).await;
    server.clock.advance(120);
    let (_, claude_tokens) = claude
        .refresh(&server, claude_tokens["refresh_token"].as_str().unwrap())
        .await;

    let browser = support::oauth::browser();
    let page = browser
        .get(server.url("/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    let html = page.text().await.unwrap();
    let form = form_field(&html);
    let post = |fields: Vec<(&'static str, String)>| {
        let browser = browser.clone();
        let url = server.url("/connections");
        async move {
            let resp = browser.post(url).form(&fields).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, wrong) = post(vec![
        ("form", form.clone()),
        ("email", "demo@alta.local".into()),
        ("password", "wrong".into()),
        ("action", "sign_in".into()),
    ])
    .await;
    assert_eq!(status, 200);
    assert!(wrong.contains("Invalid email or password"), "{wrong}");
    let (status, list) = post(vec![
        ("form", form.clone()),
        ("email", "demo@alta.local".into()),
        ("password", DEMO_PASSWORD.into()),
        ("action", "sign_in".into()),
    ])
    .await;
    assert_eq!(status, 200, "{list}");
    for shown in [
        "Signed in as demo@alta.local",
        "&lt;b&gt;Evil&lt;/b&gt; Notes",
        "Claude",
        "claude.ai",
        "127.0.0.1",
        "Account: Acme Corp",
        "Account: Globex",
        "campaigns:read, campaigns:write, inbox:read",
        "Connected ",
        "Last used ",
    ] {
        assert!(list.contains(shown), "{shown}: {list}");
    }
    assert!(!list.contains("<b>Evil</b>"), "names are escaped");
    // Most recently used first: Claude refreshed after Notes was connected.
    assert!(list.find("Account: Globex").unwrap() < list.find("Account: Acme Corp").unwrap());

    // The signed-in form, without the browser's cookie, is refused.
    let signed_in = form_field(&list);
    let grant = claims(claude_tokens["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lifted = http()
        .post(server.url("/connections"))
        .form(&[
            ("form", signed_in.as_str()),
            ("grant", &grant),
            ("action", "disconnect"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), 400);
    assert!(lifted.text().await.unwrap().contains("expired"));
    let claude_mcp = Mcp::new(
        &server,
        claude_tokens["access_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(claude_mcp.call("get_account", json!({})).await.status, 200);

    let (status, after) = post(vec![
        ("form", signed_in.clone()),
        ("grant", grant.clone()),
        ("action", "disconnect".into()),
    ])
    .await;
    assert_eq!(status, 200);
    assert!(after.contains("Disconnected Claude"), "{after}");
    assert!(!after.contains("Account: Globex"), "{after}");
    assert!(after.contains("Account: Acme Corp"));
    // Its access ends at once: the next MCP call is 401, and its refresh token is dead.
    assert_eq!(claude_mcp.call("get_account", json!({})).await.status, 401);
    let (status, _) = claude
        .refresh(&server, claude_tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 400);
    // The other app is untouched.
    let notes_mcp = Mcp::new(
        &server,
        notes_tokens["access_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(notes_mcp.call("get_account", json!({})).await.status, 200);
    // Disconnecting again, or someone else's grant, changes nothing.
    let (_, again) = post(vec![
        ("form", signed_in.clone()),
        ("grant", grant),
        ("action", "disconnect".into()),
    ])
    .await;
    assert!(again.contains("already disconnected"), "{again}");

    // Sign-in here is throttled like the consent page's (one wrong password was counted
    // above, and the success cleared it).
    let mut last = (0, String::new());
    for _ in 0..=alta_shared::oauth::sign_in::MAX_SIGN_IN_FAILURES {
        last = post(vec![
            ("form", form.clone()),
            ("email", "demo@alta.local".into()),
            ("password", "wrong".into()),
            ("action", "sign_in".into()),
        ])
        .await;
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert!(last.1.contains("Too many failed sign-ins"));
}

/// The hidden `form` field of a connections page.
fn form_field(html: &str) -> String {
    support::oauth::hidden_field(html, "form")
}
