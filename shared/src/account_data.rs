//! An account's Alta data as one JSON document: `{"inboxes": […], "campaigns": […],
//! "emails": […]}`, each item in the shape the tools return it. `alta-admin load-data`
//! reads it into a stack; the local server's demo data is such a document.

use std::collections::HashSet;

use serde::Deserialize;
use thiserror::Error;

use crate::alta::{Campaign, Email, Inbox};
use crate::store::{AltaStore, StoreError};

#[derive(Debug, Error)]
pub enum AccountDataError {
    #[error("not an account data document: {0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountData {
    #[serde(default)]
    pub inboxes: Vec<Inbox>,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub emails: Vec<Email>,
}

/// How many items a load wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub inboxes: usize,
    pub campaigns: usize,
    pub emails: usize,
}

impl AccountData {
    pub fn parse(json: &str) -> Result<Self, AccountDataError> {
        serde_json::from_str(json).map_err(|e| AccountDataError::Parse(e.to_string()))
    }

    /// Moves every timestamp by the same amount so that the newest is `now` (demo data
    /// that always looks recent).
    pub fn shifted_to(mut self, now: u64) -> Self {
        let newest = self
            .inboxes
            .iter()
            .map(|i| i.created_at)
            .chain(self.campaigns.iter().map(|c| c.updated_at))
            .chain(self.emails.iter().map(|e| e.received_at))
            .max()
            .unwrap_or(now);
        let shift = |t: u64| t.saturating_add(now.saturating_sub(newest));
        for inbox in &mut self.inboxes {
            inbox.created_at = shift(inbox.created_at);
        }
        for campaign in &mut self.campaigns {
            campaign.created_at = shift(campaign.created_at);
            campaign.updated_at = shift(campaign.updated_at);
        }
        for email in &mut self.emails {
            email.received_at = shift(email.received_at);
        }
        self
    }

    /// Writes everything into `account_id`, after checking that ids are unique and every
    /// reference (a campaign's or email's inbox, an email's campaign) names an item of the
    /// document or one the account already has. Writing the same document twice changes
    /// nothing: items are put by id.
    pub async fn load(
        mut self,
        store: &dyn AltaStore,
        account_id: &str,
    ) -> Result<Loaded, AccountDataError> {
        let invalid = |m: String| AccountDataError::Invalid(m);
        let mut inbox_ids: HashSet<String> = store
            .inboxes(account_id)
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
        let mut campaign_ids: HashSet<String> = store
            .campaigns(account_id)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        unique("inbox", self.inboxes.iter().map(|i| i.id.as_str()))?;
        unique("campaign", self.campaigns.iter().map(|c| c.id.as_str()))?;
        unique("email", self.emails.iter().map(|e| e.id.as_str()))?;
        inbox_ids.extend(self.inboxes.iter().map(|i| i.id.clone()));
        campaign_ids.extend(self.campaigns.iter().map(|c| c.id.clone()));
        for campaign in &self.campaigns {
            if !inbox_ids.contains(&campaign.inbox_id) {
                return Err(invalid(format!(
                    "campaign {} sends from inbox {}, which the account does not have",
                    campaign.id, campaign.inbox_id
                )));
            }
        }
        for email in &self.emails {
            if !inbox_ids.contains(&email.inbox_id) {
                return Err(invalid(format!(
                    "email {} is in inbox {}, which the account does not have",
                    email.id, email.inbox_id
                )));
            }
            if let Some(campaign) = &email.campaign_id
                && !campaign_ids.contains(campaign)
            {
                return Err(invalid(format!(
                    "email {} belongs to campaign {campaign}, which the account does not have",
                    email.id
                )));
            }
        }
        // Inboxes, then campaigns, then emails (what refers comes after what it refers to),
        // each kind written a few items at a time: a large account loads in minutes.
        use futures_util::{StreamExt, TryStreamExt, stream};
        let owned = |id: &mut String| *id = account_id.to_owned();
        self.inboxes
            .iter_mut()
            .for_each(|i| owned(&mut i.account_id));
        self.campaigns
            .iter_mut()
            .for_each(|c| owned(&mut c.account_id));
        self.emails
            .iter_mut()
            .for_each(|e| owned(&mut e.account_id));
        stream::iter(self.inboxes.iter().map(|i| store.put_inbox(i)))
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<()>()
            .await?;
        stream::iter(self.campaigns.iter().map(|c| store.put_campaign(c)))
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<()>()
            .await?;
        stream::iter(self.emails.iter().map(|e| store.put_email(e)))
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<()>()
            .await?;
        Ok(Loaded {
            inboxes: self.inboxes.len(),
            campaigns: self.campaigns.len(),
            emails: self.emails.len(),
        })
    }
}

/// Writes in flight at once while loading.
const CONCURRENT_WRITES: usize = 16;

fn unique<'a>(kind: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), AccountDataError> {
    let mut seen = HashSet::new();
    for id in ids {
        if id.trim().is_empty() {
            return Err(AccountDataError::Invalid(format!(
                "a {kind} has an empty id"
            )));
        }
        if !seen.insert(id) {
            return Err(AccountDataError::Invalid(format!(
                "{kind} {id} appears twice"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    const ONE_INBOX: &str = r#"{"inboxes": [{"id": "inbox_1", "name": "Sales", "address": "s@x.example", "created_at": 10}]}"#;

    #[tokio::test]
    async fn loaded_items_belong_to_the_named_account() {
        let store = MemoryStore::new();
        let loaded = AccountData::parse(ONE_INBOX)
            .unwrap()
            .load(&store, "acct_1")
            .await
            .unwrap();
        assert_eq!(loaded.inboxes, 1);
        assert_eq!(store.inboxes("acct_1").await.unwrap()[0].id, "inbox_1");
        assert!(store.inboxes("acct_2").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn references_may_name_what_the_account_already_has() {
        let store = MemoryStore::new();
        AccountData::parse(ONE_INBOX)
            .unwrap()
            .load(&store, "acct_1")
            .await
            .unwrap();
        let email = r#"{"emails": [{"id": "e1", "inbox_id": "inbox_1", "subject": "Hi", "from": "a@x.example", "to": "s@x.example", "received_at": 20, "body": "Hello"}]}"#;
        let data = AccountData::parse(email).unwrap();
        data.clone().load(&store, "acct_1").await.unwrap();
        let elsewhere = data.load(&store, "acct_2").await.unwrap_err();
        assert!(
            elsewhere.to_string().contains("inbox inbox_1"),
            "{elsewhere}"
        );
    }

    #[tokio::test]
    async fn a_broken_document_writes_nothing() {
        let store = MemoryStore::new();
        let dangling = r#"{"inboxes": [{"id": "inbox_1", "name": "Sales", "address": "s@x.example", "created_at": 10}],
            "campaigns": [{"id": "c1", "name": "Q4", "status": "active", "mode": "copilot", "inbox_id": "inbox_9",
                           "stats": {"sent": 0, "opened": 0, "replied": 0}, "created_at": 1, "updated_at": 1}]}"#;
        let err = AccountData::parse(dangling)
            .unwrap()
            .load(&store, "acct_1")
            .await
            .unwrap_err();
        assert!(matches!(err, AccountDataError::Invalid(_)));
        assert!(store.inboxes("acct_1").await.unwrap().is_empty());
    }

    #[test]
    fn unknown_fields_and_statuses_are_refused() {
        assert!(AccountData::parse(r#"{"inbox": []}"#).is_err());
        let bad_status = r#"{"campaigns": [{"id": "c1", "name": "Q4", "status": "running", "mode": "copilot", "inbox_id": "i",
            "stats": {"sent": 0, "opened": 0, "replied": 0}, "created_at": 1, "updated_at": 1}]}"#;
        assert!(AccountData::parse(bad_status).is_err());
    }

    #[test]
    fn shifting_moves_the_newest_item_to_now_and_keeps_the_order() {
        let data = AccountData::parse(ONE_INBOX).unwrap().shifted_to(1_000);
        assert_eq!(data.inboxes[0].created_at, 1_000);
    }
}
