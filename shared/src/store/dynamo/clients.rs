use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, count_in_window, map_sdk_error, record_from_item, record_to_item};
use crate::records::client::RegisteredClient;
use crate::store::{AddressCounter, ClientStore, StoreError};

#[async_trait]
impl ClientStore for DynamoStore {
    async fn count_for_address(
        &self,
        counter: AddressCounter,
        address_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        let attribute = counter.key_prefix().trim_end_matches('#');
        count_in_window(
            &self.client,
            &self.tables.clients,
            std::collections::HashMap::from([(
                "client_id".to_owned(),
                AttributeValue::S(format!("{}{address_key}", counter.key_prefix())),
            )]),
            attribute,
            now,
            window_ends_at,
        )
        .await
    }

    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError> {
        let item = record_to_item(client)?;
        self.put_new(&self.tables.clients, "client_id", item).await
    }

    async fn get_client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<Option<RegisteredClient>, StoreError> {
        // Registered ids are base64url and never hold `#`: such ids name counters.
        if client_id.contains('#') {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.clients)
            .key("client_id", AttributeValue::S(client_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        match out.item {
            None => Ok(None),
            Some(map) => {
                let client: RegisteredClient = record_from_item(map)?;
                Ok((client.expires_at > now).then_some(client))
            }
        }
    }

    async fn extend_client(
        &self,
        client_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.clients)
            .key("client_id", AttributeValue::S(client_id.to_owned()))
            .update_expression("SET expires_at = :new")
            .condition_expression(
                "attribute_exists(client_id) AND expires_at > :now AND expires_at < :new",
            )
            .expression_attribute_values(":new", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result.map_err(map_sdk_error) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
