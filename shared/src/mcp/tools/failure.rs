//! Why a tool call did not do what was asked, as the model reads it.

use super::*;

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
    /// The account requires signing in through an identity provider this token's person
    /// did not use: an HTTP 401, so that the app connects again.
    SignInRequired {
        provider: String,
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
    pub(super) fn outcome(&self) -> &'static str {
        match self {
            Self::Denied { .. } => "denied",
            Self::NotFound(_) => "not_found",
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::Refused(_) => "refused",
            Self::NoAccount => "no_account",
            Self::NotAMember { .. } => "not_a_member",
            Self::SignInRequired { .. } => "sign_in_required",
            Self::Internal(_) => "error",
        }
    }

    pub(super) fn message(&self) -> String {
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
            Self::SignInRequired { provider } => {
                format!("this account requires signing in through {provider}: connect again")
            }
            Self::Internal(err) => err.message.clone(),
        }
    }
}
