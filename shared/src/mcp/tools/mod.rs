//! The Alta tools: their catalogue (schemas generated from the argument and result types),
//! the caller's account, and dispatch. Each call is checked by scope (in the transport,
//! as HTTP 403) and by role (here, as a tool result with `isError`).

mod account;
mod campaigns;
mod inboxes;
mod page;

use std::sync::LazyLock;
use std::time::Instant;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::deps::Deps;
use crate::directory::{Account, Membership};
use crate::error::McpError;
use crate::mcp::auth::Caller;
use crate::metrics::Measurement;
use crate::rbac::{Permission, role_allows};
use crate::scope::Scope;
use crate::store::StoreError;

/// The longest id a tool takes: Alta's ids are short, and every id becomes part of a
/// store key (DynamoDB refuses sort keys over 1,024 bytes; 200 characters are at most 800).
pub const MAX_ID_CHARS: usize = 200;

/// An id argument, refused as invalid arguments when empty or over [`MAX_ID_CHARS`].
fn bounded_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = <String as serde::Deserialize>::deserialize(deserializer)?;
    match id.chars().count() {
        0 => Err(serde::de::Error::custom("an id may not be empty")),
        n if n > MAX_ID_CHARS => Err(serde::de::Error::custom(format!(
            "an id has at most {MAX_ID_CHARS} characters, not {n}"
        ))),
        _ => Ok(id),
    }
}

fn bounded_optional_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    bounded_id(deserializer).map(Some)
}

/// Which tool: dispatch matches on it, so every catalogued tool has code that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    GetAccount,
    ListCampaigns,
    GetCampaign,
    PauseCampaign,
    ResumeCampaign,
    ListInboxes,
    ListEmails,
    GetEmail,
}

/// A tool as `tools/list` describes it.
pub struct ToolSpec {
    pub tool: Tool,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The scope a token needs to call it (`None`: any valid token).
    pub scope: Option<Scope>,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub input_schema: Value,
    pub output_schema: Value,
}

impl ToolSpec {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.idempotent,
                "openWorldHint": false,
            },
        })
    }
}

/// A JSON Schema (2020-12) for `T`, with subschemas inlined so that clients need no `$ref`.
/// An optional field is simply not required, never `type: [T, "null"]`: some clients'
/// validators reject type arrays (MCP Inspector's "schema portability" warning), so
/// results omit absent values instead of sending `null`.
pub fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
    }
    make_portable(&mut schema);
    schema
}

/// What schemars writes that some clients' validators refuse:
/// - `Option<T>` as `type: [T, "null"]` (or `anyOf: [T, {type: null}]`, `enum: [.., null]`,
///   `default: null`):
///   optional fields are simply not required, and results omit them rather than send null;
/// - Rust integer widths as `format: uint64` and the like, which are not JSON Schema
///   formats (`minimum: 0` already says enough).
fn make_portable(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("uint") || f.starts_with("int"))
            {
                object.remove("format");
            }
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    object.insert("type".into(), single);
                }
            }
            if object.get("default").is_some_and(Value::is_null) {
                object.remove("default");
            }
            if let Some(Value::Array(values)) = object.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(options)) = object.get_mut(key) else {
                    continue;
                };
                options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
                if options.len() == 1 {
                    let Some(Value::Object(only)) = options.pop() else {
                        continue;
                    };
                    object.remove(key);
                    for (k, v) in only {
                        object.entry(k).or_insert(v);
                    }
                }
            }
            object.values_mut().for_each(make_portable);
        }
        Value::Array(items) => items.iter_mut().for_each(make_portable),
        _ => {}
    }
}

fn spec<A: JsonSchema, O: JsonSchema>(
    tool: Tool,
    name: &'static str,
    title: &'static str,
    description: &'static str,
    scope: Option<Scope>,
    (read_only, destructive, idempotent): (bool, bool, bool),
) -> ToolSpec {
    ToolSpec {
        tool,
        name,
        title,
        description,
        scope,
        read_only,
        destructive,
        idempotent,
        input_schema: schema_of::<A>(),
        output_schema: schema_of::<O>(),
    }
}

const READ: (bool, bool, bool) = (true, false, true);
/// Pausing and resuming change state but can be repeated and undone.
const WRITE: (bool, bool, bool) = (false, false, true);

/// Every tool, in a fixed order (clients cache the list and its order).
pub static CATALOG: LazyLock<Vec<ToolSpec>> = LazyLock::new(|| {
    use account::*;
    use campaigns::*;
    use inboxes::*;
    vec![
        spec::<NoArguments, AccountInfo>(
            Tool::GetAccount,
            "get_account",
            "Get account",
            "The Alta account these tools act in (chosen when the app was connected), your role in it, which inboxes you can read, and your other accounts.",
            None,
            READ,
        ),
        spec::<ListCampaignsArguments, CampaignList>(
            Tool::ListCampaigns,
            "list_campaigns",
            "List campaigns",
            "Campaigns of the account, oldest first, optionally by status. Paginated: pass next_cursor back as cursor.",
            Some(Scope::CampaignsRead),
            READ,
        ),
        spec::<CampaignArguments, campaigns::CampaignView>(
            Tool::GetCampaign,
            "get_campaign",
            "Get campaign",
            "One campaign by id, with its status, mode and sending statistics.",
            Some(Scope::CampaignsRead),
            READ,
        ),
        spec::<CampaignArguments, CampaignChange>(
            Tool::PauseCampaign,
            "pause_campaign",
            "Pause campaign",
            "Pause an active campaign so it stops sending. Pausing a paused campaign changes nothing; draft and completed campaigns cannot be paused.",
            Some(Scope::CampaignsWrite),
            WRITE,
        ),
        spec::<CampaignArguments, CampaignChange>(
            Tool::ResumeCampaign,
            "resume_campaign",
            "Resume campaign",
            "Resume a paused campaign so it sends again. Resuming an active campaign changes nothing; draft and completed campaigns cannot be resumed.",
            Some(Scope::CampaignsWrite),
            WRITE,
        ),
        spec::<ListInboxesArguments, InboxList>(
            Tool::ListInboxes,
            "list_inboxes",
            "List inboxes",
            "The inboxes whose email you can read.",
            Some(Scope::InboxRead),
            READ,
        ),
        spec::<ListEmailsArguments, EmailList>(
            Tool::ListEmails,
            "list_emails",
            "List emails",
            "Emails you can read, newest first, optionally by inbox, campaign or a text query on subject, sender and the start of the body (its snippet). Paginated: pass next_cursor back as cursor.",
            Some(Scope::InboxRead),
            READ,
        ),
        spec::<EmailArguments, inboxes::EmailView>(
            Tool::GetEmail,
            "get_email",
            "Get email",
            "One email by id, with its full body.",
            Some(Scope::InboxRead),
            READ,
        ),
    ]
});

pub fn find(name: &str) -> Option<&'static ToolSpec> {
    CATALOG.iter().find(|t| t.name == name)
}

/// Why a tool call did not do what was asked: reported to the model as a tool result
/// with `isError: true`, so it can explain or correct itself.
#[derive(Debug)]
pub enum ToolFailure {
    Denied {
        permission: Permission,
        role: crate::directory::Role,
        detail: Option<String>,
    },
    NotFound(String),
    InvalidArguments(String),
    Refused(String),
    NoAccount,
    /// The grant's account (chosen at consent) no longer has the person as a member.
    NotAMember {
        account: String,
    },
    /// A protocol-level failure (the store is down): a JSON-RPC error, not a tool result.
    Internal(McpError),
}

impl From<StoreError> for ToolFailure {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Rejected(_) => {
                tracing::warn!(cause = %err, "the store refused an argument");
                Self::InvalidArguments("a value is too large".into())
            }
            err => Self::Internal(err.into()),
        }
    }
}

impl ToolFailure {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Denied { .. } => "denied",
            Self::NotFound(_) => "not_found",
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::Refused(_) => "refused",
            Self::NoAccount => "no_account",
            Self::NotAMember { .. } => "not_a_member",
            Self::Internal(_) => "error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Denied {
                permission,
                role,
                detail,
            } => format!(
                "Permission denied: {permission} is required{}, and your role in this account is {role}.",
                detail
                    .as_deref()
                    .map(|d| format!(" {d}"))
                    .unwrap_or_default()
            ),
            Self::NotFound(what) => format!("{what} was not found in your Alta account."),
            Self::InvalidArguments(why) => format!("Invalid arguments: {why}"),
            Self::Refused(why) => format!("Not possible: {why}."),
            Self::NoAccount => {
                "You are not a member of any Alta account. Ask an account owner to invite you."
                    .into()
            }
            Self::NotAMember { account } => format!(
                "Permission denied: this connection acts in the Alta account {account}, and you are no longer a member of it. Ask one of its owners to add you again, or disconnect this app and connect it to another account."
            ),
            Self::Internal(err) => err.message.clone(),
        }
    }
}

/// What a tool returns on success: the structured result and its readable rendering.
pub struct ToolOutput {
    pub structured: Value,
    pub text: String,
}

impl ToolOutput {
    fn of(value: &impl Serialize, text: String) -> Result<Self, ToolFailure> {
        let structured = serde_json::to_value(value)
            .map_err(|e| ToolFailure::Internal(McpError::internal(e)))?;
        Ok(Self { structured, text })
    }
}

/// The caller acting in the account their grant names (or, for a token that names none,
/// their first accessible account), with their live role there.
pub struct Acting {
    pub membership: Membership,
    pub account: Account,
}

impl Acting {
    /// Membership and role are read on every call, so a removal or a role change applies
    /// at once.
    async fn resolve(deps: &Deps, caller: &Caller) -> Result<Self, ToolFailure> {
        let user_id = &caller.claims.sub;
        let chosen = caller
            .claims
            .account_id
            .as_deref()
            .filter(|id| !id.is_empty());
        let Some(account_id) = chosen else {
            // A token that names no account: the first accessible one.
            for membership in deps.directory.memberships(user_id).await? {
                if let Some(account) = deps.directory.account(&membership.account_id).await? {
                    return Ok(Self {
                        membership,
                        account,
                    });
                }
            }
            return Err(ToolFailure::NoAccount);
        };
        let (membership, account) = match &caller.prefetched {
            Some(prefetched) => prefetched
                .clone()
                .map_err(|err| ToolFailure::from(StoreError::Unavailable(err)))?,
            None => {
                let (membership, account) = tokio::join!(
                    deps.directory.membership(user_id, account_id),
                    deps.directory.account(account_id)
                );
                (membership?, account?)
            }
        };
        match (membership, account) {
            (Some(membership), Some(account)) => Ok(Self {
                membership,
                account,
            }),
            (_, account) => Err(ToolFailure::NotAMember {
                account: account.map_or_else(
                    || account_id.to_owned(),
                    |a| format!("{} ({account_id})", a.name),
                ),
            }),
        }
    }

    fn require(&self, permission: Permission) -> Result<(), ToolFailure> {
        if role_allows(self.membership.role, permission) {
            Ok(())
        } else {
            Err(ToolFailure::Denied {
                permission,
                role: self.membership.role,
                detail: None,
            })
        }
    }

    fn account_id(&self) -> &str {
        &self.account.account_id
    }
}

fn arguments<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolFailure> {
    let arguments = if arguments.is_null() {
        json!({})
    } else {
        arguments
    };
    serde_json::from_value(arguments).map_err(|e| ToolFailure::InvalidArguments(e.to_string()))
}

/// Runs a tool and renders the `tools/call` result. `Err` only for protocol-level failures.
pub async fn call(
    deps: &Deps,
    caller: &Caller,
    tool: &ToolSpec,
    args: Value,
) -> Result<Value, McpError> {
    let started = Instant::now();
    let (result, account_id) = match Acting::resolve(deps, caller).await {
        Ok(acting) => (
            run(deps, &acting, tool.tool, args).await,
            acting.account.account_id,
        ),
        Err(failure) => (Err(failure), "-".to_owned()),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(failure) => failure.outcome(),
    };
    // One audit line per call: who, where, what, how it ended. Never arguments or content.
    tracing::info!(
        target: "audit",
        user_id = %caller.claims.sub,
        account_id = %account_id,
        client_id = %caller.claims.client_id,
        tool = tool.name,
        outcome,
        latency_us = started.elapsed().as_micros() as u64,
        "tools/call"
    );
    deps.metrics.record(Measurement::ToolCall {
        tool: tool.name,
        outcome,
    });
    match result {
        Ok(output) => Ok(json!({
            "content": [{"type": "text", "text": output.text}],
            "structuredContent": output.structured,
            "isError": false,
        })),
        Err(ToolFailure::Internal(err)) => Err(err),
        Err(failure) => Ok(json!({
            "content": [{"type": "text", "text": failure.message()}],
            "isError": true,
        })),
    }
}

async fn run(
    deps: &Deps,
    acting: &Acting,
    tool: Tool,
    args: Value,
) -> Result<ToolOutput, ToolFailure> {
    use crate::alta::CampaignAction;
    match tool {
        Tool::GetAccount => account::get_account(deps, acting, arguments(args)?).await,
        Tool::ListCampaigns => campaigns::list_campaigns(deps, acting, arguments(args)?).await,
        Tool::GetCampaign => campaigns::get_campaign(deps, acting, arguments(args)?).await,
        Tool::PauseCampaign => {
            campaigns::change_campaign(deps, acting, arguments(args)?, CampaignAction::Pause).await
        }
        Tool::ResumeCampaign => {
            campaigns::change_campaign(deps, acting, arguments(args)?, CampaignAction::Resume).await
        }
        Tool::ListInboxes => inboxes::list_inboxes(deps, acting, arguments(args)?).await,
        Tool::ListEmails => inboxes::list_emails(deps, acting, arguments(args)?).await,
        Tool::GetEmail => inboxes::get_email(deps, acting, arguments(args)?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_is_catalogued_once_under_its_own_name() {
        // The names themselves are DESIGN.md's, checked over the protocol in tests/mcp_protocol.rs.
        let mut tools: Vec<_> = CATALOG.iter().map(|t| format!("{:?}", t.tool)).collect();
        tools.sort();
        tools.dedup();
        assert_eq!(tools.len(), CATALOG.len());
        for spec in CATALOG.iter() {
            // `ListCampaigns` is `list_campaigns`: a spec cannot dispatch to another tool.
            let snake: String = format!("{:?}", spec.tool)
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_ascii_uppercase()).then_some('_');
                    sep.into_iter()
                        .chain(std::iter::once(c.to_ascii_lowercase()))
                })
                .collect();
            assert_eq!(snake, spec.name);
            assert_eq!(find(spec.name).map(|t| t.tool), Some(spec.tool));
        }
    }

    /// Portable schemas: one `type` string per schema, no `null` anywhere, so that every
    /// client's validator accepts them (optional means "not required", not "nullable").
    #[test]
    fn schemas_have_no_type_arrays_and_no_null() {
        fn walk(schema: &Value, at: &str) {
            match schema {
                Value::Object(object) => {
                    if let Some(ty) = object.get("type") {
                        assert!(ty.is_string() && ty != "null", "{at}: type {ty}");
                    }
                    for (key, value) in object {
                        walk(value, &format!("{at}/{key}"));
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, at)),
                _ => {}
            }
        }
        for spec in CATALOG.iter() {
            walk(&spec.input_schema, &format!("{} input", spec.name));
            walk(&spec.output_schema, &format!("{} output", spec.name));
            assert!(
                !spec.input_schema.to_string().contains("null")
                    && !spec.output_schema.to_string().contains("null"),
                "{}: {} {}",
                spec.name,
                spec.input_schema,
                spec.output_schema
            );
        }
    }
}
