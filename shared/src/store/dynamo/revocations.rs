//! Revocations, keyed by `id` (`jti#…` or `family#…`), each with a TTL at the time the
//! revoked thing would have expired anyway; and single-use markers (`form#…`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, map_sdk_error};
use crate::store::{RevocationStore, StoreError};

#[async_trait]
impl RevocationStore for DynamoStore {
    async fn revoke(&self, key: &str, expires_at: u64) -> Result<(), StoreError> {
        // Never shorten an existing revocation.
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.revocations)
            .key("id", AttributeValue::S(key.to_owned()))
            .update_expression("SET expires_at = :exp")
            .condition_expression("attribute_not_exists(expires_at) OR expires_at < :exp")
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        match result.map_err(map_sdk_error) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn is_revoked(&self, key: &str, now: u64) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.revocations)
            .key("id", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        match out.item.map(Item::from) {
            Some(item) => Ok(item.get_n("expires_at")? > now),
            None => Ok(false),
        }
    }

    async fn use_once(&self, key: &str, expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.revocations)
            .key("id", AttributeValue::S(key.to_owned()))
            .update_expression("SET expires_at = :exp")
            // TTL deletion lags: an expired item counts as absent.
            .condition_expression("attribute_not_exists(id) OR expires_at <= :now")
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result.map_err(map_sdk_error) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(err) => Err(err),
        }
    }
}
