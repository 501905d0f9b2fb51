use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page;
use super::{Acting, Declaration, READ, ToolFailure, ToolOutput, ToolSpec, handler, tool};
use crate::alta::listing::{EmailFilter, EmailSummary};
use crate::alta::{Email, Inbox};
use crate::deps::Deps;
use crate::rbac::{InboxAccess, Permission, inbox_access};
use crate::scope::Scope;

/// Every role may read email, in the inboxes `inbox_access` gives it: each handler
/// narrows to those.
pub(super) fn declarations() -> Vec<ToolSpec> {
    vec![
        tool::<ListInboxesArguments, InboxList>(Declaration {
            name: "list_inboxes",
            title: "List inboxes",
            description: "The inboxes whose email you can read.",
            scope: Some(Scope::InboxRead),
            permission: Some(Permission::ReadEmail),
            hints: READ,
            handler: handler!(list_inboxes),
        }),
        tool::<ListEmailsArguments, EmailList>(Declaration {
            name: "list_emails",
            title: "List emails",
            description: "Emails you can read, newest first, optionally by inbox, campaign or a text query on subject, sender and the start of the body (its snippet). Paginated: pass next_cursor back as cursor.",
            scope: Some(Scope::InboxRead),
            permission: Some(Permission::ReadEmail),
            hints: READ,
            handler: handler!(list_emails),
        }),
        tool::<EmailArguments, EmailView>(Declaration {
            name: "get_email",
            title: "Get email",
            description: "One email by id, with its full body.",
            scope: Some(Scope::InboxRead),
            permission: Some(Permission::ReadEmail),
            hints: READ,
            handler: handler!(get_email),
        }),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInboxesArguments {
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEmailsArguments {
    /// Only this inbox.
    #[serde(default, deserialize_with = "super::bounded_optional_id")]
    #[schemars(length(min = 1, max = super::MAX_ID_CHARS))]
    pub inbox_id: Option<String>,
    /// Only email belonging to this campaign.
    #[serde(default, deserialize_with = "super::bounded_optional_id")]
    #[schemars(length(min = 1, max = super::MAX_ID_CHARS))]
    pub campaign_id: Option<String>,
    /// Case-insensitive text to find in the subject, the sender or the snippet (the first 120 characters of the body).
    #[serde(default)]
    pub query: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailArguments {
    /// The email's id, as list_emails returns it.
    #[serde(deserialize_with = "super::bounded_id")]
    #[schemars(length(min = 1, max = super::MAX_ID_CHARS))]
    pub email_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxList {
    pub inboxes: Vec<Inbox>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EmailList {
    pub emails: Vec<EmailSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub type EmailView = Email;

fn denied(acting: &Acting, detail: String) -> ToolFailure {
    ToolFailure::Denied {
        permission: Permission::ReadEmail,
        role: acting.membership.role,
        detail: Some(detail),
    }
}

async fn list_inboxes(
    deps: &Deps,
    acting: &Acting,
    args: ListInboxesArguments,
) -> Result<ToolOutput, ToolFailure> {
    let account_id = acting.account_id();
    let request = page::request(account_id, "inboxes", args.cursor.as_deref(), args.limit)?;
    let only = match inbox_access(&acting.membership) {
        InboxAccess::All => None,
        InboxAccess::Only(ids) => Some(ids),
    };
    let found = deps
        .alta
        .inbox_page(
            account_id,
            only.as_deref(),
            request.after.as_deref(),
            request.limit,
        )
        .await?;
    let next_cursor = found
        .next
        .map(|position| page::cursor(account_id, "inboxes", &position));
    let page: Vec<Inbox> = found.items;
    let text = if page.is_empty() {
        "You cannot read any inbox in this account.".to_owned()
    } else {
        page.iter()
            .map(|i| format!("- {} <{}> [{}]", i.name, i.address, i.id))
            .collect::<Vec<_>>()
            .join("\n")
    };
    ToolOutput::of(
        &InboxList {
            inboxes: page,
            next_cursor,
        },
        text,
    )
}

async fn list_emails(
    deps: &Deps,
    acting: &Acting,
    args: ListEmailsArguments,
) -> Result<ToolOutput, ToolFailure> {
    let access = inbox_access(&acting.membership);
    if access.is_none() {
        return Err(denied(
            acting,
            "for at least one inbox (you have no inbox grants)".into(),
        ));
    }
    let account_id = acting.account_id();
    if let Some(inbox_id) = &args.inbox_id
        && !access.allows(inbox_id)
    {
        return Err(denied(acting, format!("on inbox {inbox_id}")));
    }
    let needle = args
        .query
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let query = format!(
        "emails:{}:{}:{}",
        args.inbox_id.as_deref().unwrap_or(""),
        args.campaign_id.as_deref().unwrap_or(""),
        needle.as_deref().unwrap_or("")
    );
    let request = page::request(account_id, &query, args.cursor.as_deref(), args.limit)?;
    let filter = EmailFilter {
        inbox_id: args.inbox_id.clone(),
        campaign_id: args.campaign_id.clone(),
        readable: match access {
            InboxAccess::All => None,
            InboxAccess::Only(ids) => Some(ids),
        },
        text: needle,
    };
    // A named inbox is looked up beside the list (not before it): an unknown one is "not
    // found", at no extra round trip.
    let inbox_exists = async {
        match &args.inbox_id {
            Some(inbox_id) => deps
                .alta
                .inbox(account_id, inbox_id)
                .await
                .map(|found| found.is_some()),
            None => Ok(true),
        }
    };
    let (exists, found) = tokio::join!(
        inbox_exists,
        deps.alta
            .email_page(account_id, &filter, request.after.as_deref(), request.limit)
    );
    if !exists? {
        return Err(ToolFailure::NotFound(format!(
            "Inbox {}",
            args.inbox_id.as_deref().unwrap_or_default()
        )));
    }
    let found = found?;
    let next_cursor = found
        .next
        .map(|position| page::cursor(account_id, &query, &position));
    let page: Vec<EmailSummary> = found.items;
    let mut text = if page.is_empty() {
        "No emails match.".to_owned()
    } else {
        page.iter()
            .map(|e| {
                format!(
                    "- [{}] {} — from {} ({})",
                    e.id, e.subject, e.from, e.inbox_id
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if next_cursor.is_some() {
        text.push_str("\nMore emails: call again with next_cursor.");
    }
    ToolOutput::of(
        &EmailList {
            emails: page,
            next_cursor,
        },
        text,
    )
}

async fn get_email(
    deps: &Deps,
    acting: &Acting,
    args: EmailArguments,
) -> Result<ToolOutput, ToolFailure> {
    let email = deps
        .alta
        .email(acting.account_id(), &args.email_id)
        .await?
        .ok_or_else(|| ToolFailure::NotFound(format!("Email {}", args.email_id)))?;
    if !inbox_access(&acting.membership).allows(&email.inbox_id) {
        return Err(denied(acting, format!("on inbox {}", email.inbox_id)));
    }
    let text = format!(
        "From: {}\nTo: {}\nSubject: {}\n\n{}",
        email.from, email.to, email.subject, email.body
    );
    ToolOutput::of(&email, text)
}
