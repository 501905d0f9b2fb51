//! The OAuth scopes of the contract (docs/oauth.md). A token's effective permission is its scope AND the
//! person's role (see `rbac`).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "campaigns:read")]
    CampaignsRead,
    #[serde(rename = "campaigns:write")]
    CampaignsWrite,
    #[serde(rename = "inbox:read")]
    InboxRead,
}

impl Scope {
    pub const ALL: [Scope; 3] = [
        Scope::CampaignsRead,
        Scope::CampaignsWrite,
        Scope::InboxRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CampaignsRead => "campaigns:read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::InboxRead => "inbox:read",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// What the consent page tells a person the client will be able to do.
    pub fn description(self) -> &'static str {
        match self {
            Scope::CampaignsRead => "See your campaigns",
            Scope::CampaignsWrite => "Pause and resume your campaigns",
            Scope::InboxRead => "Read email in the inboxes you can access",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, written as the space-separated `scope` parameter (RFC 6749 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(BTreeSet<Scope>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl ScopeSet {
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    /// Scopes that clients add on their own and that mean nothing here: Claude Code and
    /// claude.ai connectors ask for `offline_access`, generic OIDC clients for
    /// `openid email profile`. Accepted and dropped, never granted: a refresh token is
    /// issued regardless, and this server issues no ID token.
    pub const IGNORED: [&str; 4] = ["offline_access", "openid", "profile", "email"];

    /// Parses a `scope` parameter; every token must be a known scope or one of
    /// [`Self::IGNORED`], which is dropped.
    pub fn parse(raw: &str) -> Result<Self, UnknownScope> {
        raw.split(' ')
            .filter(|t| !t.is_empty() && !Self::IGNORED.contains(t))
            .map(|t| Scope::parse(t).ok_or_else(|| UnknownScope(t.to_owned())))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Keeps the known scopes of a parameter and drops the rest: for client metadata, where
    /// a client's wish list (`openid profile …`) must not make registration fail.
    pub fn parse_known(raw: &str) -> Self {
        Self(raw.split(' ').filter_map(Scope::parse).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

/// As the `scope` string, in signed forms and wherever else a set travels as JSON.
impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Only ever what this server wrote (stored records, its own signed forms): scopes it no
/// longer knows are dropped, so a grant never widens.
impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::parse_known(&String::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parameter_round_trips_in_canonical_order() {
        let set = ScopeSet::parse("inbox:read campaigns:read").unwrap();
        assert_eq!(set.to_string(), "campaigns:read inbox:read");
    }

    #[test]
    fn scopes_clients_add_on_their_own_are_accepted_and_dropped() {
        let set = ScopeSet::parse(" campaigns:read offline_access openid profile email").unwrap();
        assert_eq!(set.to_string(), "campaigns:read");
        assert!(ScopeSet::parse(" offline_access").unwrap().is_empty());
    }

    #[test]
    fn unknown_scope_is_named() {
        assert_eq!(
            ScopeSet::parse("campaigns:read admin"),
            Err(UnknownScope("admin".into()))
        );
    }

    #[test]
    fn extra_spaces_are_tolerated() {
        assert_eq!(
            ScopeSet::parse("  campaigns:write ").unwrap().to_string(),
            "campaigns:write"
        );
    }

    #[test]
    fn parse_known_drops_foreign_scopes() {
        assert_eq!(
            ScopeSet::parse_known("openid campaigns:read profile").to_string(),
            "campaigns:read"
        );
    }

    #[test]
    fn all_is_the_three_design_scopes() {
        assert_eq!(
            ScopeSet::all().to_string(),
            "campaigns:read campaigns:write inbox:read"
        );
    }
}
