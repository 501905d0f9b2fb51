//! Lists read a page at a time from the `lists` index: the query, its filters, and the
//! few index pages one call may read.

use super::*;

/// A filtered list reads at most this many index pages per call; a page that is not full
/// by then ends with a cursor at the last item read, so a rare match costs more calls,
/// never an unbounded one.
pub(super) const MAX_QUERIES_PER_PAGE: usize = 4;

/// Items read per query when a filter may drop most of them.
pub(super) const FILTERED_READ: i32 = 100;

/// One list: its partition, and the base-table sort key of the item at an id.
pub(super) struct ListQuery {
    pub(super) partition: String,
    pub(super) item_key: fn(&str) -> String,
    pub(super) newest_first: bool,
    pub(super) filter: Filter,
}

/// A filter expression with its names and values.
#[derive(Default)]
pub(super) struct Filter {
    pub(super) conditions: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Filter {
    pub(super) fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    pub(super) fn equals(&mut self, attribute: &str, value: &str) {
        let n = self.conditions.len();
        self.names.insert(format!("#f{n}"), attribute.to_owned());
        self.values
            .insert(format!(":f{n}"), AttributeValue::S(value.to_owned()));
        self.conditions.push(format!("#f{n} = :f{n}"));
    }

    pub(super) fn one_of(&mut self, attribute: &str, values: &[String]) {
        let n = self.conditions.len();
        self.names.insert(format!("#f{n}"), attribute.to_owned());
        let placeholders: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let name = format!(":f{n}_{i}");
                self.values
                    .insert(name.clone(), AttributeValue::S(v.clone()));
                name
            })
            .collect();
        self.conditions
            .push(format!("#f{n} IN ({})", placeholders.join(", ")));
    }

    pub(super) fn contains(&mut self, attribute: &str, text: &str) {
        let n = self.conditions.len();
        self.names.insert(format!("#f{n}"), attribute.to_owned());
        self.values
            .insert(format!(":f{n}"), AttributeValue::S(text.to_owned()));
        self.conditions.push(format!("contains(#f{n}, :f{n})"));
    }
}

impl DynamoStore {
    /// One page of a list: up to `limit` items after the position `after`, and the
    /// position the next page starts after. Reads `limit + 1` items to know whether there
    /// is a next page; a filtered list reads on until the page is full or
    /// [`MAX_QUERIES_PER_PAGE`] queries have run.
    pub(super) async fn list_page(
        &self,
        account_id: &str,
        q: &ListQuery,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let (index, pk_attr, sk_attr) = LIST_INDEX;
        let mut start = match after {
            None => None,
            Some(position) => {
                // The key is rebuilt from the caller's own account and list: a position
                // can only move within them.
                let id = position_id(position)
                    .ok_or_else(|| StoreError::Corrupt("a list position that is not one".into()))?;
                Some(
                    Item::new()
                        .s("pk", format!("ACCOUNT#{account_id}"))
                        .s("sk", (q.item_key)(id))
                        .s(pk_attr, &q.partition)
                        .s(sk_attr, position)
                        .into_map(),
                )
            }
        };
        let mut found = Vec::new();
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let wanted = limit + 1 - found.len();
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.alta_data)
                .index_name(index)
                .key_condition_expression("#lpk = :lpk")
                .expression_attribute_names("#lpk", pk_attr)
                .expression_attribute_values(":lpk", AttributeValue::S(q.partition.clone()))
                .scan_index_forward(!q.newest_first)
                .limit(if q.filter.is_empty() {
                    wanted as i32
                } else {
                    FILTERED_READ
                })
                .set_exclusive_start_key(start.take());
            if !q.filter.is_empty() {
                request = request.filter_expression(q.filter.conditions.join(" AND "));
                for (name, attribute) in &q.filter.names {
                    request = request.expression_attribute_names(name, attribute);
                }
                for (name, value) in &q.filter.values {
                    request = request.expression_attribute_values(name, value.clone());
                }
            }
            let out = request.send().await.map_err(map_sdk_error)?;
            found.extend(out.items.unwrap_or_default().into_iter().map(Item::from));
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if found.len() > limit || start.is_none() {
                break;
            }
        }
        if found.len() > limit {
            found.truncate(limit);
            let next = found
                .last()
                .map(|i| i.get_s(sk_attr).map(str::to_owned))
                .transpose()?;
            return Ok((found, next));
        }
        // Not full: either the list ended, or the read budget did, and the next page
        // starts after the last item read.
        let next = start
            .map(|key| Item::from(key).get_s(sk_attr).map(str::to_owned))
            .transpose()?;
        Ok((found, next))
    }
}
