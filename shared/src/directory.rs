//! Who may sign in, and which Alta accounts they may act in, with which role.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::password::PasswordHash;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Member,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Member => "Member",
            Role::Viewer => "Viewer",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(raw))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Emails compare case-insensitively and without surrounding space.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: String,
    /// Normalised (`normalize_email`).
    pub email: String,
    pub name: String,
    /// `None` for a person who signs in only through an identity provider.
    pub password_hash: Option<PasswordHash>,
    pub created_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub created_at: u64,
    /// The identity provider (its id) this account's people must sign in through to
    /// connect apps to it; `None`: any way of signing in.
    pub required_idp: Option<String>,
}

/// How a person signed in, as the `idp` claim says it: a password, or a provider's id.
pub const PASSWORD_IDP: &str = "password";

impl Account {
    /// Whether a sign-in through `idp` may act in this account.
    pub fn accepts_idp(&self, idp: &str) -> bool {
        self.required_idp
            .as_deref()
            .is_none_or(|required| required == idp)
    }
}

/// A provider's subject linked to an Alta user: after the first sign-in, the link (not
/// the email) decides who signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    /// The user's email when linked: how the user is read (users are keyed by email).
    pub email: String,
    pub provider_id: String,
    pub created_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
    /// The inboxes a Manager, Member or Viewer may read; Owners and Admins read all.
    pub inbox_grants: Vec<String>,
    /// Decides the "first accessible account": the oldest membership wins.
    pub created_at: u64,
}

/// A member of an account, as operators list them: the membership and the person's email
/// (`None` if their user record is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub membership: Membership,
    pub email: Option<String>,
}

/// Orders memberships as the first-account rule needs: oldest first, ties by account id.
pub fn sort_memberships(memberships: &mut [Membership]) {
    memberships.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
}
