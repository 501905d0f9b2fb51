//! The Alta data table's items: their keys, one item put or read, every item of a kind, and
//! campaigns, inboxes and emails read back from them.

use super::*;

pub(super) fn campaign_key(id: &str) -> String {
    format!("CAMPAIGN#{id}")
}

pub(super) fn inbox_key(id: &str) -> String {
    format!("INBOX#{id}")
}

pub(super) fn email_key(id: &str) -> String {
    format!("EMAIL#{id}")
}

pub(super) fn inbox_entry_key(id: &str) -> String {
    format!("ENTRY#EMAIL#{id}#INBOX")
}

pub(super) fn campaign_entry_key(id: &str) -> String {
    format!("ENTRY#EMAIL#{id}#CAMPAIGN")
}

pub(super) fn key(account_id: &str, sort_key: String) -> HashMap<String, AttributeValue> {
    Item::new()
        .s("pk", format!("ACCOUNT#{account_id}"))
        .s("sk", sort_key)
        .into_map()
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("campaign {what}"))
}

pub(super) fn campaign_from(item: &Item) -> Result<Campaign, StoreError> {
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

pub(super) fn inbox_from(item: &Item) -> Result<Inbox, StoreError> {
    Ok(Inbox {
        id: item.get_s("id")?.to_owned(),
        account_id: item.get_s("account_id")?.to_owned(),
        name: item.get_s("name")?.to_owned(),
        address: item.get_s("address")?.to_owned(),
        created_at: item.get_n("created_at")?,
    })
}

pub(super) fn summary_from(item: &Item) -> Result<EmailSummary, StoreError> {
    Ok(EmailSummary {
        id: item.get_s("id")?.to_owned(),
        inbox_id: item.get_s("inbox_id")?.to_owned(),
        campaign_id: item.opt_get_s("campaign_id")?.map(str::to_owned),
        subject: item.get_s("subject")?.to_owned(),
        from: item.get_s("from")?.to_owned(),
        to: item.get_s("to")?.to_owned(),
        received_at: item.get_n("received_at")?,
        snippet: item.get_s("snippet")?.to_owned(),
    })
}

pub(super) fn email_from(item: &Item) -> Result<Email, StoreError> {
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
    pub(super) async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.alta_data)
            .set_item(Some(item.into_map()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    pub(super) async fn get(
        &self,
        account_id: &str,
        sort_key: String,
    ) -> Result<Option<Item>, StoreError> {
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
    pub(super) async fn query_kind(
        &self,
        account_id: &str,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
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
