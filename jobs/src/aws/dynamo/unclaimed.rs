//! [`crate::JobStore::unclaimed_before`] on DynamoDB: a `Query` of each partition of the sparse
//! `by-unclaimed` index (an item carries `unclaimed_shard` only while its job is queued and was
//! never claimed), `created_at` before the cut-off as the key condition, oldest first, live TTL as
//! a filter. It reads the never-claimed jobs older than the cut-off (normally none) and nothing
//! else.
//!
//! It used to `Scan` the whole table on every reconciler pass (every minute, in every worker),
//! which the workers' IAM role did not even allow.

use super::item::{self, Item};
use super::{sdk_error, DynamoJobStore, BACKEND};
use crate::{Job, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

pub(super) async fn unclaimed_before(
    store: &DynamoJobStore,
    before: OffsetDateTime,
    limit: usize,
) -> Result<Vec<Job>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut found: Vec<Item> = Vec::new();
    for shard in 0..item::UNCLAIMED_SHARDS {
        found.extend(oldest_in_shard(store, shard, before, limit).await?);
    }
    let mut jobs = Vec::with_capacity(found.len());
    for item in &found {
        let job = store.decode(item).await?;
        if job.attempts == 0 {
            jobs.push(job);
        }
    }
    jobs.sort_by_key(|job| job.created_at);
    jobs.truncate(limit);
    Ok(jobs)
}

/// Up to `limit` never-claimed jobs of one partition created before `before`, oldest first.
async fn oldest_in_shard(
    store: &DynamoJobStore,
    shard: u32,
    before: OffsetDateTime,
    limit: usize,
) -> Result<Vec<Item>> {
    let names = HashMap::from([
        ("#shard".to_owned(), item::UNCLAIMED_SHARD.to_owned()),
        ("#created_at".to_owned(), item::CREATED_AT.to_owned()),
        ("#expires_at".to_owned(), item::EXPIRES_AT.to_owned()),
    ]);
    let values = HashMap::from([
        (":shard".to_owned(), item::s(shard.to_string())),
        (":before".to_owned(), item::n(item::millis(before))),
        (
            ":now".to_owned(),
            item::n(OffsetDateTime::now_utc().unix_timestamp()),
        ),
    ]);
    let mut items: Vec<Item> = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let want = limit - items.len();
        let output = store
            .client
            .query()
            .table_name(store.table.as_ref())
            .index_name(item::BY_UNCLAIMED)
            .key_condition_expression("#shard = :shard AND #created_at < :before")
            .filter_expression("#expires_at > :now")
            .set_expression_attribute_names(Some(names.clone()))
            .set_expression_attribute_values(Some(values.clone()))
            .scan_index_forward(true)
            .limit(i32::try_from(want).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                let context = format!(
                    "table {} index {} shard {shard}",
                    store.table,
                    item::BY_UNCLAIMED
                );
                sdk_error::map(BACKEND, "list unclaimed jobs", &context, e)
            })?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if items.len() >= limit || start.is_none() {
            items.truncate(limit);
            return Ok(items);
        }
    }
}
