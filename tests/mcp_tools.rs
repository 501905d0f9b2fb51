//! The Alta tools through `/mcp`: the RBAC matrix, inbox grants, account isolation,
//! pagination and the campaign state machine. On the in-memory store and on DynamoDB.

use crate::support;

use std::collections::HashSet;

use alta_shared::directory::{Membership, Role};
use serde_json::{Value, json};
use support::mcp::{Answer, Mcp};
use support::oauth::access_token;
use support::{Backend, TestServer};

on_every_store!(
    get_account_names_the_first_account_and_role,
    rbac_matrix_for_pausing_and_reading,
    inbox_grants_decide_which_email_is_visible,
    another_accounts_ids_are_not_found,
    a_role_change_applies_to_the_next_call,
    list_campaigns_paginates_deterministically,
    pause_and_resume_follow_the_state_machine,
    list_emails_filters_and_get_email_shows_the_body,
    bad_arguments_are_tool_errors,
);

const ALL: &str = "campaigns:read campaigns:write inbox:read";

async fn signed_in<'a>(server: &'a TestServer, email: &str) -> Mcp<'a> {
    Mcp::new(server, access_token(server, email, ALL).await)
}

fn ok(answer: &Answer) -> &Value {
    let result = answer.result();
    assert_eq!(result["isError"], false, "{result}");
    &result["structuredContent"]
}

fn tool_error(answer: &Answer) -> String {
    let result = answer.result();
    assert_eq!(result["isError"], true, "{result}");
    assert!(result.get("structuredContent").is_none());
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

async fn get_account_names_the_first_account_and_role(backend: Backend) {
    let server = TestServer::start(backend).await;
    let demo = signed_in(&server, "demo@alta.local").await;
    let account = demo.call("get_account", json!({})).await;
    let info = ok(&account);
    assert_eq!(info["id"], "acct_acme", "the oldest membership wins");
    assert_eq!(info["name"], "Acme Corp");
    assert_eq!(info["role"], "Admin");
    assert_eq!(info["inbox_access"], "all");
    let viewer = signed_in(&server, "viewer@alta.local").await;
    let info = viewer.call("get_account", json!({})).await;
    assert_eq!(ok(&info)["role"], "Viewer");
    assert_eq!(ok(&info)["inbox_ids"], json!([]));
}

async fn rbac_matrix_for_pausing_and_reading(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (email, may_edit) in [
        ("demo@alta.local", true),
        ("manager@alta.local", true),
        ("viewer@alta.local", false),
    ] {
        let mcp = signed_in(&server, email).await;
        let list = mcp.call("list_campaigns", json!({})).await;
        assert!(
            !ok(&list)["campaigns"].as_array().unwrap().is_empty(),
            "{email} reads campaigns"
        );
        let pause = mcp
            .call(
                "pause_campaign",
                json!({"campaign_id": "camp_acme_partners"}),
            )
            .await;
        if may_edit {
            assert_eq!(ok(&pause)["status"], "paused", "{email}");
            let resume = mcp
                .call(
                    "resume_campaign",
                    json!({"campaign_id": "camp_acme_partners"}),
                )
                .await;
            assert_eq!(ok(&resume)["status"], "active");
        } else {
            let message = tool_error(&pause);
            assert!(message.contains("Campaign.EditCampaign"), "{message}");
            assert!(message.contains("Viewer"), "{message}");
        }
    }
    let after = server
        .deps
        .alta
        .campaign("acct_acme", "camp_acme_partners")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.status.as_str(),
        "active",
        "the viewer's denied call changed nothing"
    );
}

async fn inbox_grants_decide_which_email_is_visible(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    let inboxes = admin.call("list_inboxes", json!({})).await;
    assert_eq!(ok(&inboxes)["inboxes"].as_array().unwrap().len(), 2);
    let all = admin.call("list_emails", json!({})).await;
    assert_eq!(ok(&all)["emails"].as_array().unwrap().len(), 5);

    let manager = signed_in(&server, "manager@alta.local").await;
    let inboxes = manager.call("list_inboxes", json!({})).await;
    let ids: Vec<&str> = ok(&inboxes)["inboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inbox_acme_sales"]);
    let emails = manager.call("list_emails", json!({})).await;
    let emails = ok(&emails)["emails"].as_array().unwrap().clone();
    assert_eq!(emails.len(), 3);
    assert!(emails.iter().all(|e| e["inbox_id"] == "inbox_acme_sales"));
    let support_inbox = manager
        .call("list_emails", json!({"inbox_id": "inbox_acme_support"}))
        .await;
    assert!(tool_error(&support_inbox).contains("Inbox.ReadEmail"));
    let support_email = manager
        .call("get_email", json!({"email_id": "email_acme_4"}))
        .await;
    let message = tool_error(&support_email);
    assert!(
        message.contains("Inbox.ReadEmail") && message.contains("Manager"),
        "{message}"
    );

    let viewer = signed_in(&server, "viewer@alta.local").await;
    let inboxes = viewer.call("list_inboxes", json!({})).await;
    assert_eq!(ok(&inboxes)["inboxes"], json!([]));
    let emails = viewer.call("list_emails", json!({})).await;
    let message = tool_error(&emails);
    assert!(
        message.contains("Inbox.ReadEmail") && message.contains("Viewer"),
        "{message}"
    );
}

async fn another_accounts_ids_are_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    for (tool, args) in [
        ("get_campaign", json!({"campaign_id": "camp_globex_intro"})),
        (
            "pause_campaign",
            json!({"campaign_id": "camp_globex_intro"}),
        ),
        ("get_email", json!({"email_id": "email_globex_1"})),
        ("list_emails", json!({"inbox_id": "inbox_globex_main"})),
    ] {
        let answer = admin.call(tool, args).await;
        assert!(tool_error(&answer).contains("not found"), "{tool}");
    }
    let globex = server
        .deps
        .alta
        .campaign("acct_globex", "camp_globex_intro")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(globex.status.as_str(), "active");
}

async fn a_role_change_applies_to_the_next_call(backend: Backend) {
    let server = TestServer::start(backend).await;
    let viewer = signed_in(&server, "viewer@alta.local").await;
    let denied = viewer
        .call(
            "pause_campaign",
            json!({"campaign_id": "camp_acme_q4_outreach"}),
        )
        .await;
    tool_error(&denied);
    server
        .deps
        .directory
        .put_membership(&Membership {
            user_id: "user_viewer".into(),
            account_id: "acct_acme".into(),
            role: Role::Manager,
            inbox_grants: vec![],
            created_at: 0,
        })
        .await
        .unwrap();
    let allowed = viewer
        .call(
            "pause_campaign",
            json!({"campaign_id": "camp_acme_q4_outreach"}),
        )
        .await;
    assert_eq!(ok(&allowed)["status"], "paused", "same token, new role");
}

async fn list_campaigns_paginates_deterministically(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"limit": 2});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let page = admin.call("list_campaigns", args).await;
        let result = ok(&page).clone();
        pages += 1;
        seen.extend(
            result["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match result["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "camp_acme_q4_outreach",
            "camp_acme_renewals",
            "camp_acme_webinar",
            "camp_acme_launch",
            "camp_acme_partners"
        ]
    );
    let again = admin.call("list_campaigns", json!({})).await;
    let ids: Vec<&str> = ok(&again)["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, seen, "the same order every time");
    assert!(
        ok(&again).get("next_cursor").is_none(),
        "absent, not null, on the last page: {}",
        ok(&again)
    );

    let first = admin.call("list_campaigns", json!({"limit": 2})).await;
    let cursor = ok(&first)["next_cursor"].as_str().unwrap().to_owned();
    let foreign = admin
        .call(
            "list_campaigns",
            json!({"limit": 2, "status": "active", "cursor": cursor}),
        )
        .await;
    assert!(tool_error(&foreign).contains("cursor"));
    for limit in [0, 101] {
        let bad = admin.call("list_campaigns", json!({"limit": limit})).await;
        assert!(tool_error(&bad).contains("limit"));
    }
}

async fn pause_and_resume_follow_the_state_machine(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    let id = json!({"campaign_id": "camp_acme_q4_outreach"});
    let paused = admin.call("pause_campaign", id.clone()).await;
    assert_eq!(
        (
            ok(&paused)["status"].clone(),
            ok(&paused)["changed"].clone()
        ),
        (json!("paused"), json!(true))
    );
    let again = admin.call("pause_campaign", id.clone()).await;
    assert_eq!(
        (ok(&again)["status"].clone(), ok(&again)["changed"].clone()),
        (json!("paused"), json!(false))
    );
    let resumed = admin.call("resume_campaign", id.clone()).await;
    assert_eq!(
        (
            ok(&resumed)["status"].clone(),
            ok(&resumed)["changed"].clone()
        ),
        (json!("active"), json!(true))
    );
    let again = admin.call("resume_campaign", id).await;
    assert_eq!(ok(&again)["changed"], false);

    for (tool, campaign) in [
        ("pause_campaign", "camp_acme_webinar"),
        ("resume_campaign", "camp_acme_webinar"),
        ("pause_campaign", "camp_acme_launch"),
        ("resume_campaign", "camp_acme_launch"),
    ] {
        let refused = admin.call(tool, json!({"campaign_id": campaign})).await;
        let message = tool_error(&refused);
        assert!(
            message.contains("draft") || message.contains("completed"),
            "{tool} {campaign}: {message}"
        );
    }
    let stored = server
        .deps
        .alta
        .campaign("acct_acme", "camp_acme_webinar")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status.as_str(), "draft");
}

async fn list_emails_filters_and_get_email_shows_the_body(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    let by_query = admin.call("list_emails", json!({"query": "PRICING"})).await;
    let found = ok(&by_query)["emails"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], "email_acme_1");
    assert!(
        found[0].get("body").is_none(),
        "lists carry a snippet, not the body"
    );
    assert!(found[0]["snippet"].as_str().unwrap().contains("500 seats"));

    let by_campaign = admin
        .call(
            "list_emails",
            json!({"campaign_id": "camp_acme_q4_outreach"}),
        )
        .await;
    assert_eq!(ok(&by_campaign)["emails"].as_array().unwrap().len(), 2);
    let by_inbox = admin
        .call("list_emails", json!({"inbox_id": "inbox_acme_support"}))
        .await;
    let ids: HashSet<&str> = ok(&by_inbox)["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, HashSet::from(["email_acme_4", "email_acme_5"]));

    let email = admin
        .call("get_email", json!({"email_id": "email_acme_3"}))
        .await;
    let email = ok(&email);
    assert_eq!(email["subject"], "Renewal question");
    assert!(email["body"].as_str().unwrap().contains("January"));
}

async fn bad_arguments_are_tool_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = signed_in(&server, "demo@alta.local").await;
    for (tool, args) in [
        ("get_campaign", json!({})),
        ("get_campaign", json!({"campaign_id": 7})),
        ("list_campaigns", json!({"status": "archived"})),
        ("get_account", json!({"unexpected": true})),
    ] {
        let answer = admin.call(tool, args.clone()).await;
        assert!(
            tool_error(&answer).starts_with("Invalid arguments"),
            "{tool} {args}"
        );
    }
    let missing = admin
        .call("get_campaign", json!({"campaign_id": "camp_nope"}))
        .await;
    assert!(tool_error(&missing).contains("not found"));
}
