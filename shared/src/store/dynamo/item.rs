//! Reading and writing DynamoDB attribute maps without a mapping framework.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
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

    /// A list of strings (a DynamoDB list, which, unlike a string set, keeps order and may be empty).
    pub fn list_s<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> Self {
        let list = values
            .iter()
            .map(|v| AttributeValue::S(v.as_ref().to_owned()))
            .collect();
        self.0.insert(name.into(), AttributeValue::L(list));
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

    /// A space-separated scope list; scopes this server no longer knows are dropped (a
    /// grant never widens).
    pub fn get_scope(&self, name: &str) -> Result<ScopeSet, StoreError> {
        Ok(ScopeSet::parse_known(self.get_s(name)?))
    }

    pub fn opt_get_scope(&self, name: &str) -> Result<Option<ScopeSet>, StoreError> {
        Ok(self.opt_get_s(name)?.map(ScopeSet::parse_known))
    }

    pub fn get_code_challenge(&self, name: &str) -> Result<CodeChallenge, StoreError> {
        CodeChallenge::parse(self.get_s(name)?)
            .map_err(|err| StoreError::Corrupt(format!("attribute `{name}`: {err}")))
    }
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
            .list_s("c", &["p", "q"])
            .opt_s("d", None::<String>);
        assert_eq!(item.get_s("a").unwrap(), "x");
        assert_eq!(item.get_n("b").unwrap(), 42);
        assert_eq!(item.get_list_s("c").unwrap(), ["p", "q"]);
        assert_eq!(item.opt_get_s("d").unwrap(), None);
    }

    #[test]
    fn wrong_types_are_corrupt_not_panics() {
        let item = Item::new().s("a", "x").n("b", 1);
        assert!(matches!(item.get_n("a"), Err(StoreError::Corrupt(_))));
        assert!(matches!(item.get_s("b"), Err(StoreError::Corrupt(_))));
        assert!(matches!(item.get_s("missing"), Err(StoreError::Corrupt(_))));
    }
}
