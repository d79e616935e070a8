//! [`crate::JobStore::count_active`] on DynamoDB: a `Query` of the sparse `by-active` index
//! (partition `active_tenant`, which an item carries only while its job is queued or running),
//! `Select=COUNT`, with live TTL as a filter. It reads the tenant's active jobs' index entries
//! (keys and `expires_at`, ~100 bytes each) and nothing else: the quota check on every submit
//! costs the same whether the tenant has run ten jobs or ten million.
//!
//! It used to page through the tenant's whole `by-tenant` index with status as a filter, and
//! DynamoDB charges a filtered query for every item it reads: every job the tenant had run within
//! the retention period, twice (queued, then running), on every submit.

use super::item;
use super::{sdk_error, DynamoJobStore, BACKEND};
use crate::{Result, Tenant};
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use std::collections::HashMap;
use time::OffsetDateTime;

pub(super) async fn count_active(store: &DynamoJobStore, tenant: &Tenant) -> Result<u64> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut total = 0u64;
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let output = store
            .client
            .query()
            .table_name(store.table.as_ref())
            .index_name(item::BY_ACTIVE)
            .key_condition_expression("#active = :tenant")
            .filter_expression("#expires_at > :now")
            .expression_attribute_names("#active", item::ACTIVE_TENANT)
            .expression_attribute_names("#expires_at", item::EXPIRES_AT)
            .expression_attribute_values(":tenant", item::s(tenant.as_str()))
            .expression_attribute_values(":now", item::n(now))
            .select(Select::Count)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                let context = format!(
                    "table {} index {} tenant {tenant}",
                    store.table,
                    item::BY_ACTIVE
                );
                sdk_error::map(BACKEND, "count active jobs", &context, e)
            })?;
        total += u64::try_from(output.count).unwrap_or(0);
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if start.is_none() {
            return Ok(total);
        }
    }
}
