//! In-process stores: what `cargo run` uses by default and what the fast tests run on.
//! They mirror the DynamoDB semantics (conditional writes, expiry on read).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{ClientStore, StoreError};
use crate::oauth::client::RegisteredClient;

#[derive(Default)]
pub struct MemoryStore {
    clients: Mutex<HashMap<String, RegisteredClient>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("an earlier panic poisoned the in-memory store".into())
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError> {
        let mut clients = self.clients.lock().map_err(poisoned)?;
        if clients.contains_key(&client.client_id) {
            return Err(StoreError::Conflict);
        }
        clients.insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn get_client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<Option<RegisteredClient>, StoreError> {
        let clients = self.clients.lock().map_err(poisoned)?;
        Ok(clients
            .get(client_id)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn extend_client(
        &self,
        client_id: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let mut clients = self.clients.lock().map_err(poisoned)?;
        if let Some(client) = clients.get_mut(client_id).filter(|c| c.expires_at > now) {
            client.expires_at = client.expires_at.max(expires_at);
        }
        Ok(())
    }
}
