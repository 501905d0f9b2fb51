//! Storage: one trait per concern, each with an in-memory implementation (the local
//! server, fast tests) and a DynamoDB one (deployed), tested by the same test bodies.

pub mod dynamo;
pub mod memory;

#[cfg(test)]
mod contract;

use async_trait::async_trait;
use thiserror::Error;

use crate::oauth::client::RegisteredClient;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// A conditional write found the item already there (or not in the expected state).
    #[error("the item already exists or changed concurrently")]
    Conflict,
    /// The backing service could not be reached or refused the call: worth retrying.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// An item that does not decode: a bug or manual tampering, never a client's fault.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
}

/// Dynamically registered clients (pre-configured ones live in `Config`).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new registration; `Conflict` if the `client_id` is taken.
    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError>;

    /// The registration, unless absent or expired at `now`.
    async fn get_client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<Option<RegisteredClient>, StoreError>;

    /// Pushes the idle expiry forward to `expires_at`; never moves it back and never
    /// resurrects a client that had expired at `now`. A missing client is not an error.
    async fn extend_client(
        &self,
        client_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError>;
}
