//! The OAuth flow over real HTTP, as an MCP client walks it: register → authorize (GET the
//! page, parse the form, POST) → token → refresh → replay detection → revoke. Every test
//! runs on the in-memory store and on DynamoDB.

use crate::support;

use support::Server as _;

use alta_shared::clock::Clock;
use alta_shared::jwks::{Jwks, VerificationKeys};
use alta_shared::jwt::verify_access_token;
use alta_shared::oauth::authorize::{MAX_SIGN_IN_FAILURES, MAX_SIGN_IN_FAILURES_PER_ADDRESS};
use alta_shared::records::grant::{
    GrantRecord, MAX_GRANT_HOST_BYTES, MAX_GRANT_NAME_BYTES, REFRESH_REUSE_GRACE_RETRIES,
    REFRESH_REUSE_GRACE_SECONDS, revoked_family_key, revoked_jti_key,
};
use alta_shared::records::ids::UserId;
use serde_json::Value;
use support::mcp::ping_status;
use support::oauth::{FlowClient, REDIRECT_URI, SignIn, challenge, get_page, verifier};
use support::{Backend, DEMO_PASSWORD, TestServer, http};

on_every_store!(
    full_flow_issues_a_verifiable_access_token_and_a_refresh_token,
    refresh_rotates_and_a_replayed_token_revokes_its_family,
    rotated_token_retried_within_the_grace_gets_a_successor,
    a_reuse_after_the_successor_was_used_revokes_the_family_even_within_the_grace,
    a_rotated_token_is_retried_four_times_at_most_and_the_fifth_revokes_the_family,
    parallel_refreshes_of_one_token_cannot_fork_the_family_past_the_grace,
    a_used_grace_successor_ends_the_grace_of_its_predecessor,
    a_revoked_familys_last_access_token_stays_dead_past_the_familys_end,
    ended_grants_leave_the_persons_grants_and_the_least_recently_used_is_crowded_out,
    scopes_clients_add_on_their_own_are_accepted_and_never_granted,
    replayed_code_fails_and_revokes_what_it_issued,
    expired_code_is_invalid_grant,
    twenty_concurrent_redemptions_of_one_code_succeed_once,
    deny_redirects_with_access_denied_state_and_iss,
    wrong_password_shows_one_generic_error_and_throttles,
    parallel_wrong_passwords_for_one_email_are_verified_at_most_the_limit,
    failures_from_one_address_across_emails_are_limited,
    user_without_an_account_gets_a_clear_page,
    unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect,
    request_errors_redirect_only_to_a_trusted_client_with_state_and_iss,
    token_endpoint_errors_are_rfc6749,
    resource_mismatch_at_the_token_endpoint_leaves_the_code_usable,
    forged_or_cookieless_form_is_refused,
    a_submitted_form_replayed_with_its_cookie_gets_no_second_code,
    revoking_a_refresh_token_kills_its_family_and_an_access_token_its_jti,
    access_tokens_die_with_their_grant,
    a_new_grant_revokes_the_previous_one,
    refresh_may_narrow_scope_but_not_widen_it,
    mcp_accepts_the_access_token_until_it_is_revoked,
    an_active_client_stays_registered_and_an_idle_one_is_forgotten,
);

async fn jwks(server: &TestServer) -> VerificationKeys {
    let jwks: Jwks = http()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    VerificationKeys::from(&jwks)
}

async fn jti_is_revoked(server: &TestServer, access_token: &str) -> bool {
    let claims = verify_access_token(
        access_token,
        &jwks(server).await,
        &server.base,
        &server.url("/mcp"),
    )
    .unwrap();
    let now = server.deps.clock.now();
    server
        .deps
        .revocations
        .is_revoked(&revoked_jti_key(&claims.jti), now)
        .await
        .unwrap()
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn signed_in(server: &TestServer) -> (FlowClient, Value) {
    let client = FlowClient::register(server).await;
    let auth = client.authorize_as(server, "demo@alta.local").await;
    let (status, tokens) = client.exchange(server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    (client, tokens)
}

async fn full_flow_issues_a_verifiable_access_token_and_a_refresh_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    assert_eq!(auth.state.as_deref(), Some("st-123"));
    assert_eq!(
        auth.iss.as_deref(),
        Some(server.base.as_str()),
        "RFC 9207 iss"
    );
    assert!(auth.code.len() >= 43, "a 256-bit code");

    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "campaigns:read campaigns:write inbox:read");
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    let claims = verify_access_token(
        tokens["access_token"].as_str().unwrap(),
        &jwks(&server).await,
        &server.base,
        &server.url("/mcp"),
    )
    .unwrap();
    assert_eq!(claims.sub, alta_shared::demo::DEMO_USER);
    assert_eq!(claims.client_id, client.client_id);
    assert_eq!(claims.scope, "campaigns:read campaigns:write inbox:read");
    assert_eq!(claims.exp, claims.iat + 3600);
}

async fn refresh_rotates_and_a_replayed_token_revokes_its_family(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = client.refresh(&server, &first).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);

    server.clock.advance(REFRESH_REUSE_GRACE_SECONDS + 1);
    let (status, err) = client.refresh(&server, &first).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");
    let (status, err) = client.refresh(&server, &second).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family is revoked"
    );
}

async fn rotated_token_retried_within_the_grace_gets_a_successor(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (_, rotated) = client.refresh(&server, &first).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    // The response carrying `second` was lost; the client retries with `first`.
    let (status, retried) = client.refresh(&server, &first).await;
    assert_eq!(status, 200, "{retried}");
    let third = retried["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(third, second);
    let (status, _) = client.refresh(&server, &third).await;
    assert_eq!(status, 200, "the person is still signed in");
}

async fn a_reuse_after_the_successor_was_used_revokes_the_family_even_within_the_grace(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (_, rotated) = client.refresh(&server, &first).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = client.refresh(&server, &second).await;
    assert_eq!(
        status, 200,
        "the client used its successor: the response was not lost"
    );
    let third = rotated["refresh_token"].as_str().unwrap().to_owned();
    // Within the grace, `first` again is a stolen copy, not a retry.
    let (status, err) = client.refresh(&server, &first).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = client.refresh(&server, &third).await;
    assert_eq!(status, 400, "the whole family is revoked");
}

fn refresh_token_of(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

async fn a_rotated_token_is_retried_four_times_at_most_and_the_fifth_revokes_the_family(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = refresh_token_of(&tokens);
    let (_, rotated) = client.refresh(&server, &first).await;
    let mut successors = vec![refresh_token_of(&rotated)];
    // Four processes of one app, sharing one credential file, each refreshing with it.
    for _ in 0..REFRESH_REUSE_GRACE_RETRIES {
        let (status, retried) = client.refresh(&server, &first).await;
        assert_eq!(status, 200, "{retried}");
        successors.push(refresh_token_of(&retried));
    }
    let (status, err) = client.refresh(&server, &first).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "one presentation more is theft"
    );
    for successor in &successors {
        let (status, _) = client.refresh(&server, successor).await;
        assert_eq!(status, 400, "every successor is revoked with its family");
    }
}

async fn parallel_refreshes_of_one_token_cannot_fork_the_family_past_the_grace(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = refresh_token_of(&tokens);
    let answers =
        futures_util::future::join_all((0..8).map(|_| client.refresh(&server, &first))).await;
    let successors: Vec<String> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, tokens)| refresh_token_of(tokens))
        .collect();
    assert!(
        successors.len() <= 1 + REFRESH_REUSE_GRACE_RETRIES as usize,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|(status, err)| *status == 400 && err["error"] == "invalid_grant"),
        "{answers:?}"
    );
    for successor in &successors {
        let (status, _) = client.refresh(&server, successor).await;
        assert_eq!(status, 400, "no live chain is left: the family is revoked");
    }
}

async fn a_used_grace_successor_ends_the_grace_of_its_predecessor(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let first = refresh_token_of(&tokens);
    let (_, rotated) = client.refresh(&server, &first).await;
    let second = refresh_token_of(&rotated);
    let (status, retried) = client.refresh(&server, &first).await;
    assert_eq!(status, 200, "{retried}");
    // The retry's successor is used: that response was not lost.
    let (status, used) = client.refresh(&server, &refresh_token_of(&retried)).await;
    assert_eq!(status, 200, "{used}");
    let (status, err) = client.refresh(&server, &first).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    for token in [second, refresh_token_of(&used)] {
        let (status, _) = client.refresh(&server, &token).await;
        assert_eq!(status, 400, "the whole family is revoked");
    }
}

async fn a_revoked_familys_last_access_token_stays_dead_past_the_familys_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let family_end = server.deps.clock.now() + server.deps.config.tokens.family;
    // Refreshed often enough to stay alive to the family's last minutes.
    let mut refresh = refresh_token_of(&tokens);
    for _ in 0..3 {
        server.clock.advance(29 * 24 * 3600);
        let (status, rotated) = client.refresh(&server, &refresh).await;
        assert_eq!(status, 200, "{rotated}");
        refresh = refresh_token_of(&rotated);
    }
    server
        .clock
        .advance(family_end - 600 - server.deps.clock.now());
    let (status, last) = client.refresh(&server, &refresh).await;
    assert_eq!(status, 200, "{last}");
    let access = last["access_token"].as_str().unwrap().to_owned();
    assert_eq!(ping_status(&server, &access).await.0, 200);
    assert_eq!(client.revoke(&server, &refresh_token_of(&last)).await, 200);
    assert_eq!(ping_status(&server, &access).await.0, 401);
    // Past the family's end, the access token minted in its last minutes still lives…
    server.clock.advance(1200);
    // …and must still be refused.
    assert_eq!(ping_status(&server, &access).await.0, 401);
}

/// A grant as large as a stored grant can be: a 2,000-byte client id (a metadata
/// document's URL at its limit), and the name and host at theirs.
fn largest_grant(user_id: &str, n: usize, now: u64) -> GrantRecord {
    GrantRecord {
        grant_id: format!("seeded-{n:03}").as_str().into(),
        user_id: user_id.into(),
        client_id: format!("https://app.example/{}{n:03}", "c".repeat(1977))
            .as_str()
            .into(),
        client_name: "n".repeat(MAX_GRANT_NAME_BYTES),
        redirect_host: "h".repeat(MAX_GRANT_HOST_BYTES),
        scope: alta_shared::scope::ScopeSet::all(),
        resource: "x".repeat(200),
        account_id: "a".repeat(64),
        // A provider id at its longest.
        idp: "i".repeat(40),
        managed_by: Some("m".repeat(40)),
        created_at: now - 10_000 + n as u64,
        // The oldest-created is the most recently used.
        last_used_at: now - n as u64,
        expires_at: now + 90 * 24 * 3600,
    }
}

async fn ended_grants_leave_the_persons_grants_and_the_least_recently_used_is_crowded_out(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let user: UserId = alta_shared::demo::DEMO_USER.into();
    let grants = || async { server.deps.refresh_tokens.grants(&user).await.unwrap() };
    let family_revoked = |id: String| {
        let server = &server;
        async move {
            let now = server.deps.clock.now();
            server
                .deps
                .revocations
                .is_revoked(&revoked_family_key(&id), now)
                .await
                .unwrap()
        }
    };
    // A grant its client revokes is forgotten, not kept to crowd out live ones.
    let (client, tokens) = signed_in(&server).await;
    assert_eq!(grants().await.len(), 1);
    assert_eq!(
        client.revoke(&server, &refresh_token_of(&tokens)).await,
        200
    );
    assert_eq!(grants().await, vec![]);

    // A person at the cap of 100, every grant at its largest.
    let now = server.deps.clock.now();
    for n in 0..100 {
        server
            .deps
            .refresh_tokens
            .put_grant(&largest_grant(alta_shared::demo::DEMO_USER, n, now), &[])
            .await
            .unwrap();
    }
    let (_, tokens) = signed_in(&server).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    let ids: Vec<String> = grants()
        .await
        .iter()
        .map(|g| g.grant_id.to_string())
        .collect();
    assert_eq!(ids.len(), 100, "at the cap");
    assert!(
        !ids.contains(&"seeded-099".to_owned()),
        "the least recently used is crowded out"
    );
    assert!(family_revoked("seeded-099".into()).await);
    assert!(
        ids.contains(&"seeded-000".to_owned()),
        "the oldest-created, used most recently, stays"
    );
    assert!(!family_revoked("seeded-000".into()).await);
}

async fn scopes_clients_add_on_their_own_are_accepted_and_never_granted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    // Claude Code's, with its leading space.
    let auth = client
        .authorize_with_scope(&server, "demo@alta.local", " campaigns:read offline_access")
        .await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "campaigns:read");
    assert!(tokens["refresh_token"].is_string(), "issued regardless");
    // A generic OIDC client's, with nothing else: every scope the client may have.
    let auth = client
        .authorize_with_scope(&server, "demo@alta.local", "openid email profile")
        .await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "campaigns:read campaigns:write inbox:read");
    let (status, refreshed) = client
        .token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token_of(&tokens)),
                ("scope", "offline_access campaigns:read"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["scope"], "campaigns:read");
    let claims = verify_access_token(
        refreshed["access_token"].as_str().unwrap(),
        &jwks(&server).await,
        &server.base,
        &server.url("/mcp"),
    )
    .unwrap();
    assert_eq!(claims.scope, "campaigns:read");
}

async fn a_submitted_form_replayed_with_its_cookie_gets_no_second_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let page = http()
        .get(client.authorize_url(&server, &challenge(&verifier()), &[]))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let field = support::oauth::pending_field(&page.text().await.unwrap());
    let submit = || async {
        http()
            .post(server.url("/authorize"))
            .header("cookie", &cookie)
            .form(&[
                ("request", field.as_str()),
                ("email", "demo@alta.local"),
                ("password", DEMO_PASSWORD),
                ("account", "acct_acme"),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap()
    };
    let first = submit().await;
    assert_eq!(first.status(), 302);
    let replay = submit().await;
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());
    assert!(replay.text().await.unwrap().contains("already used"));
}

async fn replayed_code_fails_and_revokes_what_it_issued(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200);
    let (status, err) = client.exchange(&server, &auth).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, _) = client
        .refresh(&server, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        status, 400,
        "the refresh token of a replayed code is revoked"
    );
    assert!(jti_is_revoked(&server, tokens["access_token"].as_str().unwrap()).await);
}

async fn expired_code_is_invalid_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    server.clock.advance(61);
    let (status, err) = client.exchange(&server, &auth).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

async fn twenty_concurrent_redemptions_of_one_code_succeed_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = std::sync::Arc::new(FlowClient::register(&server).await);
    let auth = std::sync::Arc::new(client.authorize_as(&server, "demo@alta.local").await);
    let server = std::sync::Arc::new(server);
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (client, auth, server) = (client.clone(), auth.clone(), server.clone());
            tokio::spawn(async move { client.exchange(&server, &auth).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        if status != 200 {
            assert_eq!(body["error"], "invalid_grant");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

async fn deny_redirects_with_access_denied_state_and_iss(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let SignIn::Redirected(location) = client.sign_in(&server, &url, "", "", "deny").await else {
        panic!("deny must redirect");
    };
    assert!(location.as_str().starts_with(REDIRECT_URI));
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(server.base.as_str())
    );
    assert_eq!(param(&location, "code"), None);
}

async fn wrong_password_shows_one_generic_error_and_throttles(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    for email in ["demo@alta.local", "nobody@alta.local"] {
        let SignIn::Page(status, html) =
            client.sign_in(&server, &url, email, "wrong", "allow").await
        else {
            panic!("a failed sign-in must not redirect");
        };
        assert_eq!(status, 200);
        assert!(
            html.contains("Invalid email or password."),
            "the same message for both"
        );
    }
    for _ in 0..4 {
        client
            .sign_in(&server, &url, "demo@alta.local", "wrong", "allow")
            .await;
    }
    let SignIn::Page(status, html) = client
        .sign_in(&server, &url, "demo@alta.local", DEMO_PASSWORD, "allow")
        .await
    else {
        panic!("a throttled sign-in must not redirect");
    };
    assert_eq!(status, 429);
    assert!(html.contains("Too many failed sign-ins"));
    // Other people are not locked out by one person's attacker.
    let SignIn::Redirected(_) = client
        .sign_in(&server, &url, "viewer@alta.local", DEMO_PASSWORD, "allow")
        .await
    else {
        panic!("another user signs in");
    };
}

async fn parallel_wrong_passwords_for_one_email_are_verified_at_most_the_limit(backend: Backend) {
    let server = TestServer::start(backend).await;
    let answers =
        support::oauth::parallel_wrong_sign_ins(&server, 24, |_| "demo@alta.local".into()).await;
    let verified = answers.iter().filter(|(status, _)| *status == 200).count();
    let locked = answers
        .iter()
        .filter(|(status, page)| *status == 429 && page.contains("Too many failed sign-ins"))
        .count();
    assert_eq!(verified, MAX_SIGN_IN_FAILURES as usize, "{answers:?}");
    assert_eq!(verified + locked, 24);
}

async fn failures_from_one_address_across_emails_are_limited(backend: Backend) {
    let server = TestServer::start(backend).await;
    let n = MAX_SIGN_IN_FAILURES_PER_ADDRESS as usize + 1;
    let answers =
        support::oauth::parallel_wrong_sign_ins(&server, n, |i| format!("spray-{i}@example.com"))
            .await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, page)| *status == 429 && page.contains("from your network"))
        .collect();
    assert_eq!(refused.len(), 1, "one past the limit");
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        n - 1
    );
}

async fn user_without_an_account_gets_a_clear_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let hash = alta_shared::password::PasswordHash::create(
        &alta_shared::secret::SecretString::new("pw-lonely"),
    )
    .unwrap();
    server
        .deps
        .directory
        .create_user(&alta_shared::directory::User {
            user_id: "user_lonely".into(),
            email: "lonely@alta.local".into(),
            name: "Lonely".into(),
            password_hash: Some(hash),
            created_at: 1,
        })
        .await
        .unwrap();
    let client = FlowClient::register(&server).await;
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let SignIn::Page(status, html) = client
        .sign_in(&server, &url, "lonely@alta.local", "pw-lonely", "allow")
        .await
    else {
        panic!("must not redirect");
    };
    assert_eq!(status, 403);
    assert!(html.contains("not a member of any Alta account"));
}

async fn unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let ch = challenge(&verifier());
    let mut unknown = FlowClient::register(&server).await;
    unknown.client_id = "no-such-client".into();
    for url in [
        unknown.authorize_url(&server, &ch, &[]),
        client
            .authorize_url(&server, &ch, &[])
            .replace("45678%2Fcallback", "45678%2Fother"),
        client
            .authorize_url(&server, &ch, &[])
            .replace("127.0.0.1%3A45678", "evil.example"),
        client.authorize_url(&server, &ch, &[("client_id", "again")]),
    ] {
        let resp = http().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        assert!(resp.headers().get("location").is_none());
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}

async fn request_errors_redirect_only_to_a_trusted_client_with_state_and_iss(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let ch = challenge(&verifier());
    let cases: Vec<(String, &str)> = vec![
        (
            client
                .authorize_url(&server, &ch, &[])
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            client
                .authorize_url(&server, &ch, &[])
                .replace(&format!("code_challenge={ch}"), ""),
            "invalid_request",
        ),
        (
            client
                .authorize_url(&server, &ch, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            client
                .authorize_url(&server, &ch, &[])
                .replace("scope=campaigns", "scope=admin+campaigns"),
            "invalid_scope",
        ),
        (
            client
                .authorize_url(&server, &ch, &[])
                .replace("%2Fmcp", "%2Fother"),
            "invalid_target",
        ),
        (
            client.authorize_url(&server, &ch, &[("resource", "https://evil.example/mcp")]),
            "invalid_target",
        ),
        (
            client.authorize_url(&server, &ch, &[("scope", "campaigns:read")]),
            "invalid_request",
        ),
    ];
    // A dynamically registered client chose its own redirect URI: before the person has
    // done anything, its errors are a page, never a redirect (no open redirector).
    for (url, error) in &cases {
        let resp = http().get(url).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        assert!(resp.headers().get("location").is_none(), "{url}");
        let page = resp.text().await.unwrap();
        assert!(page.contains(&format!("({error})")), "{url}: {page}");
    }
    // Without PKCE at all, the page says the challenge is missing (not that a method the
    // client never named is refused); with a challenge but no method, that S256 is needed.
    let no_pkce = client
        .authorize_url(&server, &ch, &[])
        .replace(&format!("code_challenge={ch}"), "")
        .replace("code_challenge_method=S256", "");
    let no_method = client
        .authorize_url(&server, &ch, &[])
        .replace("code_challenge_method=S256", "");
    for (url, says) in [
        (no_pkce, "code_challenge is required"),
        (no_method, "code_challenge_method is required: S256"),
    ] {
        let page = http().get(&url).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(says), "{url}: {page}");
    }
    // A pre-configured client's redirect URI is trusted: its errors go back to it with
    // `state` and `iss`.
    let claude = FlowClient::new("claude");
    let claude_redirect = "https://claude.ai/api/mcp/auth_callback";
    for (url, error) in cases {
        let url = url
            .replace(
                &format!("client_id={}", client.client_id),
                "client_id=claude",
            )
            .replace(
                &url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>(),
                &url::form_urlencoded::byte_serialize(claude_redirect.as_bytes())
                    .collect::<String>(),
            );
        let resp = claude.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{url}");
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(claude_redirect));
        assert_eq!(param(&location, "error").as_deref(), Some(error), "{url}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
        assert_eq!(
            param(&location, "iss").as_deref(),
            Some(server.base.as_str())
        );
    }
}

async fn token_endpoint_errors_are_rfc6749(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;

    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let wrong_verifier = verifier();
    let (status, err) = client
        .token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &auth.code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &wrong_verifier),
            ],
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (status, err) = client
        .token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &auth.code),
                ("redirect_uri", "http://127.0.0.1:45678/other"),
                ("code_verifier", &auth.verifier),
            ],
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, err) = client.token(&server, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, err) = client.token(&server, &[]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, err) = client.refresh(&server, "not-a-token").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let resp = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "ghost"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");

    let resp = http()
        .post(server.url("/token"))
        .basic_auth("ghost", Some("secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
}

async fn resource_mismatch_at_the_token_endpoint_leaves_the_code_usable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (status, err) = client
        .token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &auth.code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &auth.verifier),
                ("resource", "https://evil.example/mcp"),
            ],
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, _) = client.exchange(&server, &auth).await;
    assert_eq!(
        status, 200,
        "invalid_target is checked before the code is consumed"
    );
}

async fn forged_or_cookieless_form_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let url = client.authorize_url(&server, &challenge(&verifier()), &[]);
    let field = support::oauth::pending_field(&get_page(&client.http, &url).await);
    // The same field from a browser that never saw the page (no nonce cookie).
    let stranger = FlowClient::new(client.client_id.clone());
    let SignIn::Page(status, page) = stranger
        .post_form(&server, &field, "demo@alta.local", DEMO_PASSWORD, "allow")
        .await
    else {
        panic!("must not redirect");
    };
    assert_eq!(status, 400);
    assert!(page.contains("expired"));
    let SignIn::Page(status, _) = client
        .post_form(
            &server,
            "forged.field.value",
            "demo@alta.local",
            DEMO_PASSWORD,
            "allow",
        )
        .await
    else {
        panic!("must not redirect");
    };
    assert_eq!(status, 400);
}

async fn revoking_a_refresh_token_kills_its_family_and_an_access_token_its_jti(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(client.revoke(&server, refresh).await, 200);
    let (status, _) = client.refresh(&server, refresh).await;
    assert_eq!(status, 400);

    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(client.revoke(&server, access).await, 200);
    assert!(jti_is_revoked(&server, access).await);

    assert_eq!(
        client.revoke(&server, "unknown-token").await,
        200,
        "RFC 7009 §2.2"
    );
    // Another client's token is left alone.
    let (other, other_tokens) = signed_in(&server).await;
    assert_eq!(
        client
            .revoke(&server, other_tokens["refresh_token"].as_str().unwrap())
            .await,
        200
    );
    let (status, _) = other
        .refresh(&server, other_tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
}

async fn access_tokens_die_with_their_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ok = |token: String| {
        let server = &server;
        async move { ping_status(server, &token).await.0 }
    };
    let access = |tokens: &Value| tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = |tokens: &Value| tokens["refresh_token"].as_str().unwrap().to_owned();

    // Revoking the refresh token (RFC 7009 §2.1) ends the grant's access tokens at once.
    let (client, tokens) = signed_in(&server).await;
    assert_eq!(ok(access(&tokens)).await, 200);
    assert_eq!(client.revoke(&server, &refresh(&tokens)).await, 200);
    assert_eq!(ok(access(&tokens)).await, 401);

    // Revoking an access token ends its grant: the refresh token too.
    let (client, tokens) = signed_in(&server).await;
    assert_eq!(client.revoke(&server, &access(&tokens)).await, 200);
    let (status, _) = client.refresh(&server, &refresh(&tokens)).await;
    assert_eq!(status, 400);

    // A replayed code (RFC 6749 §4.1.2) ends every access token of its grant, those minted
    // by later refreshes included.
    let client = FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "demo@alta.local").await;
    let (_, tokens) = client.exchange(&server, &auth).await;
    let (_, refreshed) = client.refresh(&server, &refresh(&tokens)).await;
    assert_eq!(ok(access(&refreshed)).await, 200);
    let (status, _) = client.exchange(&server, &auth).await;
    assert_eq!(status, 400);
    assert_eq!(ok(access(&refreshed)).await, 401);
}

async fn a_new_grant_revokes_the_previous_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let first = client.authorize_as(&server, "demo@alta.local").await;
    let (_, first_tokens) = client.exchange(&server, &first).await;
    let second = client.authorize_as(&server, "demo@alta.local").await;
    let (_, second_tokens) = client.exchange(&server, &second).await;
    let (status, _) = client
        .refresh(&server, first_tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 400, "the earlier grant is revoked");
    let (status, _) = client
        .refresh(&server, second_tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
}

async fn refresh_may_narrow_scope_but_not_widen_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = FlowClient::register(&server).await;
    let auth = client
        .authorize_with_scope(&server, "demo@alta.local", "campaigns:read inbox:read")
        .await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "campaigns:read inbox:read");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, err) = client
        .token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("scope", "campaigns:write"),
            ],
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, narrowed) = client
        .token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("scope", "campaigns:read"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "campaigns:read");
}

async fn an_active_client_stays_registered_and_an_idle_one_is_forgotten(backend: Backend) {
    const DAY: u64 = 86_400;
    let server = TestServer::start_with(backend, &[("ALTA_CLIENT_IDLE_EXPIRY_DAYS", "2")]).await;
    let idle = FlowClient::register(&server).await;
    let (active, tokens) = signed_in(&server).await;
    let registered_until = |client_id: String| {
        let deps = server.deps.clone();
        let now = server.clock.now();
        async move {
            deps.clients
                .get_client(&client_id, now)
                .await
                .unwrap()
                .map(|c| c.expires_at)
        }
    };
    let first_expiry = registered_until(active.client_id.clone()).await.unwrap();
    let mut refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut refresh = async |server: &TestServer| {
        let (status, body) = active.refresh(server, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
        refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    };

    server.clock.advance(3600);
    refresh(&server).await;
    assert_eq!(
        registered_until(active.client_id.clone()).await,
        Some(first_expiry),
        "used within a day of registering: not rewritten"
    );

    server.clock.advance(DAY);
    refresh(&server).await;
    let extended = registered_until(active.client_id.clone()).await.unwrap();
    assert_eq!(extended, server.clock.now() + 2 * DAY);

    // Past the first expiry: the active client is still registered, the idle one is gone.
    server.clock.advance(DAY);
    assert!(server.clock.now() > first_expiry);
    refresh(&server).await;
    let (status, body) = idle.refresh(&server, "any").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

async fn mcp_accepts_the_access_token_until_it_is_revoked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (client, tokens) = signed_in(&server).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(ping_status(&server, access).await.0, 200);
    let (status, challenge) = ping_status(&server, "not.a.jwt").await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(client.revoke(&server, access).await, 200);
    let (status, challenge) = ping_status(&server, access).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("revoked"), "{challenge}");
}
