//! Refresh tokens, keyed by `token_hash`; the grant index lives in the same table under
//! `grant#<hash of user, client, resource>` keys.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, Item, map_sdk_error};
use crate::oauth::grant::{RefreshTokenRecord, TokenHash};
use crate::store::{RefreshTokenStore, StoreError};

#[async_trait]
impl RefreshTokenStore for DynamoStore {
    async fn put_refresh_token(&self, t: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut item = Item::new()
            .s("token_hash", t.token_hash.as_str())
            .s("family_id", &t.family_id)
            .s("client_id", &t.client_id)
            .s("user_id", &t.user_id)
            .s("scope", &t.scope)
            .s("resource", &t.resource)
            .n("issued_at", t.issued_at)
            // The TTL attribute: a family outlives no token of it.
            .n("expires_at", t.expires_at)
            .n("family_expires_at", t.family_expires_at)
            .opt_s("replaced_by", t.replaced_by.as_ref().map(|h| h.as_str()));
        if let Some(rotated_at) = t.rotated_at {
            item = item.n("rotated_at", rotated_at);
        }
        self.client
            .put_item()
            .table_name(&self.tables.refresh_tokens)
            .set_item(Some(item.into_map()))
            .condition_expression("attribute_not_exists(token_hash)")
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
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
        let item = Item::from(map);
        Ok(Some(RefreshTokenRecord {
            token_hash: token_hash.clone(),
            family_id: item.get_s("family_id")?.to_owned(),
            client_id: item.get_s("client_id")?.to_owned(),
            user_id: item.get_s("user_id")?.to_owned(),
            scope: item.get_s("scope")?.to_owned(),
            resource: item.get_s("resource")?.to_owned(),
            issued_at: item.get_n("issued_at")?,
            expires_at: item.get_n("expires_at")?,
            family_expires_at: item.get_n("family_expires_at")?,
            rotated_at: item
                .0
                .contains_key("rotated_at")
                .then(|| item.get_n("rotated_at"))
                .transpose()?,
            replaced_by: item
                .opt_get_s("replaced_by")?
                .map(|h| TokenHash::from_stored(h.to_owned())),
        }))
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

    async fn swap_grant_family(
        &self,
        grant_key: &str,
        family_id: &str,
        expires_at: u64,
    ) -> Result<Option<String>, StoreError> {
        let item = Item::new()
            .s("token_hash", grant_key)
            .s("family_id", family_id)
            .n("expires_at", expires_at);
        let out = self
            .client
            .put_item()
            .table_name(&self.tables.refresh_tokens)
            .set_item(Some(item.into_map()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_sdk_error)?;
        out.attributes
            .map(|map| Item::from(map).get_s("family_id").map(str::to_owned))
            .transpose()
    }
}
