//! DynamoDB stores. Items use plain attributes (readable in the console); every write that
//! must not clobber uses a condition expression; expiry is a TTL attribute that reads
//! also check, since DynamoDB deletes expired items only eventually.

mod alta_data;
mod clients;
mod codes;
mod directory;
mod identity;
pub use directory::SIGN_IN_THROTTLE_PREFIX;
pub use identity::IDENTITY_LINK_PREFIX;
mod item;
mod refresh_tokens;
mod revocations;
pub mod tables;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::StoreError;
use crate::config::TableNames;

pub use item::{Item, record_from_item, record_to_item};

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Writes an item that must be new: `Conflict` if one with its key (`key_attribute`)
    /// is there already.
    async fn put_new(
        &self,
        table: &str,
        key_attribute: &str,
        item: Item,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(item.into_map()))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", key_attribute)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}

/// Maps an SDK failure: a failed condition is a `Conflict`, anything else means the store
/// could not do its job right now.
pub(crate) fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &err
        && matches!(
            service.err().code(),
            Some("ConditionalCheckFailedException") | Some("TransactionCanceledException")
        )
    {
        return StoreError::Conflict;
    }
    if let SdkError::ServiceError(service) = &err
        && service.err().code() == Some("ValidationException")
    {
        return StoreError::Rejected(DisplayErrorContext(err).to_string());
    }
    StoreError::Unavailable(DisplayErrorContext(err).to_string())
}

/// Counts one event in a window for the item `key` of `table` (attributes `count` …
/// `expires_at`, a TTL), atomically: an `ADD` while the window is live, else a conditional
/// put that opens a new one (and, if another request just opened it, the `ADD` again).
pub(crate) async fn count_in_window(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    count_attribute: &str,
    now: u64,
    window_ends_at: u64,
) -> Result<u32, StoreError> {
    use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
    for _ in 0..2 {
        let counted = client
            .update_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .update_expression("ADD #count :one")
            .condition_expression("expires_at > :now")
            .expression_attribute_names("#count", count_attribute)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match counted.map_err(map_sdk_error) {
            Ok(out) => {
                let item = Item::from(out.attributes.unwrap_or_default());
                return Ok(item.get_n(count_attribute)? as u32);
            }
            Err(StoreError::Conflict) => {}
            Err(err) => return Err(err),
        }
        let mut item = key.clone();
        item.insert(count_attribute.to_owned(), AttributeValue::N("1".into()));
        item.insert(
            "expires_at".to_owned(),
            AttributeValue::N(window_ends_at.to_string()),
        );
        let first_key = key.keys().next().cloned().unwrap_or_default();
        let opened = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key) OR expires_at <= :now")
            .expression_attribute_names("#key", first_key)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match opened.map_err(map_sdk_error) {
            Ok(_) => return Ok(1),
            Err(StoreError::Conflict) => {}
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Conflict)
}
