//! Reading and writing DynamoDB attribute maps: the records the authorization server keeps
//! through their serde shape (`records`: attribute names are field names, absent options
//! are left out), everything else attribute by attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// An item being built or read.
#[derive(Debug, Default, Clone)]
pub struct Item(pub HashMap<String, AttributeValue>);

impl Item {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn s(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), AttributeValue::S(value.into()));
        self
    }

    /// Absent values are left out rather than written as NULL.
    pub fn opt_s(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.s(name, v),
            None => self,
        }
    }

    pub fn n(mut self, name: &str, value: u64) -> Self {
        self.0
            .insert(name.into(), AttributeValue::N(value.to_string()));
        self
    }

    pub fn into_map(self) -> HashMap<String, AttributeValue> {
        self.0
    }

    pub fn get_s(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_get_s(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("attribute `{name}` is missing")))
    }

    pub fn opt_get_s(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(s)) => Ok(Some(s)),
            Some(_) => Err(StoreError::Corrupt(format!(
                "attribute `{name}` is not a string"
            ))),
        }
    }

    pub fn get_n(&self, name: &str) -> Result<u64, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| {
                StoreError::Corrupt(format!("attribute `{name}` is not a whole number"))
            }),
            _ => Err(StoreError::Corrupt(format!(
                "attribute `{name}` is missing or not a number"
            ))),
        }
    }

    pub fn get_list_s(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|v| match v {
                    AttributeValue::S(s) => Ok(s.clone()),
                    _ => Err(StoreError::Corrupt(format!(
                        "attribute `{name}` holds a non-string"
                    ))),
                })
                .collect(),
            Some(_) => Err(StoreError::Corrupt(format!(
                "attribute `{name}` is not a list"
            ))),
        }
    }
}

/// A record as an item.
pub fn record_to_item<T: Serialize>(record: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(record)
        .map(Item)
        .map_err(|err| StoreError::Corrupt(format!("a record does not serialize: {err}")))
}

/// A record from an item (attributes it does not name are ignored).
pub fn record_from_item<T: DeserializeOwned>(
    item: HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|err| StoreError::Corrupt(err.to_string()))
}

impl From<HashMap<String, AttributeValue>> for Item {
    fn from(map: HashMap<String, AttributeValue>) -> Self {
        Self(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let item = Item::new()
            .s("a", "x")
            .n("b", 42)
            .opt_s("d", None::<String>);
        assert_eq!(item.get_s("a").unwrap(), "x");
        assert_eq!(item.get_n("b").unwrap(), 42);
        assert_eq!(item.opt_get_s("d").unwrap(), None);
    }

    #[test]
    fn wrong_types_are_corrupt_not_panics() {
        let item = Item::new().s("a", "x").n("b", 1);
        assert!(matches!(item.get_n("a"), Err(StoreError::Corrupt(_))));
        assert!(matches!(item.get_s("b"), Err(StoreError::Corrupt(_))));
        assert!(matches!(item.get_s("missing"), Err(StoreError::Corrupt(_))));
    }

    /// The attributes a record is stored with, by kind: what deployed tables already hold.
    fn shape(item: &Item) -> Vec<(String, &'static str)> {
        let mut shape: Vec<(String, &'static str)> = item
            .0
            .iter()
            .map(|(name, value)| {
                let kind = match value {
                    AttributeValue::S(_) => "S",
                    AttributeValue::N(_) => "N",
                    AttributeValue::L(_) => "L",
                    _ => "other",
                };
                (name.clone(), kind)
            })
            .collect();
        shape.sort();
        shape
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        let mut expected: Vec<_> = pairs.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        expected.sort();
        expected
    }

    #[test]
    fn records_keep_the_attributes_deployed_tables_hold() {
        use crate::pkce::CodeChallenge;
        use crate::records::grant::{RefreshTokenRecord, TokenHash};
        use crate::scope::ScopeSet;

        let token = RefreshTokenRecord {
            token_hash: TokenHash::of("raw"),
            family_id: "fam".into(),
            client_id: "claude".into(),
            user_id: "u".into(),
            scope: ScopeSet::parse("inbox:read campaigns:read").unwrap(),
            resource: "https://mcp.alta.example/mcp".into(),
            account_id: "acct".into(),
            idp: "password".into(),
            issued_at: 1,
            expires_at: 2,
            family_expires_at: 3,
            rotated_at: None,
            replaced_by: None,
            previous: None,
            grace_retries: 0,
            successor_used_at: None,
        };
        let item = record_to_item(&token).unwrap();
        assert_eq!(
            shape(&item),
            expect(&[
                ("token_hash", "S"),
                ("family_id", "S"),
                ("client_id", "S"),
                ("user_id", "S"),
                ("scope", "S"),
                ("resource", "S"),
                ("account_id", "S"),
                ("idp", "S"),
                ("issued_at", "N"),
                ("expires_at", "N"),
                ("family_expires_at", "N"),
            ]),
            "absent options are left out, never NULL"
        );
        assert_eq!(item.get_s("scope").unwrap(), "campaigns:read inbox:read");
        let rotated = RefreshTokenRecord {
            rotated_at: Some(5),
            replaced_by: Some(TokenHash::of("next")),
            ..token.clone()
        };
        let item = record_to_item(&rotated).unwrap();
        assert_eq!(item.get_n("rotated_at").unwrap(), 5);
        assert_eq!(
            record_from_item::<RefreshTokenRecord>(item.0).unwrap(),
            rotated
        );

        // A token written before account choice has no `account_id`; one whose scope this
        // server no longer knows keeps the rest.
        let mut old = record_to_item(&token).unwrap().0;
        old.remove("account_id");
        old.insert(
            "scope".into(),
            AttributeValue::S("campaigns:read retired:scope".into()),
        );
        let read: RefreshTokenRecord = record_from_item(old).unwrap();
        assert_eq!(read.account_id, "");
        assert_eq!(read.scope, ScopeSet::parse("campaigns:read").unwrap());

        // A stored challenge that is not one is corrupt, not a panic.
        let mut code = record_to_item(&token).unwrap().0;
        code.insert("code_challenge".into(), AttributeValue::S("short".into()));
        let err = record_from_item::<crate::records::grant::AuthorizationCodeRecord>(code);
        assert!(matches!(err, Err(StoreError::Corrupt(_))), "{err:?}");
        assert!(CodeChallenge::parse("short").is_err());
    }
}
