//! Each store call of each operation failed in turn (`support::faults`), on the in-memory
//! store and on DynamoDB. Every answer is a success or a clear error (a 4xx, or a 503 with
//! `Retry-After`: OAuth `temporarily_unavailable`, a JSON-RPC error, an error page), never
//! a 500 or a dropped connection; the retry a client or person would make then succeeds or
//! fails clearly; and no fault leaves more access than intended: a revocation or
//! disconnect that answered success has ended the grant, a code is never good twice, a
//! refresh never leaves a token working that the family's end should have killed, and a
//! revoked token is never served because the revocation check failed. What a person sees
//! after each fault is in docs/security.md ("Faults").

use crate::support;

use support::Server as _;

use std::sync::Arc;

use alta_shared::oauth::sign_in::SIGN_IN_FAILURE_WINDOW_SECONDS;
use serde_json::{Value, json};
use support::faults::{FaultPlan, Faulty};
use support::mcp::{Mcp, ping_status};
use support::oauth::{
    Authorization, FlowClient, challenge, hidden_field, pending_field, post_authorize, verifier,
};
use support::{Backend, DEMO_PASSWORD, TestServer, http};

on_every_store!(
    signing_in_and_allowing,
    exchanging_a_code,
    refreshing,
    revoking,
    disconnecting,
    calling_a_tool,
    a_revoked_token_is_never_served_when_the_check_fails,
    registering,
);

/// Past any operation's number of store calls: reaching it means the loop never ended.
const MAX_CALLS: usize = 40;

async fn faulty_server(backend: Backend) -> (TestServer, Arc<FaultPlan>) {
    let plan = Arc::new(FaultPlan::default());
    let wrap = plan.clone();
    let server =
        TestServer::start_wrapped(backend, &[], move |deps| Faulty::around(deps, wrap)).await;
    (server, plan)
}

/// One HTTP answer, as far as the checks need it.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: bool,
    location: Option<String>,
    body: String,
}

impl Answer {
    async fn of(resp: reqwest::Response) -> Self {
        Self {
            status: resp.status().as_u16(),
            retry_after: resp.headers().contains_key("retry-after"),
            location: resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: resp.text().await.unwrap(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A success or a clear error: never a 500, and a 503 says when to come back.
    fn assert_clear(&self, what: &str, call: &str) {
        assert!(
            self.status < 500 || (self.status == 503 && self.retry_after),
            "{what} with {call} failing answered {} (Retry-After: {}): {}",
            self.status,
            self.retry_after,
            self.body
        );
        if self.status == 503 && self.body.starts_with('{') {
            let body = self.json();
            assert!(
                body["error"] == "temporarily_unavailable" || body["error"]["code"].is_i64(),
                "{what} with {call} failing: {body}"
            );
        }
    }
}

/// Each iteration starts a fresh sign-in window: faulted sign-ins count as failures.
fn next_window(server: &TestServer) {
    server.clock.advance(SIGN_IN_FAILURE_WINDOW_SECONDS + 1);
}

async fn token_request(server: &TestServer, client: &FlowClient, form: &[(&str, &str)]) -> Answer {
    let mut fields: Vec<(&str, String)> = client.credentials(server);
    fields.extend(form.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Answer::of(
        http()
            .post(server.url("/token"))
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn exchange(server: &TestServer, client: &FlowClient, auth: &Authorization) -> Answer {
    token_request(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &auth.code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &auth.verifier),
        ],
    )
    .await
}

async fn refresh(server: &TestServer, client: &FlowClient, token: &str) -> Answer {
    token_request(
        server,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// A person signed in through a fresh client: its client and tokens.
async fn signed_in(server: &TestServer) -> (FlowClient, Value) {
    let client = FlowClient::register(server).await;
    let auth = client.authorize_as(server, "manager@alta.local").await;
    let answer = exchange(server, &client, &auth).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    (client, answer.json())
}

fn text(tokens: &Value, name: &str) -> String {
    tokens[name].as_str().unwrap().to_owned()
}

async fn signing_in_and_allowing(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let client = FlowClient::register(&server).await;
        let v = verifier();
        let page = client
            .http
            .get(client.authorize_url(&server, &challenge(&v), &[]))
            .send()
            .await
            .unwrap();
        let pending = pending_field(&page.text().await.unwrap());
        let fields = [
            ("request", pending.as_str()),
            ("email", "manager@alta.local"),
            ("password", DEMO_PASSWORD),
            ("decision", "allow"),
        ];
        plan.arm(n);
        let answer = Answer::of(post_authorize(&client.http, &server, &fields).await).await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert!(answer.location.is_some(), "{answer:?}");
            return;
        };
        answer.assert_clear("sign-in", call);
        let delivered = |a: &Answer| a.location.clone().filter(|l| l.contains("code="));
        if let Some(location) = &answer.location
            && delivered(&answer).is_none()
        {
            // RFC 6749 §4.1.2.1: the app is told, and may send the person back.
            assert!(
                location.contains("error=temporarily_unavailable"),
                "{call}: {location}"
            );
        }
        if delivered(&answer).is_some() {
            continue;
        }
        // The person posts the page again: a code, or "already used" and a fresh start
        // from the app.
        let again = Answer::of(post_authorize(&client.http, &server, &fields).await).await;
        again.assert_clear("sign-in again", call);
        if delivered(&again).is_none() {
            assert!(again.body.contains("already used"), "{call}: {again:?}");
            let auth = client.authorize_as(&server, "manager@alta.local").await;
            assert_eq!(
                exchange(&server, &client, &auth).await.status,
                200,
                "{call}"
            );
        }
    }
    panic!("signing in made more than {MAX_CALLS} store calls");
}

async fn exchanging_a_code(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let client = FlowClient::register(&server).await;
        let auth = client.authorize_as(&server, "manager@alta.local").await;
        plan.arm(n);
        let first = exchange(&server, &client, &auth).await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert_eq!(first.status, 200, "{}", first.body);
            return;
        };
        first.assert_clear("code exchange", call);
        let retry = exchange(&server, &client, &auth).await;
        retry.assert_clear("code exchange retried", call);
        // A code is good once: never two token responses for it.
        assert!(
            !(first.status == 200 && retry.status == 200),
            "{call}: the code worked twice"
        );
        if retry.status == 200 {
            let access = text(&retry.json(), "access_token");
            assert_eq!(ping_status(&server, &access).await.0, 200, "{call}");
        } else if first.status != 200 {
            // The code was taken by the failed attempt: the person signs in again.
            assert_eq!(
                retry.json()["error"],
                "invalid_grant",
                "{call}: {}",
                retry.body
            );
            let auth = client.authorize_as(&server, "manager@alta.local").await;
            assert_eq!(
                exchange(&server, &client, &auth).await.status,
                200,
                "{call}"
            );
        }
    }
    panic!("a code exchange made more than {MAX_CALLS} store calls");
}

async fn refreshing(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let (client, tokens) = signed_in(&server).await;
        let first_token = text(&tokens, "refresh_token");
        plan.arm(n);
        let first = refresh(&server, &client, &first_token).await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert_eq!(first.status, 200, "{}", first.body);
            return;
        };
        first.assert_clear("refresh", call);
        // The client retries with the token it holds (its response was lost).
        let retry = refresh(&server, &client, &first_token).await;
        retry.assert_clear("refresh retried", call);
        assert_eq!(
            retry.status, 200,
            "{call}: a retry within the grace works: {}",
            retry.body
        );
        let successor = text(&retry.json(), "refresh_token");
        let next = refresh(&server, &client, &successor).await;
        assert_eq!(
            next.status, 200,
            "{call}: the successor works: {}",
            next.body
        );
        // Revoking what the client holds ends every token of the family, including any
        // successor the failed attempt wrote and nobody received.
        assert_eq!(
            client
                .revoke(&server, &text(&next.json(), "refresh_token"))
                .await,
            200
        );
        for token in [&first_token, &successor] {
            assert_eq!(refresh(&server, &client, token).await.status, 400, "{call}");
        }
        if first.status == 200 {
            let lost = text(&first.json(), "refresh_token");
            assert_eq!(refresh(&server, &client, &lost).await.status, 400, "{call}");
        }
    }
    panic!("a refresh made more than {MAX_CALLS} store calls");
}

async fn revoking(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let (client, tokens) = signed_in(&server).await;
        let (access, refresh_token) = (
            text(&tokens, "access_token"),
            text(&tokens, "refresh_token"),
        );
        let mut fields = client.credentials(&server);
        fields.push(("token", refresh_token.clone()));
        plan.arm(n);
        let first = Answer::of(
            http()
                .post(server.url("/revoke"))
                .form(&fields)
                .send()
                .await
                .unwrap(),
        )
        .await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert_eq!(first.status, 200);
            return;
        };
        first.assert_clear("revocation", call);
        if first.status != 200 {
            // RFC 7009 §2.2.1: the client retries.
            assert_eq!(client.revoke(&server, &refresh_token).await, 200, "{call}");
        }
        // Answered 200 (first or retry): the grant has ended, access token included.
        assert_eq!(
            refresh(&server, &client, &refresh_token).await.status,
            400,
            "{call}"
        );
        assert_eq!(ping_status(&server, &access).await.0, 401, "{call}");
    }
    panic!("a revocation made more than {MAX_CALLS} store calls");
}

async fn disconnecting(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let (client, tokens) = signed_in(&server).await;
        let access = text(&tokens, "access_token");
        let browser = support::oauth::browser();
        let page = browser
            .get(server.url("/connections"))
            .send()
            .await
            .unwrap();
        let form = hidden_field(&page.text().await.unwrap(), "form");
        let list = browser
            .post(server.url("/connections"))
            .form(&[
                ("form", form.as_str()),
                ("email", "manager@alta.local"),
                ("password", DEMO_PASSWORD),
                ("action", "sign_in"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = hidden_field(&list, "form");
        let grant = hidden_field(&list, "grant");
        let post = || {
            browser
                .post(server.url("/connections"))
                .form(&[
                    ("form", form.as_str()),
                    ("grant", grant.as_str()),
                    ("action", "disconnect"),
                ])
                .send()
        };
        plan.arm(n);
        let first = Answer::of(post().await.unwrap()).await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert!(first.body.contains("Disconnected "), "{}", first.body);
            return;
        };
        first.assert_clear("disconnect", call);
        if !first.body.contains("Disconnected ") {
            let again = Answer::of(post().await.unwrap()).await;
            assert_eq!(again.status, 200, "{call}: {}", again.body);
        }
        assert_eq!(ping_status(&server, &access).await.0, 401, "{call}");
        let _ = client;
    }
    panic!("a disconnect made more than {MAX_CALLS} store calls");
}

async fn calling_a_tool(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    for n in 1..MAX_CALLS {
        next_window(&server);
        let (_, tokens) = signed_in(&server).await;
        let mcp = Mcp::new(&server, text(&tokens, "access_token"));
        plan.arm(n);
        let first = mcp
            .call(
                "pause_campaign",
                json!({"campaign_id": "camp_acme_q4_outreach"}),
            )
            .await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert_eq!(first.status, 200);
            return;
        };
        assert!(
            first.status < 500
                || (first.status == 503 && first.headers.contains_key("retry-after")),
            "{call}: {} {}",
            first.status,
            first.body
        );
        let retry = mcp
            .call(
                "pause_campaign",
                json!({"campaign_id": "camp_acme_q4_outreach"}),
            )
            .await;
        assert_eq!(retry.status, 200, "{call}: {}", retry.body);
        let result = retry.result();
        assert_eq!(
            result["structuredContent"]["status"], "paused",
            "{call}: {result}"
        );
        // Back to active for the next round.
        let resumed = mcp
            .call(
                "resume_campaign",
                json!({"campaign_id": "camp_acme_q4_outreach"}),
            )
            .await;
        assert_eq!(resumed.result()["structuredContent"]["status"], "active");
    }
    panic!("a tool call made more than {MAX_CALLS} store calls");
}

async fn a_revoked_token_is_never_served_when_the_check_fails(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let access = text(&tokens, "access_token");
    assert_eq!(client.revoke(&server, &access).await, 200);
    for n in 1..MAX_CALLS {
        plan.arm(n);
        let (status, _) = ping_status(&server, &access).await;
        plan.disarm();
        assert!(
            status == 401 || status == 503,
            "{status}: a revoked token was served"
        );
        if plan.failed().is_none() {
            return;
        }
    }
    panic!("an MCP request made more than {MAX_CALLS} store calls");
}

async fn registering(backend: Backend) {
    let (server, plan) = faulty_server(backend).await;
    let body = json!({"client_name": "Faults", "redirect_uris": [support::oauth::REDIRECT_URI],
                      "token_endpoint_auth_method": "none"});
    for n in 1..MAX_CALLS {
        plan.arm(n);
        let first = Answer::of(
            http()
                .post(server.url("/register"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        plan.disarm();
        let Some(call) = plan.failed() else {
            assert_eq!(first.status, 201);
            return;
        };
        first.assert_clear("registration", call);
        let retry = Answer::of(
            http()
                .post(server.url("/register"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(retry.status, 201, "{call}: {}", retry.body);
    }
    panic!("a registration made more than {MAX_CALLS} store calls");
}
