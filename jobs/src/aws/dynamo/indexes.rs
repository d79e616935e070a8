//! The job table's global secondary indexes, as `soyl init` creates them (and as
//! `infra/soyl.yaml` declares them): `by-tenant` and `by-batch` project whole items for listings;
//! `by-active` is sparse and projects only `expires_at`, for counting a tenant's active jobs;
//! `by-unclaimed` is sparse, sorted by `created_at` and projects whole items, for the
//! reconciler.
//! A table created before an index existed gets it added by [`add_missing`], and is ready once
//! DynamoDB has backfilled it.

use super::item;
use crate::aws::sdk_error;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use std::time::Duration;

/// One index: its name, partition and sort keys, and projection.
struct Index {
    name: &'static str,
    partition: &'static str,
    sort: &'static str,
    projection: fn() -> Projection,
}

fn everything() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

fn ttl_only() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .non_key_attributes(item::EXPIRES_AT)
        .build()
}

const INDEXES: [Index; 4] = [
    Index {
        name: item::BY_TENANT,
        partition: item::TENANT,
        sort: item::ID,
        projection: everything,
    },
    Index {
        name: item::BY_BATCH,
        partition: item::TENANT_BATCH,
        sort: item::ID,
        projection: everything,
    },
    Index {
        name: item::BY_ACTIVE,
        partition: item::ACTIVE_TENANT,
        sort: item::ID,
        projection: ttl_only,
    },
    Index {
        name: item::BY_UNCLAIMED,
        partition: item::UNCLAIMED_SHARD,
        sort: item::CREATED_AT,
        projection: everything,
    },
];

fn build_error(table: &str) -> impl Fn(aws_sdk_dynamodb::error::BuildError) -> Error + '_ {
    move |e| Error::Backend {
        backend: "dynamodb",
        operation: "create table",
        message: format!("table {table}: {e}"),
    }
}

/// A key schema element.
pub(crate) fn key(table: &str, name: &str, kind: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_error(table))
}

/// Every key attribute of the table and its indexes, once each: strings, but for `created_at`
/// (milliseconds).
pub(crate) fn attribute_definitions(table: &str) -> Result<Vec<AttributeDefinition>> {
    let mut names = vec![item::ID];
    for index in &INDEXES {
        for name in [index.partition, index.sort] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let kind = if name == item::CREATED_AT {
                ScalarAttributeType::N
            } else {
                ScalarAttributeType::S
            };
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(build_error(table))
        })
        .collect()
}

/// An index's partition and sort keys.
fn key_schema(table: &str, index: &Index) -> Result<Vec<KeySchemaElement>> {
    Ok(vec![
        key(table, index.partition, KeyType::Hash)?,
        key(table, index.sort, KeyType::Range)?,
    ])
}

fn definition(table: &str, index: &Index) -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .set_key_schema(Some(key_schema(table, index)?))
        .projection((index.projection)())
        .build()
        .map_err(build_error(table))
}

/// The indexes of a new table.
pub(crate) fn all(table: &str) -> Result<Vec<GlobalSecondaryIndex>> {
    INDEXES
        .iter()
        .map(|index| definition(table, index))
        .collect()
}

/// Adds the indexes that `table` (an existing table) lacks, one at a time as DynamoDB requires,
/// and waits until each is backfilled and active. Jobs written before `by-active` and
/// `by-unclaimed` existed carry neither key, and are not in them until their next transition
/// writes the item.
pub(crate) async fn add_missing(client: &Client, table: &str) -> Result<()> {
    for index in &INDEXES {
        if index_status(client, table, index.name).await?.is_some() {
            continue;
        }
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .set_key_schema(Some(key_schema(table, index)?))
            .projection((index.projection)())
            .build()
            .map_err(build_error(table))?;
        client
            .update_table()
            .table_name(table)
            .set_attribute_definitions(Some(attribute_definitions(table)?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| {
                sdk_error::map(
                    "dynamodb",
                    "add index",
                    &format!("table {table} index {}", index.name),
                    e,
                )
            })?;
        tracing::info!(
            table,
            index = index.name,
            "adding a missing index to the job table"
        );
        let mut waited = Duration::ZERO;
        while index_status(client, table, index.name).await? != Some(IndexStatus::Active) {
            if waited >= BACKFILL_WAIT {
                return Err(Error::Backend {
                    backend: "dynamodb",
                    operation: "add index",
                    message: format!(
                        "table {table} index {}: still being built after {} s; run init again \
                         later (until it is active, requests that read it fail)",
                        index.name,
                        BACKFILL_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
            waited += POLL;
        }
    }
    Ok(())
}

/// How long [`add_missing`] waits for DynamoDB to build an index over a table's existing items.
const BACKFILL_WAIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(500);

/// The status of index `name` on `table`, `None` when the table has no such index.
async fn index_status(client: &Client, table: &str, name: &str) -> Result<Option<IndexStatus>> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error::map("dynamodb", "describe table", table, e))?;
    Ok(described
        .table
        .and_then(|t| t.global_secondary_indexes)
        .unwrap_or_default()
        .into_iter()
        .find(|index| index.index_name.as_deref() == Some(name))
        .map(|index| index.index_status.unwrap_or(IndexStatus::Active)))
}
