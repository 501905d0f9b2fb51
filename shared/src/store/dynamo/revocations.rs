//! Revocations, keyed by `id` (`jti#…` or `family#…`), each with a TTL at the time the
//! revoked thing would have expired anyway; and single-use markers (`form#…`).

use async_trait::async_trait;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

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

    async fn any_revoked(&self, keys: &[String], now: u64) -> Result<bool, StoreError> {
        if keys.is_empty() {
            return Ok(false);
        }
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for key in keys {
            wanted = wanted.keys(HashMap::from([(
                "id".to_owned(),
                AttributeValue::S(key.clone()),
            )]));
        }
        let wanted = wanted
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut request = HashMap::from([(self.tables.revocations.clone(), wanted)]);
        // A batch may come back partly unprocessed under load: ask again for the rest.
        for _ in 0..5 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(map_sdk_error)?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.tables.revocations)
                .unwrap_or_default()
            {
                if Item::from(item).get_n("expires_at")? > now {
                    return Ok(true);
                }
            }
            match out.unprocessed_keys {
                Some(rest) if !rest.is_empty() => request = rest,
                _ => return Ok(false),
            }
        }
        Err(StoreError::Unavailable(
            "the revocation check stayed unprocessed".into(),
        ))
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
