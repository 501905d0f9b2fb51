//! Role-based access, as the Alta web app decides it. A tool's effective permission is
//! the token's scope AND the role's permission.

use std::fmt;

use crate::directory::{Membership, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadCampaign,
    EditCampaign,
    ReadEmail,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadCampaign => "Campaign.ReadCampaign",
            Permission::EditCampaign => "Campaign.EditCampaign",
            Permission::ReadEmail => "Inbox.ReadEmail",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which inboxes a membership may read email in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxAccess {
    All,
    Only(Vec<String>),
}

impl InboxAccess {
    pub fn allows(&self, inbox_id: &str) -> bool {
        match self {
            InboxAccess::All => true,
            InboxAccess::Only(ids) => ids.iter().any(|id| id == inbox_id),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, InboxAccess::Only(ids) if ids.is_empty())
    }
}

/// The roles and permissions matrix (docs/mcp.md), as the Alta web app decides it.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    match permission {
        Permission::ReadCampaign | Permission::ReadEmail => true,
        Permission::EditCampaign => matches!(role, Role::Owner | Role::Admin | Role::Manager),
    }
}

/// Owners and Admins read every inbox; everyone else only the inboxes granted to them.
pub fn inbox_access(membership: &Membership) -> InboxAccess {
    match membership.role {
        Role::Owner | Role::Admin => InboxAccess::All,
        _ => InboxAccess::Only(membership.inbox_grants.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, grants: &[&str]) -> Membership {
        Membership {
            user_id: "u".into(),
            account_id: "a".into(),
            role,
            inbox_grants: grants.iter().map(|g| g.to_string()).collect(),
            created_at: 0,
        }
    }

    #[test]
    fn the_design_matrix() {
        use Permission::*;
        use Role::*;
        let table = [
            (Owner, [true, true]),
            (Admin, [true, true]),
            (Manager, [true, true]),
            (Member, [true, false]),
            (Viewer, [true, false]),
        ];
        for (role, [read, edit]) in table {
            assert_eq!(role_allows(role, ReadCampaign), read, "{role} read");
            assert_eq!(role_allows(role, EditCampaign), edit, "{role} edit");
        }
    }

    #[test]
    fn owners_and_admins_read_every_inbox_others_their_grants() {
        assert_eq!(inbox_access(&member(Role::Owner, &[])), InboxAccess::All);
        assert_eq!(inbox_access(&member(Role::Admin, &[])), InboxAccess::All);
        let manager = inbox_access(&member(Role::Manager, &["sales"]));
        assert!(manager.allows("sales") && !manager.allows("support"));
        assert!(inbox_access(&member(Role::Viewer, &[])).is_none());
        assert!(inbox_access(&member(Role::Member, &["x"])).allows("x"));
    }
}
