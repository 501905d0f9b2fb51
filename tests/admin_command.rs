//! `alta-admin` against DynamoDB (dynalite): what it creates is what sign-in reads.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};

use alta_shared::directory::Role;
use support::unique_prefix;

fn admin(prefix: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alta-admin"))
        .args(args)
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
