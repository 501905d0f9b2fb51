//! DynamoDB stores. Items use plain attributes (readable in the console); every write that
//! must not clobber uses a condition expression; expiry is a TTL attribute that reads
//! also check, since DynamoDB deletes expired items only eventually.

mod alta_data;
mod clients;
mod codes;
mod directory;
pub use directory::SIGN_IN_THROTTLE_PREFIX;
mod item;
mod refresh_tokens;
mod revocations;
pub mod tables;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::StoreError;
use crate::config::TableNames;

pub use item::Item;

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
    StoreError::Unavailable(DisplayErrorContext(err).to_string())
}
