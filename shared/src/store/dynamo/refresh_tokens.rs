//! Refresh tokens, keyed by `token_hash`. A person's grants live in the same table, in one
//! item per person (`grants#<user_id>`), one map attribute per grant (`g_<grant_id>`): one
//! read lists them, one write adds one and forgets others, and no index is needed.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, map_sdk_error, record_from_item, record_to_item};
use crate::records::grant::{GrantRecord, RefreshTokenRecord, TokenHash};
use crate::records::ids::{FamilyId, UserId};
use crate::store::{RefreshTokenStore, StoreError};

fn grants_key(user_id: &UserId) -> AttributeValue {
    AttributeValue::S(format!("grants#{user_id}"))
}

const GRANT_PREFIX: &str = "g_";

fn grant_to_map(g: &GrantRecord) -> Result<AttributeValue, StoreError> {
    Ok(AttributeValue::M(record_to_item(g)?.into_map()))
}

fn grant_from_map(user_id: &UserId, value: &AttributeValue) -> Result<GrantRecord, StoreError> {
    let AttributeValue::M(map) = value else {
        return Err(StoreError::Corrupt("a grant is not a map".into()));
    };
    Ok(GrantRecord {
        user_id: user_id.clone(),
        ..record_from_item(map.clone())?
    })
}

#[async_trait]
impl RefreshTokenStore for DynamoStore {
    async fn put_refresh_token(&self, t: &RefreshTokenRecord) -> Result<(), StoreError> {
        // `expires_at` is the TTL attribute: a family outlives no token of it.
        let item = record_to_item(t)?;
        self.put_new(&self.tables.refresh_tokens, "token_hash", item)
            .await
    }

    async fn refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.refresh_tokens)
            .key(
                "token_hash",
                AttributeValue::S(token_hash.as_str().to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let Some(map) = out.item else {
            return Ok(None);
        };
        record_from_item(map).map(Some)
    }

    async fn mark_rotated(
        &self,
        token_hash: &TokenHash,
        now: u64,
        successor: &TokenHash,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key(
                "token_hash",
                AttributeValue::S(token_hash.as_str().to_owned()),
            )
            .update_expression("SET rotated_at = :now, replaced_by = :next")
            .condition_expression(
                "attribute_exists(token_hash) AND attribute_not_exists(rotated_at)",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":next", AttributeValue::S(successor.as_str().to_owned()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn retry_rotated(
        &self,
        token_hash: &TokenHash,
        rotated_since: u64,
        max_retries: u32,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key(
                "token_hash",
                AttributeValue::S(token_hash.as_str().to_owned()),
            )
            .update_expression("ADD grace_retries :one")
            .condition_expression(
                "rotated_at >= :since AND attribute_not_exists(successor_used_at) \
                 AND (attribute_not_exists(grace_retries) OR grace_retries < :max)",
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":since", AttributeValue::N(rotated_since.to_string()))
            .expression_attribute_values(":max", AttributeValue::N(max_retries.to_string()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn mark_successor_used(
        &self,
        token_hash: &TokenHash,
        now: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key(
                "token_hash",
                AttributeValue::S(token_hash.as_str().to_owned()),
            )
            .update_expression("SET successor_used_at = :now")
            .condition_expression(
                "attribute_exists(token_hash) AND attribute_not_exists(successor_used_at)",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map_err(map_sdk_error);
        match result {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn put_grant(&self, grant: &GrantRecord, ended: &[FamilyId]) -> Result<(), StoreError> {
        let mut names = HashMap::from([(
            "#new".to_owned(),
            format!("{GRANT_PREFIX}{}", grant.grant_id),
        )]);
        let mut removed = Vec::new();
        for (i, id) in ended.iter().filter(|id| **id != grant.grant_id).enumerate() {
            names.insert(format!("#old{i}"), format!("{GRANT_PREFIX}{id}"));
            removed.push(format!("#old{i}"));
        }
        // The newest grant ends last (every family lasts as long), so the item's TTL is
        // the newest grant's end.
        let mut update = "SET #new = :grant, expires_at = :exp".to_owned();
        if !removed.is_empty() {
            update.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
        self.client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key("token_hash", grants_key(&grant.user_id))
            .update_expression(update)
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":grant", grant_to_map(grant)?)
            .expression_attribute_values(":exp", AttributeValue::N(grant.expires_at.to_string()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn grants(&self, user_id: &UserId) -> Result<Vec<GrantRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.refresh_tokens)
            .key("token_hash", grants_key(user_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let mut grants = out
            .item
            .unwrap_or_default()
            .iter()
            .filter(|(name, _)| name.starts_with(GRANT_PREFIX))
            .map(|(_, value)| grant_from_map(user_id, value))
            .collect::<Result<Vec<_>, _>>()?;
        grants.sort_by(|a, b| (a.created_at, &a.grant_id).cmp(&(b.created_at, &b.grant_id)));
        Ok(grants)
    }

    async fn touch_grant(
        &self,
        user_id: &UserId,
        grant_id: &FamilyId,
        now: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key("token_hash", grants_key(user_id))
            .update_expression("SET #g.last_used_at = :now")
            .condition_expression("attribute_exists(#g)")
            .expression_attribute_names("#g", format!("{GRANT_PREFIX}{grant_id}"))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map_err(map_sdk_error);
        match result {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn remove_grant(&self, user_id: &UserId, grant_id: &FamilyId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.refresh_tokens)
            .key("token_hash", grants_key(user_id))
            .update_expression("REMOVE #g")
            .expression_attribute_names("#g", format!("{GRANT_PREFIX}{grant_id}"))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}
