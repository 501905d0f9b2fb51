//! `alta-admin` against DynamoDB (dynalite): what it creates is what sign-in reads.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};

use alta_shared::directory::Role;
use support::unique_prefix;

fn admin(prefix: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    admin_with(prefix, args, stdin, &[])
}

fn admin_with(
    prefix: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alta-admin"))
        .args(args)
        .envs(env.iter().copied())
        .env("ALTA_STORE", "dynamodb")
        .env("ALTA_DYNAMODB_ENDPOINT", support::dynamodb_endpoint())
        .env("ALTA_TABLE_PREFIX", prefix)
        .env_remove("ALTA_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
#[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
async fn admin_command_creates_what_sign_in_reads() {
    let prefix = unique_prefix();
    let server = support::TestServer::start_with(
        support::Backend::DynamoDb,
        &[("ALTA_TABLE_PREFIX", prefix.as_str())],
    )
    .await;
    let (ok, out) = admin(
        &prefix,
        &[
            "create-account",
            "--name",
            "Initech",
            "--id",
            "acct_initech",
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = admin(
        &prefix,
        &["create-account", "--name", "Again", "--id", "acct_initech"],
        None,
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = admin(
        &prefix,
        &[
            "create-user",
            "--email",
            "Peter@Initech.example",
            "--name",
            "Peter",
        ],
        Some("tps-reports-2\n"),
    );
    assert!(ok, "{out}");
    assert!(
        !out.contains("tps-reports"),
        "the password is never printed"
    );
    let (ok, out) = admin(
        &prefix,
        &[
            "create-user",
            "--email",
            "peter@initech.example",
            "--name",
            "Peter",
        ],
        Some("another-pw\n"),
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = admin(
        &prefix,
        &[
            "create-user",
            "--email",
            "short@initech.example",
            "--name",
            "S",
        ],
        Some("short\n"),
    );
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = admin(
        &prefix,
        &[
            "add-member",
            "--email",
            "peter@initech.example",
            "--account",
            "acct_initech",
            "--role",
            "manager",
            "--inbox",
            "inbox_1",
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = admin(
        &prefix,
        &[
            "add-member",
            "--email",
            "peter@initech.example",
            "--account",
            "acct_nope",
            "--role",
            "Admin",
        ],
        None,
    );
    assert!(!ok && out.contains("no account"), "{out}");

    let user = server
        .deps
        .directory
        .user_by_email("peter@initech.example")
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.unwrap().verify("tps-reports-2"));
    let memberships = server
        .deps
        .directory
        .memberships(&user.user_id)
        .await
        .unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].role, Role::Manager);
    assert_eq!(memberships[0].inbox_grants, ["inbox_1"]);

    let (ok, out) = admin(
        &prefix,
        &[
            "remove-member",
            "--email",
            "peter@initech.example",
            "--account",
            "acct_initech",
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        server
            .deps
            .directory
            .memberships(&user.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    let (ok, out) = admin(&prefix, &["reindex", "--account", "acct_initech"], None);
    assert!(ok && out.contains("reindexed 0 inboxes"), "{out}");
}

#[tokio::test]
#[ignore = "needs DynamoDB and Secrets Manager (dynalite, moto); scripts/test runs it"]
async fn identity_providers_and_single_sign_on_are_managed_with_secrets_from_stdin_only() {
    let prefix = unique_prefix();
    let server = support::TestServer::start_with(
        support::Backend::DynamoDb,
        &[("ALTA_TABLE_PREFIX", prefix.as_str())],
    )
    .await;
    let secret_id = crate::secrets_manager::create_secret("{}").await;
    let endpoint = support::secretsmanager_endpoint();
    let env = [
        ("ALTA_IDENTITY_PROVIDER_SECRET_ID", secret_id.as_str()),
        ("ALTA_SECRETSMANAGER_ENDPOINT", endpoint.as_str()),
    ];
    let run = |args: &[&str], stdin: Option<&str>| admin_with(&prefix, args, stdin, &env);
    let add = [
        "identity-provider",
        "add",
        "--id",
        "okta",
        "--name",
        "Globex Okta",
        "--issuer",
        "https://globex.okta.com",
        "--client-id",
        "0oa1",
        "--domain",
        "Globex.example",
        "--button",
    ];
    let (ok, out) = run(&add, Some("okta-client-secret\n"));
    assert!(ok, "{out}");
    assert!(
        !out.contains("okta-client-secret"),
        "the secret is never printed"
    );
    let (ok, out) = run(
        &[
            "identity-provider",
            "add",
            "--id",
            "Bad Id",
            "--name",
            "X",
            "--issuer",
            "https://x.example",
            "--client-id",
            "c",
        ],
        Some("s\n"),
    );
    assert!(!ok && out.contains("lower-case"), "{out}");
    let (ok, out) = run(
        &[
            "identity-provider",
            "add",
            "--id",
            "plain",
            "--name",
            "X",
            "--issuer",
            "http://idp.example",
            "--client-id",
            "c",
        ],
        Some("s\n"),
    );
    assert!(!ok && out.contains("https"), "{out}");
    // One provider per issuer may take its ID-JAGs: okta again with --id-jag replaces its
    // own record, a second provider of the same issuer is refused.
    let with_id_jag = |id: &'static str| {
        let mut args = add.to_vec();
        args[3] = id;
        args.push("--id-jag");
        args
    };
    let (ok, out) = run(&with_id_jag("okta-agents"), Some("s\n"));
    assert!(ok, "{out}");
    let (ok, out) = run(&with_id_jag("okta"), Some("okta-client-secret\n"));
    assert!(
        !ok && out.contains("identity provider okta-agents already takes ID-JAGs"),
        "{out}"
    );
    let (ok, out) = run(
        &["identity-provider", "remove", "--id", "okta-agents"],
        None,
    );
    assert!(ok, "{out}");

    let stored = server.deps.identities.identity_providers().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].domains, ["globex.example"]);
    assert!(stored[0].button && !stored[0].id_jag);
    let read_secret = || async {
        let value = crate::secrets_manager::secrets()
            .await
            .get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .unwrap();
        serde_json::from_str::<serde_json::Value>(value.secret_string().unwrap()).unwrap()
    };
    assert_eq!(
        read_secret().await,
        serde_json::json!({"okta": "okta-client-secret"})
    );
    let (ok, out) = run(&["identity-provider", "list"], None);
    assert!(
        ok && out.contains("okta (Globex Okta) issuer=https://globex.okta.com client_id=0oa1"),
        "{out}"
    );
    assert!(!out.contains("okta-client-secret"));

    // A person who signs in only through a provider, and an account that requires it.
    let (ok, out) = run(
        &["create-account", "--name", "Globex", "--id", "acct_gx"],
        None,
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        &[
            "create-user",
            "--email",
            "sam@globex.example",
            "--name",
            "Sam",
            "--no-password",
        ],
        None,
    );
    assert!(ok, "{out}");
    let sso = server
        .deps
        .directory
        .user_by_email("sam@globex.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sso.password_hash, None);
    let (ok, out) = run(
        &[
            "set-account-sso",
            "--account",
            "acct_gx",
            "--provider",
            "nobody",
        ],
        None,
    );
    assert!(!ok && out.contains("no identity provider nobody"), "{out}");
    let (ok, out) = run(
        &[
            "set-account-sso",
            "--account",
            "acct_gx",
            "--provider",
            "okta",
        ],
        None,
    );
    assert!(ok, "{out}");
    let account = || async {
        server
            .deps
            .directory
            .account("acct_gx")
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(account().await.required_idp.as_deref(), Some("okta"));
    let (ok, out) = run(&["set-account-sso", "--account", "acct_gx", "--none"], None);
    assert!(ok, "{out}");
    assert_eq!(account().await.required_idp, None);

    let (ok, out) = run(&["identity-provider", "remove", "--id", "okta"], None);
    assert!(ok, "{out}");
    assert!(
        server
            .deps
            .identities
            .identity_providers()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(read_secret().await, serde_json::json!({}));
}

#[test]
fn admin_command_refuses_the_in_memory_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_alta-admin"))
        .args(["create-account", "--name", "X"])
        .env_remove("ALTA_STORE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALTA_STORE=dynamodb"));
}

#[tokio::test]
#[ignore = "needs DynamoDB at ALTA_TEST_DYNAMODB_ENDPOINT; scripts/test runs it"]
async fn connections_are_listed_by_account_and_need_the_grant_tables() {
    let prefix = unique_prefix();
    let server = support::TestServer::start_with(
        support::Backend::DynamoDb,
        &[("ALTA_TABLE_PREFIX", prefix.as_str())],
    )
    .await;
    let client = support::oauth::FlowClient::register(&server).await;
    let auth = client.authorize_as(&server, "viewer@alta.local").await;
    let (status, tokens) = client.exchange(&server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    let grant_id = support::oauth::claims(tokens["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (ok, table) = admin(&prefix, &["connections", "--account", "acct_acme"], None);
    assert!(ok, "{table}");
    let row = table
        .lines()
        .find(|l| l.contains(&grant_id))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.starts_with("viewer@alta.local")
            && row.contains("Flow Test")
            && row.contains(&client.client_id),
        "{row}"
    );
    // Only that account's: Globex's list has none of the Viewer's Acme connections.
    let (ok, out) = admin(
        &prefix,
        &["connections", "--account", "acct_globex", "--json"],
        None,
    );
    assert!(ok && !out.contains(&grant_id), "{out}");

    // Without a table prefix, the grant tables must be named: a default name would be
    // another stack's table, or none.
    let out = Command::new(env!("CARGO_BIN_EXE_alta-admin"))
        .args(["connections", "--account", "acct_acme"])
        .env("ALTA_STORE", "dynamodb")
        .env("ALTA_DYNAMODB_ENDPOINT", support::dynamodb_endpoint())
        .env("ALTA_DIRECTORY_TABLE", format!("{prefix}directory"))
        .env_remove("ALTA_TABLE_PREFIX")
        .env_remove("ALTA_REFRESH_TOKENS_TABLE")
        .env_remove("ALTA_REVOCATIONS_TABLE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("set ALTA_REFRESH_TOKENS_TABLE to the stack's RefreshTokensTableName output"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
