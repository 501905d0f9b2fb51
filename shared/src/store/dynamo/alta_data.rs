//! Campaigns, inboxes and emails in one table: `pk` = `ACCOUNT#<id>` keeps an account's
//! data together (and every read inside one account), `sk` = `CAMPAIGN#…`, `INBOX#…`,
//! `EMAIL#…`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, Item, map_sdk_error};
use crate::alta::{Campaign, CampaignMode, CampaignStats, CampaignStatus, Email, Inbox};
use crate::store::{AltaStore, StoreError, sort_campaigns, sort_emails, sort_inboxes};

fn key(account_id: &str, sort_key: String) -> HashMap<String, AttributeValue> {
    Item::new()
        .s("pk", format!("ACCOUNT#{account_id}"))
        .s("sk", sort_key)
        .into_map()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("campaign {what}"))
}

fn campaign_from(item: &Item) -> Result<Campaign, StoreError> {
    Ok(Campaign {
        id: item.get_s("id")?.to_owned(),
        account_id: item.get_s("account_id")?.to_owned(),
        name: item.get_s("name")?.to_owned(),
        status: CampaignStatus::parse(item.get_s("status")?).ok_or_else(|| corrupt("status"))?,
        mode: CampaignMode::parse(item.get_s("mode")?).ok_or_else(|| corrupt("mode"))?,
        inbox_id: item.get_s("inbox_id")?.to_owned(),
        stats: CampaignStats {
            sent: item.get_n("sent")?,
            opened: item.get_n("opened")?,
            replied: item.get_n("replied")?,
        },
        created_at: item.get_n("created_at")?,
        updated_at: item.get_n("updated_at")?,
    })
}

fn inbox_from(item: &Item) -> Result<Inbox, StoreError> {
    Ok(Inbox {
        id: item.get_s("id")?.to_owned(),
        account_id: item.get_s("account_id")?.to_owned(),
        name: item.get_s("name")?.to_owned(),
        address: item.get_s("address")?.to_owned(),
        created_at: item.get_n("created_at")?,
    })
}

fn email_from(item: &Item) -> Result<Email, StoreError> {
    Ok(Email {
        id: item.get_s("id")?.to_owned(),
        account_id: item.get_s("account_id")?.to_owned(),
        inbox_id: item.get_s("inbox_id")?.to_owned(),
        campaign_id: item.opt_get_s("campaign_id")?.map(str::to_owned),
        subject: item.get_s("subject")?.to_owned(),
        from: item.get_s("from")?.to_owned(),
        to: item.get_s("to")?.to_owned(),
        received_at: item.get_n("received_at")?,
        body: item.get_s("body")?.to_owned(),
    })
}

impl DynamoStore {
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.alta_data)
            .set_item(Some(item.into_map()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn get(&self, account_id: &str, sort_key: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.alta_data)
            .set_key(Some(key(account_id, sort_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(out.item.map(Item::from))
    }

    /// Every item of one kind in an account, following DynamoDB's pages.
    async fn query_kind(&self, account_id: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.alta_data)
                .key_condition_expression("pk = :pk AND begins_with(sk, :kind)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("ACCOUNT#{account_id}")),
                )
                .expression_attribute_values(":kind", AttributeValue::S(prefix.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            items.extend(out.items.unwrap_or_default().into_iter().map(Item::from));
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
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
                .n("updated_at", c.updated_at),
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
                .n("created_at", i.created_at),
        )
        .await
    }

    async fn put_email(&self, e: &Email) -> Result<(), StoreError> {
        self.put(
            Item::new()
                .s("pk", format!("ACCOUNT#{}", e.account_id))
                .s("sk", format!("EMAIL#{}", e.id))
                .s("id", &e.id)
                .s("account_id", &e.account_id)
                .s("inbox_id", &e.inbox_id)
                .opt_s("campaign_id", e.campaign_id.as_deref())
                .s("subject", &e.subject)
                .s("from", &e.from)
                .s("to", &e.to)
                .n("received_at", e.received_at)
                .s("body", &e.body),
        )
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

    async fn email(&self, account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError> {
        self.get(account_id, format!("EMAIL#{email_id}"))
            .await?
            .as_ref()
            .map(email_from)
            .transpose()
    }
}
