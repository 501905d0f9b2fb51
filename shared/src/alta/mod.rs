//! The Alta domain the tools act on: campaigns, inboxes and emails, each belonging to one
//! account. Nothing here knows about MCP or HTTP.

pub mod listing;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Active,
    Paused,
    Completed,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Draft, Self::Active, Self::Paused, Self::Completed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignMode {
    /// Alta sends on its own.
    Autopilot,
    /// A person approves each message.
    Copilot,
}

impl CampaignMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Autopilot => "autopilot",
            Self::Copilot => "copilot",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "autopilot" => Some(Self::Autopilot),
            "copilot" => Some(Self::Copilot),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CampaignStats {
    pub sent: u64,
    pub opened: u64,
    pub replied: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Campaign {
    pub id: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub account_id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub mode: CampaignMode,
    /// The inbox the campaign sends from.
    pub inbox_id: String,
    pub stats: CampaignStats,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub updated_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Inbox {
    pub id: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub account_id: String,
    pub name: String,
    pub address: String,
    pub created_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Email {
    pub id: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub account_id: String,
    pub inbox_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub subject: String,
    pub from: String,
    pub to: String,
    /// Seconds since the Unix epoch.
    pub received_at: u64,
    pub body: String,
}

/// What pausing or resuming asks of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignAction {
    Pause,
    Resume,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The status changes from → to.
    Change {
        from: CampaignStatus,
        to: CampaignStatus,
    },
    /// Already in the target state: repeating the action changes nothing.
    Unchanged,
    /// A draft or completed campaign cannot be paused or resumed.
    Refused(String),
}

impl CampaignAction {
    /// "paused" or "resumed", for messages.
    fn done(self) -> &'static str {
        match self {
            Self::Pause => "paused",
            Self::Resume => "resumed",
        }
    }

    pub fn target(self) -> CampaignStatus {
        match self {
            Self::Pause => CampaignStatus::Paused,
            Self::Resume => CampaignStatus::Active,
        }
    }

    /// Pausing an active campaign makes it paused; resuming a paused one makes it active;
    /// repeating either changes nothing; draft and completed campaigns refuse both.
    pub fn transition(self, current: CampaignStatus) -> Transition {
        use CampaignStatus::*;
        match (self, current) {
            (Self::Pause, Active) => Transition::Change {
                from: Active,
                to: Paused,
            },
            (Self::Resume, Paused) => Transition::Change {
                from: Paused,
                to: Active,
            },
            (Self::Pause, Paused) | (Self::Resume, Active) => Transition::Unchanged,
            (action, Draft) => Transition::Refused(format!(
                "a draft campaign cannot be {}; launch it in Alta first",
                action.done()
            )),
            (action, Completed) => {
                Transition::Refused(format!("a completed campaign cannot be {}", action.done()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    #[test]
    fn pause_and_resume_follow_the_state_machine() {
        assert_eq!(
            CampaignAction::Pause.transition(Active),
            Transition::Change {
                from: Active,
                to: Paused
            }
        );
        assert_eq!(
            CampaignAction::Resume.transition(Paused),
            Transition::Change {
                from: Paused,
                to: Active
            }
        );
        assert_eq!(
            CampaignAction::Pause.transition(Paused),
            Transition::Unchanged
        );
        assert_eq!(
            CampaignAction::Resume.transition(Active),
            Transition::Unchanged
        );
        for status in [Draft, Completed] {
            for action in [CampaignAction::Pause, CampaignAction::Resume] {
                assert!(matches!(action.transition(status), Transition::Refused(_)));
            }
        }
    }

    #[test]
    fn statuses_and_modes_round_trip() {
        for s in [Draft, Active, Paused, Completed] {
            assert_eq!(CampaignStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CampaignMode::parse("copilot"), Some(CampaignMode::Copilot));
        assert_eq!(CampaignStatus::parse("archived"), None);
    }
}
