//! Campaigns, inboxes and emails in one table: `pk` = `ACCOUNT#<id>` keeps an account's
//! data together (and every read inside one account), `sk` = `CAMPAIGN#…`, `INBOX#…`,
//! `EMAIL#…`, for reading one item by id.
//!
//! Lists are read a page at a time from one global secondary index, `lists`, whose
//! partitions are the lists (`lpk`: an account's campaigns, inboxes, emails, one inbox's
//! emails, one campaign's emails) and whose sort key is the item's position (`lsk`,
//! `alta::listing`: `<time>#<id>`). An email is in three lists, and an item is in one
//! partition of an index, so an email also has two list entries (`ENTRY#EMAIL#<id>#INBOX`,
//! `…#CAMPAIGN`): its summary, in its inbox's and its campaign's list. Emails never change,
//! so the entries never go stale. Campaigns by status are the campaign list with a status
//! filter (a status changes, and an entry per status could not move atomically with it):
//! each call reads a bounded number of index pages, so its cost does not grow with the
//! account.
//!
//! One index, because CloudFormation adds at most one index to an existing table per
//! update: a deployed stack upgrades in one `sam deploy` (then `alta-admin reindex`).
//! The index projects everything but email bodies (`INDEX_ATTRIBUTES`), so a page of
//! email costs what its summaries weigh, and a body is read only by `get_email`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, Item, map_sdk_error};
use crate::alta::listing::{EmailFilter, EmailSummary, Page, position_id, search_text};
use crate::alta::{Campaign, CampaignMode, CampaignStats, CampaignStatus, Email, Inbox};
use crate::store::{AltaStore, StoreError, sort_campaigns, sort_emails, sort_inboxes};

mod items;
use items::*;
mod lists;
use lists::*;

/// The non-key attributes every index projects (template.yaml must list the same).
pub const INDEX_ATTRIBUTES: [&str; 19] = [
    "id",
    "account_id",
    "name",
    "status",
    "mode",
    "inbox_id",
    "sent",
    "opened",
    "replied",
    "created_at",
    "updated_at",
    "address",
    "campaign_id",
    "subject",
    "from",
    "to",
    "received_at",
    "snippet",
    "search",
];

/// The index: (name, partition key attribute, sort key attribute).
pub const LIST_INDEX: (&str, &str, &str) = ("lists", "lpk", "lsk");

fn list_partition(account_id: &str, list: &str) -> String {
    format!("ACCOUNT#{account_id}#{list}")
}

#[async_trait]
impl AltaStore for DynamoStore {
    async fn put_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        self.put(
            Item::new()
                .s("pk", format!("ACCOUNT#{}", c.account_id))
                .s("sk", format!("CAMPAIGN#{}", c.id))
                .s("id", &c.id)
                .s("account_id", &c.account_id)
                .s("name", &c.name)
                .s("status", c.status.as_str())
                .s("mode", c.mode.as_str())
                .s("inbox_id", &c.inbox_id)
                .n("sent", c.stats.sent)
                .n("opened", c.stats.opened)
                .n("replied", c.stats.replied)
                .n("created_at", c.created_at)
                .n("updated_at", c.updated_at)
                .s("lpk", list_partition(&c.account_id, "CAMPAIGNS"))
                .s("lsk", c.position()),
        )
        .await
    }

    async fn put_inbox(&self, i: &Inbox) -> Result<(), StoreError> {
        self.put(
            Item::new()
                .s("pk", format!("ACCOUNT#{}", i.account_id))
                .s("sk", format!("INBOX#{}", i.id))
                .s("id", &i.id)
                .s("account_id", &i.account_id)
                .s("name", &i.name)
                .s("address", &i.address)
                .n("created_at", i.created_at)
                .s("lpk", list_partition(&i.account_id, "INBOXES"))
                .s("lsk", i.position()),
        )
        .await
    }

    async fn put_email(&self, e: &Email) -> Result<(), StoreError> {
        let summary = e.summary();
        // The summary, under a base-table key and in one list.
        let entry = |sk: String, list: String| {
            Item::new()
                .s("pk", format!("ACCOUNT#{}", e.account_id))
                .s("sk", sk)
                .s("id", &e.id)
                .s("account_id", &e.account_id)
                .s("inbox_id", &e.inbox_id)
                .opt_s("campaign_id", e.campaign_id.as_deref())
                .s("subject", &e.subject)
                .s("from", &e.from)
                .s("to", &e.to)
                .n("received_at", e.received_at)
                .s("snippet", &summary.snippet)
                .s("search", search_text(&summary))
                .s("lpk", list_partition(&e.account_id, &list))
                .s("lsk", summary.position())
        };
        // The entries first: an email is never listed in its account's list (below)
        // before its inbox's and campaign's lists have it too.
        self.put(entry(
            inbox_entry_key(&e.id),
            format!("EMAILS#INBOX#{}", e.inbox_id),
        ))
        .await?;
        if let Some(campaign_id) = &e.campaign_id {
            self.put(entry(
                campaign_entry_key(&e.id),
                format!("EMAILS#CAMPAIGN#{campaign_id}"),
            ))
            .await?;
        }
        self.put(entry(email_key(&e.id), "EMAILS".into()).s("body", &e.body))
            .await
    }

    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut found = self
            .query_kind(account_id, "CAMPAIGN#")
            .await?
            .iter()
            .map(campaign_from)
            .collect::<Result<Vec<_>, _>>()?;
        sort_campaigns(&mut found);
        Ok(found)
    }

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        self.get(account_id, format!("CAMPAIGN#{campaign_id}"))
            .await?
            .as_ref()
            .map(campaign_from)
            .transpose()
    }

    async fn update_campaign_status(
        &self,
        account_id: &str,
        campaign_id: &str,
        from: CampaignStatus,
        to: CampaignStatus,
        now: u64,
    ) -> Result<Campaign, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.alta_data)
            .set_key(Some(key(account_id, format!("CAMPAIGN#{campaign_id}"))))
            .update_expression("SET #status = :to, updated_at = :now")
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().into()))
            .expression_attribute_values(":from", AttributeValue::S(from.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(map_sdk_error)?;
        campaign_from(&Item::from(out.attributes.unwrap_or_default()))
    }

    async fn inboxes(&self, account_id: &str) -> Result<Vec<Inbox>, StoreError> {
        let mut found = self
            .query_kind(account_id, "INBOX#")
            .await?
            .iter()
            .map(inbox_from)
            .collect::<Result<Vec<_>, _>>()?;
        sort_inboxes(&mut found);
        Ok(found)
    }

    async fn emails(&self, account_id: &str) -> Result<Vec<Email>, StoreError> {
        let mut found = self
            .query_kind(account_id, "EMAIL#")
            .await?
            .iter()
            .map(email_from)
            .collect::<Result<Vec<_>, _>>()?;
        sort_emails(&mut found);
        Ok(found)
    }

    async fn campaign_page(
        &self,
        account_id: &str,
        status: Option<CampaignStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Campaign>, StoreError> {
        let mut filter = Filter::default();
        if let Some(status) = status {
            filter.equals("status", status.as_str());
        }
        let query = ListQuery {
            partition: list_partition(account_id, "CAMPAIGNS"),
            item_key: campaign_key,
            newest_first: false,
            filter,
        };
        let (items, next) = self.list_page(account_id, &query, after, limit).await?;
        Ok(Page {
            items: items.iter().map(campaign_from).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn inbox(&self, account_id: &str, inbox_id: &str) -> Result<Option<Inbox>, StoreError> {
        self.get(account_id, format!("INBOX#{inbox_id}"))
            .await?
            .as_ref()
            .map(inbox_from)
            .transpose()
    }

    async fn inbox_page(
        &self,
        account_id: &str,
        only: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Inbox>, StoreError> {
        let mut filter = Filter::default();
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Page::empty());
            }
            filter.one_of("id", ids);
        }
        let query = ListQuery {
            partition: list_partition(account_id, "INBOXES"),
            item_key: inbox_key,
            newest_first: false,
            filter,
        };
        let (items, next) = self.list_page(account_id, &query, after, limit).await?;
        Ok(Page {
            items: items.iter().map(inbox_from).collect::<Result<_, _>>()?,
            next,
        })
    }

    async fn email_page(
        &self,
        account_id: &str,
        f: &EmailFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<EmailSummary>, StoreError> {
        let mut filter = Filter::default();
        let single_readable = f
            .readable
            .as_deref()
            .filter(|ids| ids.len() == 1)
            .map(|ids| ids[0].clone());
        // The narrowest list that holds every match: one inbox's, one campaign's, or all.
        let (list, item_key): (String, fn(&str) -> String) =
            match (&f.inbox_id, &f.campaign_id, &single_readable) {
                (Some(inbox), _, _) | (None, None, Some(inbox)) => {
                    (format!("EMAILS#INBOX#{inbox}"), inbox_entry_key)
                }
                (None, Some(campaign), _) => {
                    (format!("EMAILS#CAMPAIGN#{campaign}"), campaign_entry_key)
                }
                (None, None, None) => ("EMAILS".into(), email_key),
            };
        let by_inbox =
            f.inbox_id.is_some() || (f.campaign_id.is_none() && single_readable.is_some());
        if let (Some(_), Some(campaign)) = (&f.inbox_id, &f.campaign_id) {
            filter.equals("campaign_id", campaign);
        }
        if let Some(readable) = &f.readable {
            if readable.is_empty() {
                return Ok(Page::empty());
            }
            if !by_inbox {
                filter.one_of("inbox_id", readable);
            }
        }
        if let Some(text) = &f.text {
            filter.contains("search", text);
        }
        let query = ListQuery {
            partition: list_partition(account_id, &list),
            item_key,
            newest_first: true,
            filter,
        };
        let (items, next) = self.list_page(account_id, &query, after, limit).await?;
        let mut emails = Vec::with_capacity(items.len());
        for item in &items {
            let summary = summary_from(item)?;
            // The inbox list of an inbox-restricted caller holds only readable email,
            // but a filtered list is checked again here, whatever the index answered.
            if f.matches(&summary) {
                emails.push(summary);
            }
        }
        Ok(Page {
            items: emails,
            next,
        })
    }

    async fn email(&self, account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError> {
        self.get(account_id, format!("EMAIL#{email_id}"))
            .await?
            .as_ref()
            .map(email_from)
            .transpose()
    }
}
