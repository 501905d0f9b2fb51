//! What anyone on the internet can send: values far longer than any real one, control
//! characters, markup, and the like, at every endpoint. Each gets a clear answer (an OAuth
//! error, an error page, an `isError` tool result), never a 5xx: on DynamoDB a value that
//! becomes a key past its size limit would otherwise be refused by the service and taken
//! for an outage. Also the sign-in throttles, which key failures by email and source.
//! On the in-memory store and on DynamoDB.

use crate::support;

use support::Server as _;

use alta_shared::oauth::sign_in::{
    MAX_SIGN_IN_FAILURES, MAX_SIGN_IN_FAILURES_PER_EMAIL, Refusal, sign_in,
};
use serde_json::{Value, json};
use support::mcp::Mcp;
use support::oauth::{FlowClient, access_token, challenge, get_page, pending_field, verifier};
use support::{Backend, DEMO_PASSWORD, TestServer, http};

on_every_store!(
    oversized_ids_and_cursors_are_invalid_arguments,
    an_oversized_email_at_sign_in_gets_a_clear_page,
    hostile_values_never_get_a_5xx,
    a_guesser_locks_out_only_their_own_address,
    one_email_guessed_from_many_addresses_reaches_its_ceiling,
    an_ipv6_caller_is_counted_by_its_64,
);

/// Values no real client sends: each must be answered, never fail the server.
fn hostile_values() -> Vec<String> {
    vec![
        String::new(),
        "a".repeat(3000),
        "é".repeat(1500),
        "\u{0}".into(),
        "x\ny\r\nz".into(),
        "<script>alert(1)</script>".into(),
        "' OR '1'='1".into(),
        "../../../etc/passwd".into(),
        "\u{202e}evil".into(),
        "%00%ff".into(),
        "{\"$gt\":\"\"}".into(),
    ]
}

const ALL: &str = "campaigns:read campaigns:write inbox:read";

fn is_tool_error(answer: &support::mcp::Answer) -> bool {
    answer.status == 200 && answer.body["result"]["isError"] == true
}

async fn oversized_ids_and_cursors_are_invalid_arguments(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mcp = Mcp::new(&server, access_token(&server, "demo@alta.local", ALL).await);
    let long = "c".repeat(1500);
    let calls: [(&str, Value); 7] = [
        ("get_campaign", json!({"campaign_id": long})),
        ("pause_campaign", json!({"campaign_id": long})),
        ("resume_campaign", json!({"campaign_id": long})),
        ("get_email", json!({"email_id": long})),
        ("list_emails", json!({"inbox_id": long})),
        ("list_emails", json!({"campaign_id": long})),
        ("list_campaigns", json!({"cursor": "x".repeat(3000)})),
    ];
    for (tool, arguments) in calls {
        let answer = mcp.call(tool, arguments.clone()).await;
        assert!(
            is_tool_error(&answer),
            "{tool} {arguments}: {}",
            answer.body
        );
        let text = answer.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains("Invalid arguments"), "{tool}: {text}");
    }
    // The longest id a tool takes is still looked up, and simply not found.
    let answer = mcp
        .call("get_campaign", json!({"campaign_id": "c".repeat(200)}))
        .await;
    assert!(is_tool_error(&answer), "{}", answer.body);
    assert!(
        !answer.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Invalid arguments")
    );
}

async fn an_oversized_email_at_sign_in_gets_a_clear_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let email = format!("{}@example.com", "a".repeat(3000));
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let support::oauth::SignIn::Page(status, html) = client
        .sign_in(&server, &url, &email, "whatever", "allow")
        .await
    else {
        panic!("no page");
    };
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("too long"), "{html}");

    // The connected-apps page signs in the same way.
    let browser = support::oauth::browser();
    let page = get_page(&browser, &server.url("/connections")).await;
    let form = support::oauth::hidden_field(&page, "form");
    let resp = browser
        .post(server.url("/connections"))
        .form(&[
            ("form", form.as_str()),
            ("email", email.as_str()),
            ("password", "whatever"),
            ("action", "sign_in"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("too long"));
}

async fn hostile_values_never_get_a_5xx(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let mcp = Mcp::new(&server, access_token(&server, "demo@alta.local", ALL).await);
    let page = get_page(
        &client.http,
        &client.authorize_url(&server, &challenge(&verifier()), &[]),
    )
    .await;
    let pending = pending_field(&page);
    for value in hostile_values() {
        let v = value.as_str();
        let mut statuses: Vec<(&str, u16)> = Vec::new();
        let form = |fields: &[(&str, &str)], path: &str| {
            http().post(server.url(path)).form(&fields.to_vec()).send()
        };
        for fields in [
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", v),
                ("code", "c"),
            ],
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", client.client_id.as_str()),
                ("code", v),
                ("code_verifier", v),
            ],
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", client.client_id.as_str()),
                ("refresh_token", v),
                ("scope", v),
            ],
            vec![("grant_type", v), ("client_id", client.client_id.as_str())],
        ] {
            statuses.push((
                "token",
                form(&fields, "/token").await.unwrap().status().as_u16(),
            ));
        }
        let revoked = form(
            &[("client_id", client.client_id.as_str()), ("token", v)],
            "/revoke",
        )
        .await
        .unwrap();
        statuses.push(("revoke", revoked.status().as_u16()));
        let registered = http()
            .post(server.url("/register"))
            .json(&json!({"client_name": v, "redirect_uris": [v]}))
            .send()
            .await
            .unwrap();
        statuses.push(("register", registered.status().as_u16()));
        let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", v)
            .append_pair("redirect_uri", v)
            .append_pair("state", v);
        statuses.push((
            "authorize GET",
            http().get(url).send().await.unwrap().status().as_u16(),
        ));
        let posted = client.post_form(&server, &pending, v, v, "allow").await;
        let status = match posted {
            support::oauth::SignIn::Page(status, _) => status,
            support::oauth::SignIn::Redirected(_) => 302,
        };
        statuses.push(("authorize POST", status));
        for (tool, arguments) in [
            ("get_campaign", json!({"campaign_id": v})),
            ("get_email", json!({"email_id": v})),
            (
                "list_emails",
                json!({"inbox_id": v, "campaign_id": v, "query": v}),
            ),
            ("list_inboxes", json!({"cursor": v})),
        ] {
            let answer = mcp.call(tool, arguments).await;
            statuses.push(("tools/call", answer.status));
        }
        for (what, status) in statuses {
            assert!(
                status < 500,
                "{what} answered {status} to {:?}",
                truncate(v)
            );
        }
    }
}

fn truncate(v: &str) -> String {
    v.chars().take(40).collect()
}

/// A request from `address`, as API Gateway or the local server names its source.
fn from(address: &str) -> lambda_http::Request {
    http::Request::builder()
        .header("x-forwarded-for", address)
        .body(lambda_http::Body::Empty)
        .unwrap()
}

async fn attempt(
    server: &TestServer,
    address: &str,
    email: &str,
    password: &str,
) -> Result<(), String> {
    sign_in(&from(address), &server.deps, email, password.to_owned())
        .await
        .map(|_| ())
        .map_err(|refusal| match refusal {
            Refusal::Retry(status, message) => format!("{status} {message}"),
            Refusal::Unavailable(cause) => format!("unavailable: {cause}"),
        })
}

async fn a_guesser_locks_out_only_their_own_address(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = "manager@alta.local";
    for _ in 0..=MAX_SIGN_IN_FAILURES {
        assert!(
            attempt(&server, "198.51.100.7", owner, "guess")
                .await
                .is_err()
        );
    }
    let locked = attempt(&server, "198.51.100.7", owner, DEMO_PASSWORD).await;
    assert!(
        locked.as_ref().is_err_and(|e| e.starts_with("429")),
        "the guesser's address is locked for that email: {locked:?}"
    );
    assert_eq!(
        attempt(&server, "203.0.113.9", owner, DEMO_PASSWORD).await,
        Ok(()),
        "the owner, elsewhere, signs in"
    );
}

async fn one_email_guessed_from_many_addresses_reaches_its_ceiling(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = "viewer@alta.local";
    // The owner has signed in from home before the guessing starts.
    assert_eq!(
        attempt(&server, "192.0.2.10", owner, DEMO_PASSWORD).await,
        Ok(())
    );
    for i in 0..MAX_SIGN_IN_FAILURES_PER_EMAIL {
        let address = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        let refused = attempt(&server, &address, owner, "guess").await;
        assert!(
            refused.is_err_and(|e| e.starts_with("200")),
            "a wrong password"
        );
    }
    let locked = attempt(&server, "192.0.2.200", owner, DEMO_PASSWORD).await;
    assert!(
        locked.as_ref().is_err_and(|e| e.starts_with("429")),
        "an address never used for this email is refused: {locked:?}"
    );
    assert_eq!(
        attempt(&server, "192.0.2.10", owner, DEMO_PASSWORD).await,
        Ok(()),
        "the owner's known address is not locked out"
    );
}

async fn an_ipv6_caller_is_counted_by_its_64(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (i, address) in ["2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ffff::9"]
        .into_iter()
        .enumerate()
    {
        let email = format!("nobody{i}@example.com");
        assert!(attempt(&server, address, &email, "guess").await.is_err());
    }
    let now = alta_shared::clock::Clock::now(server.deps.clock.as_ref());
    let key = |address: &str| {
        format!(
            "ip-{}",
            alta_shared::http::source_address_key(&from(address)).unwrap()
        )
    };
    let counted = |address: String| {
        let deps = server.deps.clone();
        async move {
            deps.directory
                .sign_in_failures(&address, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        counted(key("2001:db8:7:1::abcd")).await,
        3,
        "one /64, one count"
    );
    assert_eq!(counted(key("2001:db8:7:2::1")).await, 0, "another /64");
}
