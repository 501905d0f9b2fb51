use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Acting, Declaration, READ, ToolFailure, ToolOutput, ToolSpec, handler, tool};
use crate::deps::Deps;
use crate::directory::Role;
use crate::rbac::{InboxAccess, inbox_access};

pub(super) fn declarations() -> Vec<ToolSpec> {
    vec![tool::<NoArguments, AccountInfo>(Declaration {
        name: "get_account",
        title: "Get account",
        description: "The Alta account these tools act in (chosen when the app was connected), your role in it, which inboxes you can read, and your other accounts.",
        scope: None,
        permission: None,
        hints: READ,
        handler: handler!(get_account),
    })]
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountInfo {
    /// The account's id.
    pub id: String,
    pub name: String,
    /// Your role in this account.
    pub role: Role,
    pub user_id: String,
    /// `all` (Owners and Admins) or `granted` (the inboxes in `inbox_ids`).
    pub inbox_access: String,
    pub inbox_ids: Vec<String>,
    /// The other accounts you can access; these tools do not act in them.
    pub other_accounts: Vec<OtherAccount>,
    /// How to make these tools act in another account.
    pub switching: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OtherAccount {
    pub id: String,
    pub name: String,
    /// Your role in that account.
    pub role: Role,
}

/// The tools act in one account, the one chosen when the app was connected.
const SWITCHING: &str = "This connection acts in the account chosen when the app was connected. \
    To act in another account, disconnect the app (in the app, or on Alta's connected-apps page) \
    and connect it again, choosing that account.";

async fn get_account(
    deps: &Deps,
    acting: &Acting,
    _: NoArguments,
) -> Result<ToolOutput, ToolFailure> {
    let mut other_accounts = Vec::new();
    for membership in deps
        .directory
        .memberships(&acting.membership.user_id)
        .await?
    {
        if membership.account_id == acting.account.account_id {
            continue;
        }
        if let Some(account) = deps.directory.account(&membership.account_id).await? {
            other_accounts.push(OtherAccount {
                id: account.account_id,
                name: account.name,
                role: membership.role,
            });
        }
    }
    let (access, inbox_ids) = match inbox_access(&acting.membership) {
        InboxAccess::All => ("all", Vec::new()),
        InboxAccess::Only(ids) => ("granted", ids),
    };
    let info = AccountInfo {
        id: acting.account.account_id.clone(),
        name: acting.account.name.clone(),
        role: acting.membership.role,
        user_id: acting.membership.user_id.clone(),
        inbox_access: access.into(),
        inbox_ids,
        other_accounts,
        switching: SWITCHING.into(),
    };
    let mut text = format!(
        "Connected account: {} ({})\nYour role: {}\nInboxes: {}",
        info.name,
        info.id,
        info.role,
        if access == "all" {
            "all".to_owned()
        } else if info.inbox_ids.is_empty() {
            "none".to_owned()
        } else {
            info.inbox_ids.join(", ")
        }
    );
    if !info.other_accounts.is_empty() {
        let others: Vec<String> = info
            .other_accounts
            .iter()
            .map(|a| format!("{} ({}, {})", a.name, a.id, a.role))
            .collect();
        text.push_str(&format!(
            "\nYour other accounts: {}\n{}",
            others.join(", "),
            info.switching
        ));
    }
    ToolOutput::of(&info, text)
}
