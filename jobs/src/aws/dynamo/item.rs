//! The DynamoDB item of a job, and of an idempotency key: attribute names (also used by
//! [`crate::aws::init`] to create the table and its indexes), and the guard a conditional write
//! repeats (status, lease holder, lease expiry as they were read).
//!
//! A job item: `id` (partition key), `tenant`, `status`, `tenant_batch` (`{tenant}#{batch}`, only
//! for jobs of a batch), `active_tenant` (the tenant, only while the job is queued or running, so
//! the `by-active` index holds active jobs alone), `unclaimed_shard` (`0`-`7` from the id, only
//! while the job is queued and was never claimed, so `by-unclaimed` holds those alone),
//! `idempotency_key`, `lease_holder`, `lease_expires_at` (ms since the epoch), `created_at` (ms),
//! `expires_at` (TTL, seconds since the epoch), and the whole [`Job`] as JSON in `record`, or,
//! when that is too large for an item, in S3 with its key in `record_ref`.
//! An idempotency item: `id` = `idem#{tenant}#{key}`, `job_id`, `expires_at`; it has no `tenant`,
//! so it never shows in the indexes.

use crate::{Job, Status, Tenant};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Partition key of the table.
pub(crate) const ID: &str = "id";
/// The owning tenant; partition key of [`BY_TENANT`].
pub(crate) const TENANT: &str = "tenant";
/// `{tenant}#{batch_id}`; partition key of [`BY_BATCH`].
pub(crate) const TENANT_BATCH: &str = "tenant_batch";
/// The tenant while the job is queued or running, absent once it ended; partition key of
/// [`BY_ACTIVE`].
pub(crate) const ACTIVE_TENANT: &str = "active_tenant";
/// One of [`UNCLAIMED_SHARDS`] shards while the job is queued and was never claimed, absent
/// otherwise; partition key of [`BY_UNCLAIMED`] (sort key `created_at`).
pub(crate) const UNCLAIMED_SHARD: &str = "unclaimed_shard";
pub(crate) const STATUS: &str = "status";
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency_key";
pub(crate) const LEASE_HOLDER: &str = "lease_holder";
pub(crate) const LEASE_EXPIRES_AT: &str = "lease_expires_at";
pub(crate) const RECORD: &str = "record";
pub(crate) const RECORD_REF: &str = "record_ref";
pub(crate) const CREATED_AT: &str = "created_at";
/// The TTL attribute (seconds since the epoch).
pub(crate) const EXPIRES_AT: &str = "expires_at";
/// In an idempotency item: the job it names.
pub(crate) const JOB_ID: &str = "job_id";

/// Index of a tenant's jobs by id (time order).
pub(crate) const BY_TENANT: &str = "by-tenant";
/// Index of a tenant's batch's jobs by id.
pub(crate) const BY_BATCH: &str = "by-batch";
/// Sparse index of a tenant's queued and running jobs (keys and `expires_at` only): what a job
/// quota counts, without reading the jobs that ended.
pub(crate) const BY_ACTIVE: &str = "by-active";
/// Sparse index of never-claimed queued jobs across tenants by creation time, in
/// [`UNCLAIMED_SHARDS`] partitions (so that submits do not all write one index partition): what
/// the reconciler looks for, without scanning the table.
pub(crate) const BY_UNCLAIMED: &str = "by-unclaimed";
/// Partitions of [`BY_UNCLAIMED`].
pub(crate) const UNCLAIMED_SHARDS: u32 = 8;

/// An item as read from the table.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Where the record JSON of a job item lives.
pub(crate) enum Record {
    /// Inline, in `record`.
    Inline(String),
    /// In S3 under this key, in `record_ref`.
    InS3(String),
}

/// What a transition saw, repeated as the condition of its write.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    pub status: String,
    pub holder: Option<String>,
    pub lease_expires_at: Option<String>,
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Milliseconds since the epoch.
pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The key of the idempotency item of `key` in `tenant` (a tenant name has no `#`).
pub(crate) fn idempotency_id(tenant: &Tenant, key: &str) -> String {
    format!("idem#{tenant}#{key}")
}

/// True when the item's TTL has passed (DynamoDB deletes expired items up to days later).
pub(crate) fn expired(item: &Item, now: OffsetDateTime) -> bool {
    get_n(item, EXPIRES_AT).is_some_and(|at| at <= now.unix_timestamp())
}

/// The item of `job`, with its record where `record` says and its TTL at `expires_at`.
pub(crate) fn job_item(job: &Job, record: Record, expires_at: i64) -> Item {
    let mut item = Item::new();
    item.insert(ID.into(), s(job.id.to_string()));
    item.insert(TENANT.into(), s(job.tenant.as_str()));
    item.insert(STATUS.into(), s(job.status.as_str()));
    if let Some(batch) = &job.options.batch_id {
        item.insert(TENANT_BATCH.into(), s(format!("{}#{batch}", job.tenant)));
    }
    if !job.status.is_terminal() {
        item.insert(ACTIVE_TENANT.into(), s(job.tenant.as_str()));
    }
    if job.status == Status::Queued && job.attempts == 0 {
        item.insert(UNCLAIMED_SHARD.into(), s(unclaimed_shard(job).to_string()));
    }
    if let Some(key) = &job.idempotency_key {
        item.insert(IDEMPOTENCY_KEY.into(), s(key.as_str()));
    }
    if let Some(lease) = &job.lease {
        item.insert(LEASE_HOLDER.into(), s(lease.holder.as_str()));
        item.insert(LEASE_EXPIRES_AT.into(), n(millis(lease.expires_at)));
    }
    match record {
        Record::Inline(json) => item.insert(RECORD.into(), s(json)),
        Record::InS3(key) => item.insert(RECORD_REF.into(), s(key)),
    };
    item.insert(CREATED_AT.into(), n(millis(job.created_at)));
    item.insert(EXPIRES_AT.into(), n(expires_at));
    item
}

/// The [`BY_UNCLAIMED`] partition of `job`: its id's last hex digit (random in a UUIDv7), modulo
/// [`UNCLAIMED_SHARDS`].
pub(crate) fn unclaimed_shard(job: &Job) -> u32 {
    let id = job.id.to_string();
    let last = id.chars().last().and_then(|c| c.to_digit(16)).unwrap_or(0);
    last % UNCLAIMED_SHARDS
}

/// The guard of an item as read.
pub(crate) fn guard(item: &Item) -> Guard {
    Guard {
        status: get_s(item, STATUS).unwrap_or_default().to_owned(),
        holder: get_s(item, LEASE_HOLDER).map(str::to_owned),
        lease_expires_at: item
            .get(LEASE_EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .cloned(),
    }
}

/// The condition expression repeating `guard`, with its names and values.
pub(crate) fn guard_condition(
    guard: &Guard,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::from([("#status".to_owned(), STATUS.to_owned())]);
    let mut values = HashMap::from([(":was_status".to_owned(), s(guard.status.as_str()))]);
    let mut parts = vec!["#status = :was_status".to_owned()];
    names.insert("#holder".into(), LEASE_HOLDER.into());
    match &guard.holder {
        Some(holder) => {
            parts.push("#holder = :was_holder".into());
            values.insert(":was_holder".into(), s(holder.as_str()));
        }
        None => parts.push("attribute_not_exists(#holder)".into()),
    }
    names.insert("#expiry".into(), LEASE_EXPIRES_AT.into());
    match &guard.lease_expires_at {
        Some(at) => {
            parts.push("#expiry = :was_expiry".into());
            values.insert(":was_expiry".into(), AttributeValue::N(at.clone()));
        }
        None => parts.push("attribute_not_exists(#expiry)".into()),
    }
    (parts.join(" AND "), names, values)
}

/// The status column of an item, for listings' filters.
pub(crate) fn status_value(status: Status) -> AttributeValue {
    s(status.as_str())
}
