//! One paged `Query` of an index, oldest (lowest sort key) first, collected across calls until a
//! number of items is reached or the index has no more: what listings and the reconciler read.
//! DynamoDB's `Limit` counts items read before the filter, so no call reads past what would fill
//! the page, and a page ends exactly at its last item.

use super::item::Item;
use super::{sdk_error, DynamoJobStore, BACKEND};
use crate::Result;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A query: the index, its conditions and their names and values, and what to call it in errors.
pub(super) struct IndexQuery {
    pub index: &'static str,
    pub key_condition: String,
    pub filter: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    /// The operation an error names (`list jobs`).
    pub operation: &'static str,
    /// What an error adds after the table and index (`tenant t`).
    pub about: String,
}

/// Up to `limit` items matching `query` (at least 1), in sort-key order.
pub(super) async fn items(
    store: &DynamoJobStore,
    query: &IndexQuery,
    limit: usize,
) -> Result<Vec<Item>> {
    let mut items: Vec<Item> = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let want = limit.saturating_sub(items.len()).max(1);
        let output = store
            .client
            .query()
            .table_name(store.table.as_ref())
            .index_name(query.index)
            .key_condition_expression(&query.key_condition)
            .filter_expression(&query.filter)
            .set_expression_attribute_names(Some(query.names.clone()))
            .set_expression_attribute_values(Some(query.values.clone()))
            .scan_index_forward(true)
            .limit(i32::try_from(want).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                let context = format!(
                    "table {} index {} {}",
                    store.table, query.index, query.about
                );
                sdk_error::map(BACKEND, query.operation, &context, e)
            })?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if items.len() >= limit || start.is_none() {
            return Ok(items);
        }
    }
}
