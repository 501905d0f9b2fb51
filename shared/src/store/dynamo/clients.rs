use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, count_in_window, map_sdk_error};
use crate::records::client::{
    ApplicationType, ClientSecretHash, GrantType, RegisteredClient, TokenEndpointAuthMethod,
};
use crate::records::ids::ClientId;
use crate::redirect_uri::RedirectUri;
use crate::scope::ScopeSet;
use crate::store::{ClientStore, StoreError};

#[async_trait]
impl ClientStore for DynamoStore {
    async fn count_registration(
        &self,
        address_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        count_in_window(
            &self.client,
            &self.tables.clients,
            std::collections::HashMap::from([(
                "client_id".to_owned(),
                AttributeValue::S(format!("registrations#{address_key}")),
            )]),
            "registrations",
            now,
            window_ends_at,
        )
        .await
    }

    async fn insert_client(&self, client: &RegisteredClient) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.clients)
            .set_item(Some(to_item(client).into_map()))
            .condition_expression("attribute_not_exists(client_id)")
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
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
                let client = from_item(&Item::from(map))?;
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

fn to_item(c: &RegisteredClient) -> Item {
    let redirect_uris: Vec<&str> = c.redirect_uris.iter().map(RedirectUri::as_str).collect();
    let grant_types: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    Item::new()
        .s("client_id", c.client_id.as_str())
        .opt_s(
            "client_secret_hash",
            c.client_secret_hash.as_ref().map(|h| h.as_str()),
        )
        .opt_s("client_name", c.client_name.as_deref())
        .list_s("redirect_uris", &redirect_uris)
        .list_s("grant_types", &grant_types)
        .s(
            "token_endpoint_auth_method",
            c.token_endpoint_auth_method.as_str(),
        )
        .s("application_type", c.application_type.as_str())
        .opt_s("scope", c.scope.as_ref().map(ScopeSet::to_string))
        .opt_s("client_uri", c.client_uri.as_deref())
        .opt_s("logo_uri", c.logo_uri.as_deref())
        .opt_s("tos_uri", c.tos_uri.as_deref())
        .opt_s("policy_uri", c.policy_uri.as_deref())
        .list_s("contacts", &c.contacts)
        .opt_s("software_id", c.software_id.as_deref())
        .opt_s("software_version", c.software_version.as_deref())
        .n("client_id_issued_at", c.client_id_issued_at)
        .n("expires_at", c.expires_at)
}

fn from_item(item: &Item) -> Result<RegisteredClient, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("client {what}"));
    let opt = |name: &str| item.opt_get_s(name).map(|v| v.map(str::to_owned));
    Ok(RegisteredClient {
        client_id: ClientId::new(item.get_s("client_id")?),
        client_secret_hash: opt("client_secret_hash")?.map(ClientSecretHash::from_stored),
        client_name: opt("client_name")?,
        redirect_uris: item
            .get_list_s("redirect_uris")?
            .iter()
            .map(|u| RedirectUri::parse(u).map_err(|e| corrupt(&e)))
            .collect::<Result<_, _>>()?,
        grant_types: item
            .get_list_s("grant_types")?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant type")))
            .collect::<Result<_, _>>()?,
        token_endpoint_auth_method: TokenEndpointAuthMethod::parse(
            item.get_s("token_endpoint_auth_method")?,
        )
        .ok_or_else(|| corrupt("auth method"))?,
        application_type: match item.get_s("application_type")? {
            "web" => ApplicationType::Web,
            "native" => ApplicationType::Native,
            _ => return Err(corrupt("application type")),
        },
        scope: item.opt_get_scope("scope")?,
        client_uri: opt("client_uri")?,
        logo_uri: opt("logo_uri")?,
        tos_uri: opt("tos_uri")?,
        policy_uri: opt("policy_uri")?,
        contacts: item.get_list_s("contacts")?,
        software_id: opt("software_id")?,
        software_version: opt("software_version")?,
        client_id_issued_at: item.get_n("client_id_issued_at")?,
        expires_at: item.get_n("expires_at")?,
    })
}
