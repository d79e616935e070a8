//! [`crate::JobStore::unclaimed_before`] on DynamoDB: a `Query` of each partition of the sparse
//! `by-unclaimed` index (an item carries `unclaimed_shard` only while its job is queued and was
//! never claimed), `created_at` before the cut-off as the key condition, oldest first, live TTL as
//! a filter. It reads the never-claimed jobs older than the cut-off (normally none) and nothing
//! else.
//!
//! It used to `Scan` the whole table on every reconciler pass (every minute, in every worker),
//! which the workers' IAM role did not even allow.

use super::item::{self, Item};
use super::query::{self, IndexQuery};
use super::DynamoJobStore;
use crate::{Job, Result};
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
    let query = IndexQuery {
        index: item::BY_UNCLAIMED,
        key_condition: "#shard = :shard AND #created_at < :before".to_owned(),
        filter: "#expires_at > :now".to_owned(),
        names: HashMap::from([
            ("#shard".to_owned(), item::UNCLAIMED_SHARD.to_owned()),
            ("#created_at".to_owned(), item::CREATED_AT.to_owned()),
            ("#expires_at".to_owned(), item::EXPIRES_AT.to_owned()),
        ]),
        values: HashMap::from([
            (":shard".to_owned(), item::s(shard.to_string())),
            (":before".to_owned(), item::n(item::millis(before))),
            (
                ":now".to_owned(),
                item::n(OffsetDateTime::now_utc().unix_timestamp()),
            ),
        ]),
        operation: "list unclaimed jobs",
        about: format!("shard {shard}"),
    };
    query::items(store, &query, limit).await
}
