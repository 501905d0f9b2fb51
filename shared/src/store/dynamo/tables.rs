//! Table definitions, for the local server and the tests: a deployed stack's tables come
//! from `template.yaml`, which must define the same keys, indexes and TTL
//! (`tests/template.rs` holds them equal).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use super::alta_data::{INDEX_ATTRIBUTES, LIST_INDEX};
use super::map_sdk_error;
use crate::config::TableNames;
use crate::store::StoreError;

/// The TTL attribute of every table that has one.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub struct TableSpec {
    pub name: String,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    pub ttl: bool,
    pub indexes: Vec<IndexSpec>,
}

/// A global secondary index with string keys, projecting `projected` besides its keys.
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projected: &'static [&'static str],
}

/// Every table the stores use.
pub fn table_specs(names: &TableNames) -> Vec<TableSpec> {
    let table = |name: &String, partition_key, sort_key| TableSpec {
        name: name.clone(),
        partition_key,
        sort_key,
        ttl: true,
        indexes: Vec::new(),
    };
    vec![
        table(&names.clients, "client_id", None),
        table(&names.authorization_codes, "code_hash", None),
        table(&names.refresh_tokens, "token_hash", None),
        table(&names.revocations, "id", None),
        table(&names.directory, "pk", Some("sk")),
        TableSpec {
            name: names.alta_data.clone(),
            partition_key: "pk",
            sort_key: Some("sk"),
            ttl: false,
            indexes: vec![IndexSpec {
                name: LIST_INDEX.0,
                partition_key: LIST_INDEX.1,
                sort_key: LIST_INDEX.2,
                projected: &INDEX_ATTRIBUTES,
            }],
        },
    ]
}

/// Creates the tables that do not exist yet and waits until they are active.
pub async fn ensure_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    for spec in table_specs(names) {
        create_table(client, &spec).await?;
    }
    Ok(())
}

async fn create_table(client: &Client, spec: &TableSpec) -> Result<(), StoreError> {
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    };
    let mut request = client
        .create_table()
        .table_name(&spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.partition_key, KeyType::Hash)?)
        .attribute_definitions(attribute(spec.partition_key)?);
    if let Some(sort_key) = spec.sort_key {
        request = request
            .key_schema(key(sort_key, KeyType::Range)?)
            .attribute_definitions(attribute(sort_key)?);
    }
    for index in &spec.indexes {
        request = request
            .attribute_definitions(attribute(index.partition_key)?)
            .attribute_definitions(attribute(index.sort_key)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.partition_key, KeyType::Hash)?)
                    .key_schema(key(index.sort_key, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .set_non_key_attributes(Some(
                                index.projected.iter().map(|a| (*a).to_owned()).collect(),
                            ))
                            .build(),
                    )
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err) if err.code() == Some("ResourceInUseException") => return Ok(()),
        Err(err) => return Err(map_sdk_error(err)),
    }
    wait_until_active(client, &spec.name).await?;
    if spec.ttl {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Some local DynamoDB implementations lack the TTL API; reads check expiry anyway.
        if let Err(err) = client
            .update_time_to_live()
            .table_name(&spec.name)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            tracing::debug!(table = %spec.name, error = ?err.code(), "TTL not enabled on this DynamoDB");
        }
    }
    Ok(())
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), StoreError> {
    for _ in 0..200 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(map_sdk_error)?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {table} did not become active"
    )))
}
