//! [`crate::JobStore::list`] on DynamoDB: a `Query` of the `by-batch` index (partition
//! `{tenant}#{batch}`) when a batch is asked for, else of the `by-tenant` index (partition
//! `tenant`), both sorted by job id (time order); status and TTL are filters. A page is collected
//! across `Query` calls ([`query::items`]) until it is full or the index has no more, and its
//! cursor is the last job id, as in the embedded store.

use super::item;
use super::query::{self, IndexQuery};
use super::DynamoJobStore;
use crate::{Job, ListFilter, Page, Result, Tenant};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Page size when the filter asks for 0 (as the embedded store).
const DEFAULT_PAGE: usize = 100;
/// Largest page.
const MAX_PAGE: usize = 1000;

pub(super) async fn list(
    store: &DynamoJobStore,
    tenant: &Tenant,
    filter: &ListFilter,
) -> Result<Page> {
    let limit = match filter.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let mut names = HashMap::new();
    let mut values: HashMap<String, AttributeValue> = HashMap::new();
    let (index, partition) = match &filter.batch_id {
        Some(batch) => (
            item::BY_BATCH,
            (item::TENANT_BATCH, format!("{tenant}#{batch}")),
        ),
        None => (item::BY_TENANT, (item::TENANT, tenant.as_str().to_owned())),
    };
    names.insert("#pk".into(), partition.0.into());
    values.insert(":pk".into(), item::s(partition.1));
    let mut key_condition = "#pk = :pk".to_owned();
    if let Some(after) = &filter.after {
        key_condition.push_str(" AND #id > :after");
        names.insert("#id".to_owned(), item::ID.to_owned());
        values.insert(":after".into(), item::s(after.to_string()));
    }
    names.insert("#expires_at".into(), item::EXPIRES_AT.into());
    values.insert(
        ":now".into(),
        item::n(OffsetDateTime::now_utc().unix_timestamp()),
    );
    let mut filters = vec!["#expires_at > :now".to_owned()];
    if let Some(status) = filter.status {
        names.insert("#status".into(), item::STATUS.into());
        values.insert(":status".into(), item::status_value(status));
        filters.push("#status = :status".into());
    }
    let query = IndexQuery {
        index,
        key_condition,
        filter: filters.join(" AND "),
        names,
        values,
        operation: "list jobs",
        about: format!("tenant {tenant}"),
    };
    let items = query::items(store, &query, limit).await?;
    let mut jobs: Vec<Job> = Vec::with_capacity(items.len());
    for found in &items {
        jobs.push(store.decode(found).await?);
    }
    let next = if jobs.len() == limit {
        jobs.last().map(|job| job.id)
    } else {
        None
    };
    Ok(Page { jobs, next })
}
