//! Users, accounts and memberships in one table keyed by `pk`/`sk`:
//! `EMAIL#<email>`/`USER` (a user, so that the email is unique by key),
//! `ACCOUNT#<id>`/`ACCOUNT`, `USER#<user id>`/`MEMBER#<account id>`, and
//! `SIGNIN#<email key>`/`FAILURES` (the sign-in throttle, with a TTL); identity providers
//! and links in `identity.rs`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, count_in_window, map_sdk_error};
use crate::directory::{Account, Member, Membership, Role, User, sort_memberships};
use crate::password::PasswordHash;
use crate::store::{DirectoryStore, StoreError};

/// The partition key prefix of sign-in throttle items: the only items the authorize
/// function may write (its IAM policy's `dynamodb:LeadingKeys` names it).
pub const SIGN_IN_THROTTLE_PREFIX: &str = "SIGNIN#";

fn membership_from(item: &Item) -> Result<Membership, StoreError> {
    Ok(Membership {
        user_id: item.get_s("user_id")?.to_owned(),
        account_id: item.get_s("account_id")?.to_owned(),
        role: Role::parse(item.get_s("role")?)
            .ok_or_else(|| StoreError::Corrupt("membership role".into()))?,
        inbox_grants: item.get_list_s("inbox_grants")?,
        created_at: item.get_n("created_at")?,
    })
}

pub(super) fn key(pk: String, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    Item::new().s("pk", pk).s("sk", sk).into_map()
}

#[async_trait]
impl DirectoryStore for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let item = Item::new()
            .s("pk", format!("EMAIL#{}", user.email))
            .s("sk", "USER")
            .s("user_id", &user.user_id)
            .s("email", &user.email)
            .s("name", &user.name)
            .opt_s(
                "password_hash",
                user.password_hash.as_ref().map(|h| h.as_str()),
            )
            .n("created_at", user.created_at);
        self.put_new(&self.tables.directory, "pk", item).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(format!("EMAIL#{email}"), "USER")))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        out.item
            .map(|map| {
                let item = Item::from(map);
                Ok(User {
                    user_id: item.get_s("user_id")?.to_owned(),
                    email: item.get_s("email")?.to_owned(),
                    name: item.get_s("name")?.to_owned(),
                    password_hash: item
                        .opt_get_s("password_hash")?
                        .map(|hash| PasswordHash::from_stored(hash.to_owned())),
                    created_at: item.get_n("created_at")?,
                })
            })
            .transpose()
    }

    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let item = Item::new()
            .s("pk", format!("ACCOUNT#{}", account.account_id))
            .s("sk", "ACCOUNT")
            .s("account_id", &account.account_id)
            .s("name", &account.name)
            .opt_s("required_idp", account.required_idp.as_deref())
            .n("created_at", account.created_at);
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(item.into_map()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(format!("ACCOUNT#{account_id}"), "ACCOUNT")))
            .send()
            .await
            .map_err(map_sdk_error)?;
        out.item
            .map(|map| {
                let item = Item::from(map);
                Ok(Account {
                    account_id: item.get_s("account_id")?.to_owned(),
                    name: item.get_s("name")?.to_owned(),
                    created_at: item.get_n("created_at")?,
                    required_idp: item.opt_get_s("required_idp")?.map(str::to_owned),
                })
            })
            .transpose()
    }

    async fn put_membership(&self, m: &Membership) -> Result<(), StoreError> {
        let grants = m
            .inbox_grants
            .iter()
            .map(|g| AttributeValue::S(g.clone()))
            .collect();
        self.client
            .update_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("USER#{}", m.user_id),
                &format!("MEMBER#{}", m.account_id),
            )))
            .update_expression(
                "SET user_id = :u, account_id = :a, #role = :r, inbox_grants = :g, \
                 created_at = if_not_exists(created_at, :c)",
            )
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":u", AttributeValue::S(m.user_id.clone()))
            .expression_attribute_values(":a", AttributeValue::S(m.account_id.clone()))
            .expression_attribute_values(":r", AttributeValue::S(m.role.as_str().into()))
            .expression_attribute_values(":g", AttributeValue::L(grants))
            .expression_attribute_values(":c", AttributeValue::N(m.created_at.to_string()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn remove_membership(&self, user_id: &str, account_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("USER#{user_id}"),
                &format!("MEMBER#{account_id}"),
            )))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    async fn membership(
        &self,
        user_id: &str,
        account_id: &str,
    ) -> Result<Option<Membership>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("USER#{user_id}"),
                &format!("MEMBER#{account_id}"),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        out.item
            .map(|map| membership_from(&Item::from(map)))
            .transpose()
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.directory)
                .key_condition_expression("pk = :pk AND begins_with(sk, :member)")
                .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user_id}")))
                .expression_attribute_values(":member", AttributeValue::S("MEMBER#".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            for map in out.items.unwrap_or_default() {
                found.push(membership_from(&Item::from(map))?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        sort_memberships(&mut found);
        Ok(found)
    }

    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut emails = std::collections::HashMap::new();
        let mut memberships = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.tables.directory)
                .filter_expression("sk = :user OR sk = :member")
                .projection_expression(
                    "sk, user_id, email, account_id, #role, inbox_grants, created_at",
                )
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":user", AttributeValue::S("USER".into()))
                .expression_attribute_values(
                    ":member",
                    AttributeValue::S(format!("MEMBER#{account_id}")),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_sdk_error)?;
            for map in out.items.unwrap_or_default() {
                let item = Item::from(map);
                if item.get_s("sk")? == "USER" {
                    emails.insert(
                        item.get_s("user_id")?.to_owned(),
                        item.get_s("email")?.to_owned(),
                    );
                } else {
                    memberships.push(membership_from(&item)?);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        sort_memberships(&mut memberships);
        Ok(memberships
            .into_iter()
            .map(|membership| Member {
                email: emails.remove(&membership.user_id),
                membership,
            })
            .collect())
    }

    async fn count_sign_in_attempt(
        &self,
        email_key: &str,
        now: u64,
        window_ends_at: u64,
    ) -> Result<u32, StoreError> {
        count_in_window(
            &self.client,
            &self.tables.directory,
            key(format!("{SIGN_IN_THROTTLE_PREFIX}{email_key}"), "FAILURES"),
            "failures",
            now,
            window_ends_at,
        )
        .await
    }

    async fn forgive_sign_in_attempt(&self, key_id: &str, now: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("{SIGN_IN_THROTTLE_PREFIX}{key_id}"),
                "FAILURES",
            )))
            .update_expression("ADD failures :minus")
            .condition_expression("expires_at > :now AND failures > :zero")
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result.map_err(map_sdk_error) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn sign_in_failures(&self, email_key: &str, now: u64) -> Result<u32, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("{SIGN_IN_THROTTLE_PREFIX}{email_key}"),
                "FAILURES",
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        match out.item.map(Item::from) {
            Some(item) if item.get_n("expires_at")? > now => Ok(item.get_n("failures")? as u32),
            _ => Ok(0),
        }
    }

    async fn clear_sign_in_failures(&self, email_key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(
                format!("{SIGN_IN_THROTTLE_PREFIX}{email_key}"),
                "FAILURES",
            )))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}
