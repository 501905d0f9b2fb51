//! Identity providers (`IDP`/`<provider id>`: one partition, read in one query) and the
//! links from a provider's subject to a user (`LINK#<sha256 of issuer and subject>`/`LINK`),
//! in the directory table.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::directory::key;
use super::{DynamoStore, Item, map_sdk_error, record_from_item, record_to_item};
use crate::digest::sha256_hex;
use crate::directory::IdentityLink;
use crate::federation::provider::IdentityProvider;
use crate::store::{IdentityStore, StoreError};

/// The partition key prefix of links: besides the sign-in throttle, the only items the
/// authorize function may write (its IAM policy's `dynamodb:LeadingKeys` names it).
pub const IDENTITY_LINK_PREFIX: &str = "LINK#";
const PROVIDERS_PK: &str = "IDP";

fn link_key(issuer: &str, subject: &str) -> std::collections::HashMap<String, AttributeValue> {
    // Hashed: an issuer and a subject together may exceed what a key should hold, and the
    // separator cannot occur in an issuer URL.
    let id = sha256_hex(format!("{issuer}\n{subject}").as_bytes());
    key(format!("{IDENTITY_LINK_PREFIX}{id}"), "LINK")
}

#[async_trait]
impl IdentityStore for DynamoStore {
    async fn put_identity_provider(&self, provider: &IdentityProvider) -> Result<(), StoreError> {
        let item = record_to_item(provider)?
            .s("pk", PROVIDERS_PK)
            .s("sk", &provider.id);
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(item.into_map()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn identity_providers(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.directory)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(PROVIDERS_PK.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            for map in out.items.unwrap_or_default() {
                found.push(record_from_item(map)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(found)
    }

    async fn remove_identity_provider(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(PROVIDERS_PK.into(), id)))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn identity_link(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<IdentityLink>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(link_key(issuer, subject)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        out.item
            .map(|map| {
                let item = Item::from(map);
                Ok(IdentityLink {
                    issuer: item.get_s("issuer")?.to_owned(),
                    subject: item.get_s("subject")?.to_owned(),
                    user_id: item.get_s("user_id")?.to_owned(),
                    email: item.get_s("email")?.to_owned(),
                    provider_id: item.get_s("provider_id")?.to_owned(),
                    created_at: item.get_n("created_at")?,
                })
            })
            .transpose()
    }

    async fn create_identity_link(&self, link: &IdentityLink) -> Result<(), StoreError> {
        let mut item = Item::new();
        for (name, value) in link_key(&link.issuer, &link.subject) {
            if let AttributeValue::S(value) = value {
                item = item.s(&name, value);
            }
        }
        let item = item
            .s("issuer", &link.issuer)
            .s("subject", &link.subject)
            .s("user_id", &link.user_id)
            .s("email", &link.email)
            .s("provider_id", &link.provider_id)
            .n("created_at", link.created_at);
        self.put_new(&self.tables.directory, "pk", item).await
    }
}
