//! Enterprise-managed authorization: an app presents its company's Identity Assertion JWT
//! Authorization Grant (ID-JAG) at /token with the jwt-bearer grant and gets an access
//! token with no consent page. The stand-in enterprise provider is tests/idp's fake, which
//! mints ID-JAGs (`POST /id-jag`), each check broken once. The app is the pre-configured
//! `claude` client made confidential (its secret in moto). On both stores; they need
//! Node.js, tests/idp's packages and moto, so a bare `cargo test` skips them.

use crate::support;

use serde_json::{Value, json};
use support::Server as _;
use support::idp::{FAKE_SECRET, Idp, entry, free_port};
use support::mcp::Mcp;
use support::oauth::{claims, get_page, hidden_field};
use support::{Backend, TestServer, http, secretsmanager_endpoint};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CLAUDE_SECRET: &str = "claude-enterprise-secret";

on_every_store!(
    ignore: "needs Node.js, tests/idp's packages and moto; scripts/test runs it",
    "needs DynamoDB, Node.js, tests/idp's packages and moto; scripts/test runs it";
    an_app_gets_a_token_from_its_companys_assertion_and_calls_tools,
    each_broken_assertion_is_refused_as_invalid_grant,
    only_authenticated_clients_may_present_an_assertion,
    the_person_must_be_a_member_of_the_providers_account_and_the_role_bounds_the_scope,
    a_managed_grant_is_listed_and_ends_at_once_when_disconnected_or_revoked,
);

/// A server trusting the fake provider for ID-JAGs (Globex's: globex.example and
/// alta.local people, required by Globex), and whose `claude` client is confidential; and
/// the provider. An optional second provider, `untrusted`, signs but is not trusted.
struct Enterprise {
    server: TestServer,
    idp: Idp,
    untrusted: Idp,
    /// The server's settings, for a second container of the same stack.
    vars: Vec<(&'static str, String)>,
}

async fn enterprise(backend: Backend, prefix: Option<&str>) -> Enterprise {
    let (port, untrusted_port) = (free_port(), free_port());
    let secret_id = crate::secrets_manager::create_secret(CLAUDE_SECRET).await;
    let clients = json!([
        {"client_id": "claude", "client_name": "Claude",
         "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
         "client_secret_secret_id": secret_id},
        {"client_id": "cursor", "client_name": "Cursor",
         "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"]},
    ])
    .to_string();
    let providers = json!([
        entry("globex-okta", "Globex Okta", port, FAKE_SECRET,
              json!({"id_jag": true, "domains": ["globex.example", "alta.local"], "accounts": ["acct_globex"]})),
        entry("plain-sso", "Plain SSO", untrusted_port, FAKE_SECRET, json!({"domains": ["elsewhere.example"]})),
    ])
    .to_string();
    let mut vars = vec![
        ("ALTA_PRECONFIGURED_CLIENTS", clients),
        ("ALTA_SECRETSMANAGER_ENDPOINT", secretsmanager_endpoint()),
        ("ALTA_IDENTITY_PROVIDERS", providers),
    ];
    if let Some(prefix) = prefix {
        vars.push(("ALTA_TABLE_PREFIX", prefix.to_owned()));
    }
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_with(backend, &borrowed).await;
    Enterprise {
        server,
        idp: Idp::fake(port).await,
        untrusted: Idp::fake(untrusted_port).await,
        vars,
    }
}

/// An ID-JAG from `idp` for `email`, addressed to `server`, for `client_id`, in `mode`.
async fn id_jag(
    idp: &Idp,
    server: &TestServer,
    email: &str,
    client_id: &str,
    extra: Value,
) -> String {
    let mut body = json!({
        "email": email,
        "audience": server.base,
        "resource": server.url("/mcp"),
        "client_id": client_id,
        "scope": "campaigns:read campaigns:write inbox:read",
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let resp = http()
        .post(format!("{}/id-jag", idp.issuer))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    answer["id_jag"].as_str().unwrap().to_owned()
}

/// The jwt-bearer request, as the official Python SDK's identity-assertion client makes it
/// (client_secret_post).
async fn present(
    server: &TestServer,
    client: (&str, Option<&str>),
    assertion: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", JWT_BEARER.to_owned()),
        ("assertion", assertion.to_owned()),
        ("client_id", client.0.to_owned()),
        ("resource", server.url("/mcp")),
    ];
    if let Some(secret) = client.1 {
        form.push(("client_secret", secret.to_owned()));
    }
    if let Some(scope) = scope {
        form.push(("scope", scope.to_owned()));
    }
    let resp = http()
        .post(server.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

const CLAUDE: (&str, Option<&str>) = ("claude", Some(CLAUDE_SECRET));

async fn an_app_gets_a_token_from_its_companys_assertion_and_calls_tools(backend: Backend) {
    let Enterprise {
        server,
        idp,
        untrusted: _untrusted,
        ..
    } = enterprise(backend, None).await;
    let assertion = id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await;
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token: {body}"
    );
    // sso@ is a Member of Globex: no campaigns:write, whatever the assertion allows.
    assert_eq!(body["scope"], "campaigns:read inbox:read");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let access = claims(&token);
    assert_eq!(access["idp"], "globex-okta");
    assert_eq!(access["account_id"], "acct_globex");
    assert_eq!(access["sub"], "user_sso");
    assert!(access["grant_id"].as_str().is_some_and(|g| !g.is_empty()));
    let mcp = Mcp::new(&server, token);
    let account = mcp.call("get_account", json!({})).await;
    assert_eq!(account.result()["structuredContent"]["id"], "acct_globex");
    // MCP clients find the extension among the server's capabilities.
    let discover = mcp.modern("server/discover", json!({})).await;
    assert_eq!(
        discover.result()["capabilities"]["extensions"]["io.modelcontextprotocol/enterprise-managed-authorization"],
        json!({})
    );

    // The same assertion again, on this container or another: refused.
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{body}"
    );

    // The metadata names the grant and its profile; discovery names the extension.
    let metadata: Value = http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(JWT_BEARER))
    );
    assert_eq!(
        metadata["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
}

async fn each_broken_assertion_is_refused_as_invalid_grant(backend: Backend) {
    let Enterprise {
        server,
        idp,
        untrusted,
        ..
    } = enterprise(backend, None).await;
    let cases = [
        ("wrong_typ", "typ must be oauth-id-jag+jwt"),
        ("no_typ", "typ must be oauth-id-jag+jwt"),
        ("wrong_iss", "not a trusted identity provider"),
        ("wrong_aud", "another authorization server"),
        ("no_resource", "no resource"),
        ("wrong_resource", "another one"),
        ("wrong_client_id", "another client"),
        ("expired", "expired"),
        ("too_long", "longer than 5 minutes"),
        ("iat_future", "in the future"),
        ("unknown_kid", "signature"),
        ("alg_none", "not a well-formed JWT"),
        ("hs256_jwks_secret", "signature"),
        ("bad_signature", "signature"),
        ("no_jti", "jti"),
        ("unverified_email", "no Alta user matches"),
    ];
    for (mode, why) in cases {
        let assertion = id_jag(
            &idp,
            &server,
            "sso@globex.example",
            "claude",
            json!({"mode": mode}),
        )
        .await;
        let (status, body) = present(&server, CLAUDE, &assertion, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{mode}: {body}"
        );
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(why), "{mode}: {description}");
        assert!(
            !description.contains(&assertion),
            "the assertion is never echoed"
        );
    }
    // A provider Alta knows but does not trust for assertions.
    let assertion = id_jag(
        &untrusted,
        &server,
        "sso@globex.example",
        "claude",
        json!({}),
    )
    .await;
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not a trusted"),
        "{body}"
    );
    // Not a JWT at all, and none.
    let (status, body) = present(&server, CLAUDE, "not-a-jwt", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let resp = http()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", JWT_BEARER),
            ("client_id", "claude"),
            ("client_secret", CLAUDE_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

async fn only_authenticated_clients_may_present_an_assertion(backend: Backend) {
    let Enterprise {
        server,
        idp,
        untrusted: _untrusted,
        ..
    } = enterprise(backend, None).await;
    // A public pre-configured client.
    let assertion = id_jag(&idp, &server, "sso@globex.example", "cursor", json!({})).await;
    let (status, body) = present(&server, ("cursor", None), &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // A dynamically registered confidential client.
    let registered: Value = http()
        .post(server.url("/register"))
        .json(
            &json!({"client_name": "Somebody", "redirect_uris": ["https://app.example/cb"],
                      "token_endpoint_auth_method": "client_secret_post"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["client_id"].as_str().unwrap();
    let secret = registered["client_secret"].as_str().unwrap();
    let assertion = id_jag(&idp, &server, "sso@globex.example", id, json!({})).await;
    let (status, body) = present(&server, (id, Some(secret)), &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // The right client with a wrong secret.
    let assertion = id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await;
    let (status, body) = present(&server, ("claude", Some("wrong")), &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

async fn the_person_must_be_a_member_of_the_providers_account_and_the_role_bounds_the_scope(
    backend: Backend,
) {
    let Enterprise {
        server,
        idp,
        untrusted: _untrusted,
        ..
    } = enterprise(backend, None).await;
    // manager@ is an Alta user within the provider's domains, but no member of Globex.
    let assertion = id_jag(&idp, &server, "manager@alta.local", "claude", json!({})).await;
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not a member"),
        "{body}"
    );
    // A refused assertion links no one: manager@'s first assertion left nothing behind.
    let subject = claims(&assertion)["sub"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .deps
            .identities
            .identity_link(&idp.issuer, &subject)
            .await
            .unwrap(),
        None
    );
    // No Alta user at all.
    let assertion = id_jag(&idp, &server, "nobody@globex.example", "claude", json!({})).await;
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Only what the role allows: a Member asking for campaigns:write alone gets nothing.
    let assertion = id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await;
    let (status, body) = present(&server, CLAUDE, &assertion, Some("campaigns:write")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    // The assertion's scope bounds it too.
    let assertion = id_jag(
        &idp,
        &server,
        "sso@globex.example",
        "claude",
        json!({"scope": "inbox:read"}),
    )
    .await;
    let (status, body) = present(
        &server,
        CLAUDE,
        &assertion,
        Some("campaigns:read inbox:read"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "inbox:read");
    // Two of the person's accounts require the provider: they act in the first, as their
    // accounts are listed (oldest membership first: Globex, not Acme where they are a Viewer).
    let mut acme = server
        .deps
        .directory
        .account("acct_acme")
        .await
        .unwrap()
        .unwrap();
    acme.required_idp = Some("globex-okta".into());
    server.deps.directory.put_account(&acme).await.unwrap();
    let assertion = id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await;
    let (status, body) = present(&server, CLAUDE, &assertion, None).await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["account_id"], "acct_globex", "{token}");
    assert_eq!(body["scope"], "campaigns:read inbox:read", "{body}");
}

async fn a_managed_grant_is_listed_and_ends_at_once_when_disconnected_or_revoked(backend: Backend) {
    let Enterprise {
        server,
        idp,
        untrusted: _untrusted,
        ..
    } = enterprise(backend, None).await;
    let token = |assertion: String| {
        let server = &server;
        async move {
            let (status, body) = present(server, CLAUDE, &assertion, None).await;
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let first = token(id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await).await;
    // Revoked: its next call is refused.
    let resp = http()
        .post(server.url("/revoke"))
        .form(&[
            ("token", first.as_str()),
            ("client_id", "claude"),
            ("client_secret", CLAUDE_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _) = support::mcp::ping_status(&server, &first).await;
    assert_eq!(status, 401);

    // Listed on the person's connected-apps page as managed by the provider, and
    // disconnected there.
    let second =
        token(id_jag(&idp, &server, "sso@globex.example", "claude", json!({})).await).await;
    let (status, _) = support::mcp::ping_status(&server, &second).await;
    assert_eq!(status, 200);
    let browser = support::oauth::browser();
    let page = get_page(&browser, &server.url("/connections")).await;
    let form = hidden_field(&page, "form");
    let resp = browser
        .post(server.url("/connections"))
        .form(&[("form", form.as_str()), ("provider", "globex-okta")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the provider signs the person in");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let mut url = url::Url::parse(&location).unwrap();
    url.query_pairs_mut()
        .append_pair("login_hint", "sso@globex.example");
    let callback = support::idp::follow(&browser, url.as_str(), &server.url("/authorize/callback"))
        .await
        .unwrap();
    let html = get_page(&browser, &callback).await;
    assert!(html.contains("Managed by Globex Okta"), "{html}");
    let grant_id = claims(&second)["grant_id"].as_str().unwrap().to_owned();
    let form = hidden_field(&html, "form");
    let resp = browser
        .post(server.url("/connections"))
        .form(&[
            ("form", form.as_str()),
            ("grant", grant_id.as_str()),
            ("action", "disconnect"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("Disconnected Claude"));
    let (status, _) = support::mcp::ping_status(&server, &second).await;
    assert_eq!(status, 401);
}

/// One assertion at two containers sharing one DynamoDB: used once.
#[tokio::test]
#[ignore = "needs DynamoDB, Node.js, tests/idp's packages and moto; scripts/test runs it"]
async fn a_replayed_assertion_is_refused_by_another_container() {
    let prefix = support::unique_prefix();
    let Enterprise {
        server: first,
        idp,
        untrusted: _untrusted,
        vars,
    } = enterprise(Backend::DynamoDb, Some(&prefix)).await;
    // A second container of the same stack: the same tables, settings and issuer.
    let mut second_vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    second_vars.push(("ALTA_BASE_URL", first.base.as_str()));
    let second = TestServer::start_with(Backend::DynamoDb, &second_vars).await;
    let assertion = id_jag(&idp, &first, "sso@globex.example", "claude", json!({})).await;
    let (a, b) = tokio::join!(
        present(&first, CLAUDE, &assertion, None),
        present(&second, CLAUDE, &assertion, None)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
}
