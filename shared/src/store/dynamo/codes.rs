//! Authorization codes, keyed by `code_hash`; a redeemed code leaves a short-lived
//! `redeemed#<hash>` item naming what it issued, for replay handling.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, map_sdk_error, record_from_item, record_to_item};
use crate::records::grant::{AuthorizationCodeRecord, RedeemedCode, TokenHash};
use crate::store::{CodeStore, StoreError};

#[async_trait]
impl CodeStore for DynamoStore {
    async fn put_code(&self, c: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let item = record_to_item(c)?;
        self.put_new(&self.tables.authorization_codes, "code_hash", item)
            .await
    }

    async fn take_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        // One conditional delete: DynamoDB lets exactly one of any concurrent deleters
        // see the item's old value.
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.tables.authorization_codes)
            .key(
                "code_hash",
                AttributeValue::S(code_hash.as_str().to_owned()),
            )
            .condition_expression("attribute_exists(code_hash)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let out = match deleted.map_err(map_sdk_error) {
            Ok(out) => out,
            Err(StoreError::Conflict) => return Ok(None),
            Err(err) => return Err(err),
        };
        let Some(map) = out.attributes else {
            return Ok(None);
        };
        let code: AuthorizationCodeRecord = record_from_item(map)?;
        Ok((code.expires_at > now).then_some(code))
    }

    async fn put_redeemed_code(&self, r: &RedeemedCode) -> Result<(), StoreError> {
        // Beside the codes, under the code's hash with a prefix.
        let item = record_to_item(r)?.s("code_hash", format!("redeemed#{}", r.code_hash.as_str()));
        self.client
            .put_item()
            .table_name(&self.tables.authorization_codes)
            .set_item(Some(item.into_map()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn redeemed_code(
        &self,
        code_hash: &TokenHash,
        now: u64,
    ) -> Result<Option<RedeemedCode>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.authorization_codes)
            .key(
                "code_hash",
                AttributeValue::S(format!("redeemed#{}", code_hash.as_str())),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let Some(map) = out.item else {
            return Ok(None);
        };
        let redeemed = RedeemedCode {
            code_hash: code_hash.clone(),
            ..record_from_item(map)?
        };
        Ok((redeemed.expires_at > now).then_some(redeemed))
    }
}
