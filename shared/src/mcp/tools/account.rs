use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Acting, ToolFailure, ToolOutput};
use crate::directory::Role;
use crate::rbac::{InboxAccess, inbox_access};

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
}

pub fn get_account(acting: &Acting, _: NoArguments) -> Result<ToolOutput, ToolFailure> {
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
    };
    let text = format!(
        "Account: {} ({})\nYour role: {}\nInboxes: {}",
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
    ToolOutput::of(&info, text)
}
