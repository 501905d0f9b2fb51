//! The Alta tools. Each tool is declared once, in its file (`account`, `campaigns`,
//! `inboxes`): name, title, description, scope, permission, hints, argument and result
//! types, and handler. From those declarations come the catalogue (`tools/list`, schemas
//! generated from the types), the checks (the scope in the transport, as HTTP 403; the
//! role's permission here, as a tool result with `isError`, before the handler runs) and
//! the documentation's tool table (docs/mcp.md, held equal by a test). A handler holds
//! only its tool's logic.

mod account;
mod campaigns;
mod inboxes;
mod page;

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::time::Instant;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::deps::Deps;
use crate::directory::{Account, Membership, PASSWORD_IDP};
use crate::error::McpError;
use crate::mcp::auth::Caller;
use crate::metrics::Measurement;
use crate::rbac::{Permission, role_allows};
use crate::scope::Scope;
use crate::store::StoreError;

mod schema;
use schema::*;
mod failure;
use failure::*;

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

/// What a tool's handler returns, boxed so that every tool has one handler type.
pub type ToolFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ToolOutput, ToolFailure>> + Send + 'a>>;

/// A tool's handler: its JSON arguments, parsed by the handler's own argument type (see
/// [`handler!`]); scope and permission are checked before it runs.
pub type Handler = for<'a> fn(&'a Deps, &'a Acting, Value) -> ToolFuture<'a>;

/// `handler!(f)` for `async fn f(&Deps, &Acting, Args) -> Result<ToolOutput, ToolFailure>`:
/// the [`Handler`] that parses `Args` from the call's arguments (a parse failure is an
/// `isError` result) and runs `f`.
macro_rules! handler {
    ($f:path) => {{
        fn handle<'a>(
            deps: &'a $crate::deps::Deps,
            acting: &'a $crate::mcp::tools::Acting,
            args: serde_json::Value,
        ) -> $crate::mcp::tools::ToolFuture<'a> {
            Box::pin(async move { $f(deps, acting, $crate::mcp::tools::arguments(args)?).await })
        }
        handle as $crate::mcp::tools::Handler
    }};
}
pub(crate) use handler;

/// The MCP tool annotations (`readOnlyHint`, `destructiveHint`, `idempotentHint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
}

pub const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
};
/// Pausing and resuming change state but can be repeated and undone.
pub const WRITE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
};

/// One tool, as its file declares it.
pub struct Declaration {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The scope a token needs to call it (`None`: any valid token).
    pub scope: Option<Scope>,
    /// The permission the caller's role needs (`None`: any member).
    pub permission: Option<Permission>,
    pub hints: Hints,
    pub handler: Handler,
}

/// A declared tool with its schemas: what `tools/list` describes and `tools/call` runs.
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub scope: Option<Scope>,
    pub permission: Option<Permission>,
    pub hints: Hints,
    pub input_schema: Value,
    pub output_schema: Value,
    handler: Handler,
}

/// The tool `declaration` describes, taking arguments `A` and answering `O`.
pub fn tool<A: JsonSchema, O: JsonSchema>(declaration: Declaration) -> ToolSpec {
    let Declaration {
        name,
        title,
        description,
        scope,
        permission,
        hints,
        handler,
    } = declaration;
    ToolSpec {
        name,
        title,
        description,
        scope,
        permission,
        hints,
        input_schema: schema_of::<A>(),
        output_schema: schema_of::<O>(),
        handler,
    }
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
                "readOnlyHint": self.hints.read_only,
                "destructiveHint": self.hints.destructive,
                "idempotentHint": self.hints.idempotent,
                "openWorldHint": false,
            },
        })
    }
}

/// Every tool, in a fixed order (clients cache the list and its order).
pub static CATALOG: LazyLock<Vec<ToolSpec>> = LazyLock::new(|| {
    [
        account::declarations(),
        campaigns::declarations(),
        inboxes::declarations(),
    ]
    .into_iter()
    .flatten()
    .collect()
});

pub fn find(name: &str) -> Option<&'static ToolSpec> {
    CATALOG.iter().find(|t| t.name == name)
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
        // How the person signed in: an account that requires an identity provider refuses
        // tokens of other sign-ins, from the moment it does.
        let idp = caller.claims.idp.as_deref().unwrap_or(PASSWORD_IDP);
        let sign_in_required = |account: &Account| {
            account
                .required_idp
                .as_deref()
                .filter(|_| !account.accepts_idp(idp))
                .map(|provider| ToolFailure::SignInRequired {
                    provider: provider.to_owned(),
                })
        };
        let chosen = caller
            .claims
            .account_id
            .as_deref()
            .filter(|id| !id.is_empty());
        let Some(account_id) = chosen else {
            // A token that names no account: the first accessible one that accepts it.
            let mut refused = None;
            for membership in deps.directory.memberships(user_id).await? {
                if let Some(account) = deps.directory.account(&membership.account_id).await? {
                    match sign_in_required(&account) {
                        None => {
                            return Ok(Self {
                                membership,
                                account,
                            });
                        }
                        Some(failure) => refused = refused.or(Some(failure)),
                    }
                }
            }
            return Err(refused.unwrap_or(ToolFailure::NoAccount));
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
            (Some(_), Some(account)) if sign_in_required(&account).is_some() => {
                Err(sign_in_required(&account).unwrap_or(ToolFailure::NoAccount))
            }
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

pub(crate) fn arguments<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolFailure> {
    let arguments = if arguments.is_null() {
        json!({})
    } else {
        arguments
    };
    serde_json::from_value(arguments).map_err(|e| ToolFailure::InvalidArguments(e.to_string()))
}

/// Why a `tools/call` got no result at all.
pub enum CallError {
    /// A JSON-RPC error (the store is down).
    Protocol(McpError),
    /// The token's sign-in is not one the account accepts: an HTTP 401 with this reason.
    SignInRequired(String),
}

/// Runs a tool and renders the `tools/call` result. `Err` only for protocol-level failures
/// and a sign-in the account no longer accepts.
pub async fn call(
    deps: &Deps,
    caller: &Caller,
    tool: &ToolSpec,
    args: Value,
) -> Result<Value, CallError> {
    let started = Instant::now();
    let (result, account_id) = match Acting::resolve(deps, caller).await {
        Ok(acting) => {
            let allowed = tool.permission.map_or(Ok(()), |p| acting.require(p));
            let result = match allowed {
                Ok(()) => (tool.handler)(deps, &acting, args).await,
                Err(denied) => Err(denied),
            };
            (result, acting.account.account_id)
        }
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
        Err(ToolFailure::Internal(err)) => Err(CallError::Protocol(err)),
        Err(failure @ ToolFailure::SignInRequired { .. }) => {
            Err(CallError::SignInRequired(failure.message()))
        }
        Err(failure) => Ok(json!({
            "content": [{"type": "text", "text": failure.message()}],
            "isError": true,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_is_catalogued_once_under_a_snake_case_name() {
        // The names themselves are the contract of tests/fixtures/tools.json, checked over
        // the protocol in tests/mcp_protocol.rs.
        let mut names: Vec<_> = CATALOG.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        for spec in CATALOG.iter() {
            assert!(
                spec.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                spec.name
            );
            assert_eq!(find(spec.name).map(|t| t.name), Some(spec.name));
        }
    }

    /// A write is never read-only, and what the role must allow matches the scope's kind.
    #[test]
    fn hints_scopes_and_permissions_agree() {
        for spec in CATALOG.iter() {
            let writes = spec.scope == Some(Scope::CampaignsWrite);
            assert_eq!(spec.hints.read_only, !writes, "{}", spec.name);
            assert_eq!(
                spec.permission == Some(Permission::EditCampaign),
                writes,
                "{}",
                spec.name
            );
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
