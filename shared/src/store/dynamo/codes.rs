//! Authorization codes, keyed by `code_hash`; a redeemed code leaves a short-lived
//! `redeemed#<hash>` item naming what it issued, for replay handling.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, Item, map_sdk_error};
use crate::records::grant::{AuthorizationCodeRecord, RedeemedCode, TokenHash};
use crate::records::ids::{ClientId, FamilyId, Jti, UserId};
use crate::store::{CodeStore, StoreError};

#[async_trait]
impl CodeStore for DynamoStore {
    async fn put_code(&self, c: &AuthorizationCodeRecord) -> Result<(), StoreError> {
        let item = Item::new()
            .s("code_hash", c.code_hash.as_str())
            .s("client_id", c.client_id.as_str())
            .s("redirect_uri", &c.redirect_uri)
            .s("code_challenge", c.code_challenge.as_str())
            .s("user_id", c.user_id.as_str())
            .s("scope", c.scope.to_string())
            .s("resource", &c.resource)
            .s("account_id", &c.account_id)
            .s("family_id", c.family_id.as_str())
            .n("created_at", c.created_at)
            .n("expires_at", c.expires_at);
        self.client
            .put_item()
            .table_name(&self.tables.authorization_codes)
            .set_item(Some(item.into_map()))
            .condition_expression("attribute_not_exists(code_hash)")
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
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
        let item = Item::from(map);
        let code = AuthorizationCodeRecord {
            code_hash: TokenHash::from_stored(item.get_s("code_hash")?.to_owned()),
            client_id: ClientId::new(item.get_s("client_id")?),
            redirect_uri: item.get_s("redirect_uri")?.to_owned(),
            code_challenge: item.get_code_challenge("code_challenge")?,
            user_id: UserId::new(item.get_s("user_id")?),
            scope: item.get_scope("scope")?,
            resource: item.get_s("resource")?.to_owned(),
            account_id: item.opt_get_s("account_id")?.unwrap_or_default().to_owned(),
            family_id: FamilyId::new(item.get_s("family_id")?),
            created_at: item.get_n("created_at")?,
            expires_at: item.get_n("expires_at")?,
        };
        Ok((code.expires_at > now).then_some(code))
    }

    async fn put_redeemed_code(&self, r: &RedeemedCode) -> Result<(), StoreError> {
        let item = Item::new()
            .s("code_hash", format!("redeemed#{}", r.code_hash.as_str()))
            .s("family_id", r.family_id.as_str())
            .s("access_token_jti", r.access_token_jti.as_str())
            .n("access_token_expires_at", r.access_token_expires_at)
            .n("expires_at", r.expires_at);
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
        let item = Item::from(map);
        let redeemed = RedeemedCode {
            code_hash: code_hash.clone(),
            family_id: FamilyId::new(item.get_s("family_id")?),
            access_token_jti: Jti::new(item.get_s("access_token_jti")?),
            access_token_expires_at: item.get_n("access_token_expires_at")?,
            expires_at: item.get_n("expires_at")?,
        };
        Ok((redeemed.expires_at > now).then_some(redeemed))
    }
}
