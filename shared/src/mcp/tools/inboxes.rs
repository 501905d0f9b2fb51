use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page::paginate;
use super::{Acting, ToolFailure, ToolOutput};
use crate::alta::{Email, Inbox};
use crate::deps::Deps;
use crate::rbac::{Permission, inbox_access};

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
    #[serde(default)]
    pub inbox_id: Option<String>,
    /// Only email belonging to this campaign.
    #[serde(default)]
    pub campaign_id: Option<String>,
    /// Case-insensitive text to find in the subject, sender or body.
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
    pub email_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxList {
    pub inboxes: Vec<Inbox>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An email in a list: everything but the body, and a short snippet of it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EmailSummary {
    pub id: String,
    pub inbox_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub received_at: u64,
    pub snippet: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EmailList {
    pub emails: Vec<EmailSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub type EmailView = Email;

fn snippet(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

fn denied(acting: &Acting, detail: String) -> ToolFailure {
    ToolFailure::Denied {
        permission: Permission::ReadEmail,
        role: acting.membership.role,
        detail: Some(detail),
    }
}

pub async fn list_inboxes(
    deps: &Deps,
    acting: &Acting,
    args: ListInboxesArguments,
) -> Result<ToolOutput, ToolFailure> {
    acting.require(Permission::ReadEmail)?;
    let access = inbox_access(&acting.membership);
    let inboxes: Vec<Inbox> = deps
        .alta
        .inboxes(acting.account_id())
        .await?
        .into_iter()
        .filter(|i| access.allows(&i.id))
        .collect();
    let (page, next_cursor) = paginate(inboxes, "inboxes", args.cursor.as_deref(), args.limit)?;
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

pub async fn list_emails(
    deps: &Deps,
    acting: &Acting,
    args: ListEmailsArguments,
) -> Result<ToolOutput, ToolFailure> {
    acting.require(Permission::ReadEmail)?;
    let access = inbox_access(&acting.membership);
    if access.is_none() {
        return Err(denied(
            acting,
            "for at least one inbox (you have no inbox grants)".into(),
        ));
    }
    if let Some(inbox_id) = &args.inbox_id {
        let exists = deps
            .alta
            .inboxes(acting.account_id())
            .await?
            .iter()
            .any(|i| &i.id == inbox_id);
        if !exists {
            return Err(ToolFailure::NotFound(format!("Inbox {inbox_id}")));
        }
        if !access.allows(inbox_id) {
            return Err(denied(acting, format!("on inbox {inbox_id}")));
        }
    }
    let needle = args
        .query
        .as_deref()
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let emails: Vec<EmailSummary> = deps
        .alta
        .emails(acting.account_id())
        .await?
        .into_iter()
        .filter(|e| access.allows(&e.inbox_id))
        .filter(|e| args.inbox_id.as_ref().is_none_or(|i| &e.inbox_id == i))
        .filter(|e| args.campaign_id.is_none() || e.campaign_id == args.campaign_id)
        .filter(|e| {
            needle.as_ref().is_none_or(|q| {
                [&e.subject, &e.from, &e.body]
                    .iter()
                    .any(|field| field.to_lowercase().contains(q.as_str()))
            })
        })
        .map(|e| EmailSummary {
            snippet: snippet(&e.body),
            id: e.id,
            inbox_id: e.inbox_id,
            campaign_id: e.campaign_id,
            subject: e.subject,
            from: e.from,
            to: e.to,
            received_at: e.received_at,
        })
        .collect();
    let query = format!(
        "emails:{}:{}:{}",
        args.inbox_id.as_deref().unwrap_or(""),
        args.campaign_id.as_deref().unwrap_or(""),
        needle.as_deref().unwrap_or("")
    );
    let (page, next_cursor) = paginate(emails, &query, args.cursor.as_deref(), args.limit)?;
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

pub async fn get_email(
    deps: &Deps,
    acting: &Acting,
    args: EmailArguments,
) -> Result<ToolOutput, ToolFailure> {
    acting.require(Permission::ReadEmail)?;
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
