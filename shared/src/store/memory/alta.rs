//! Alta's campaigns, inboxes and emails, in memory, paged as the DynamoDB store pages them.

use super::*;

pub(super) fn key(account_id: &str, id: &str) -> (String, String) {
    (account_id.to_owned(), id.to_owned())
}

#[async_trait]
impl AltaStore for MemoryStore {
    async fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.lock()?
            .campaigns
            .insert(key(&campaign.account_id, &campaign.id), campaign.clone());
        Ok(())
    }

    async fn put_inbox(&self, inbox: &Inbox) -> Result<(), StoreError> {
        self.lock()?
            .inboxes
            .insert(key(&inbox.account_id, &inbox.id), inbox.clone());
        Ok(())
    }

    async fn put_email(&self, email: &Email) -> Result<(), StoreError> {
        self.lock()?
            .emails
            .insert(key(&email.account_id, &email.id), email.clone());
        Ok(())
    }

    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut found: Vec<Campaign> = self
            .lock()?
            .campaigns
            .values()
            .filter(|c| c.account_id == account_id)
            .cloned()
            .collect();
        sort_campaigns(&mut found);
        Ok(found)
    }

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        Ok(self
            .lock()?
            .campaigns
            .get(&key(account_id, campaign_id))
            .cloned())
    }

    async fn update_campaign_status(
        &self,
        account_id: &str,
        campaign_id: &str,
        from: CampaignStatus,
        to: CampaignStatus,
        now: u64,
    ) -> Result<Campaign, StoreError> {
        let mut t = self.lock()?;
        match t.campaigns.get_mut(&key(account_id, campaign_id)) {
            Some(c) if c.status == from => {
                c.status = to;
                c.updated_at = now;
                Ok(c.clone())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn inboxes(&self, account_id: &str) -> Result<Vec<Inbox>, StoreError> {
        let mut found: Vec<Inbox> = self
            .lock()?
            .inboxes
            .values()
            .filter(|i| i.account_id == account_id)
            .cloned()
            .collect();
        sort_inboxes(&mut found);
        Ok(found)
    }

    async fn emails(&self, account_id: &str) -> Result<Vec<Email>, StoreError> {
        let mut found: Vec<Email> = self
            .lock()?
            .emails
            .values()
            .filter(|e| e.account_id == account_id)
            .cloned()
            .collect();
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
        let mut found = self.campaigns(account_id).await?;
        found.retain(|c| campaign_matches(c, status));
        Ok(page_of(found, Campaign::position, false, after, limit))
    }

    async fn inbox(&self, account_id: &str, inbox_id: &str) -> Result<Option<Inbox>, StoreError> {
        Ok(self
            .lock()?
            .inboxes
            .get(&(account_id.to_owned(), inbox_id.to_owned()))
            .cloned())
    }

    async fn inbox_page(
        &self,
        account_id: &str,
        only: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Inbox>, StoreError> {
        let mut found = self.inboxes(account_id).await?;
        found.retain(|i| only.is_none_or(|ids| ids.contains(&i.id)));
        Ok(page_of(found, Inbox::position, false, after, limit))
    }

    async fn email_page(
        &self,
        account_id: &str,
        filter: &EmailFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<EmailSummary>, StoreError> {
        let found: Vec<EmailSummary> = self
            .emails(account_id)
            .await?
            .iter()
            .map(Email::summary)
            .filter(|e| filter.matches(e))
            .collect();
        Ok(page_of(found, EmailSummary::position, true, after, limit))
    }

    async fn email(&self, account_id: &str, email_id: &str) -> Result<Option<Email>, StoreError> {
        Ok(self.lock()?.emails.get(&key(account_id, email_id)).cloned())
    }
}
