//! [`crate::JobStore::unclaimed_before`] on DynamoDB: a paginated `Scan` of the table, filtered
//! on status `queued`, `created_at` before the cut-off and a live TTL; the never-claimed check
//! (`attempts == 0`) is made on the decoded record. A scan reads the whole table, which is why
//! only the reconciler calls it, once per interval (a sparse index of queued items would make it
//! cheap, at the price of a write per transition).

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
    let names = HashMap::from([
        ("#status".to_owned(), item::STATUS.to_owned()),
        ("#created_at".to_owned(), item::CREATED_AT.to_owned()),
        ("#expires_at".to_owned(), item::EXPIRES_AT.to_owned()),
    ]);
    let millis = i64::try_from(before.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let values = HashMap::from([
        (
            ":queued".to_owned(),
            item::status_value(crate::Status::Queued),
        ),
        (":before".to_owned(), item::n(millis)),
        (
            ":now".to_owned(),
            item::n(OffsetDateTime::now_utc().unix_timestamp()),
        ),
    ]);
    let mut found: Vec<Item> = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let output = store
            .client
            .scan()
            .table_name(store.table.as_ref())
            .filter_expression("#status = :queued AND #created_at < :before AND #expires_at > :now")
            .set_expression_attribute_names(Some(names.clone()))
            .set_expression_attribute_values(Some(values.clone()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| {
                let context = format!("table {}", store.table);
                sdk_error::map(BACKEND, "scan unclaimed jobs", &context, e)
            })?;
        found.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if start.is_none() {
            break;
        }
    }
    let mut jobs = Vec::new();
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
