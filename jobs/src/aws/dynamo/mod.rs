//! The DynamoDB [`JobStore`]: one item per job in one table (see [`item`] for its attributes),
//! used by the submitter (create, get, cancel, list) and the worker (claim, renew, finish).
//!
//! Every transition reads the item with a consistent read, lets the shared decision function
//! (`transitions.rs`, the same as the embedded store's) decide, and writes the whole item back
//! with a `ConditionExpression` repeating the status, lease holder and lease expiry it read; if
//! the condition fails, someone else moved first and the transition starts again from a fresh
//! read. So a stale lease holder or a late duplicate can never overwrite a terminal state.
//!
//! Idempotent create writes the job and an `idem#{tenant}#{key}` item in one `TransactWriteItems`,
//! each conditional on not existing yet. Items carry a TTL (`expires_at`, `retention` after
//! creation); since DynamoDB deletes expired items up to days later, every read treats an expired
//! item as absent. A record too large for an item (over [`OFFLOAD_BYTES`], in practice a large
//! result) is written to S3 under the results prefix, under a key fresh for every write (a write
//! that loses its condition can never overwrite what the winner stored), and the item keeps a
//! pointer that reads follow transparently.

mod active;
pub(crate) mod indexes;
pub(crate) mod item;
mod list;
mod query;
mod unclaimed;

use super::bucket::Bucket;
use super::sdk_error;
use crate::{
    transitions, CancelOutcome, ClaimOutcome, CreateOutcome, Error, Job, JobError, JobId, JobStore,
    Lease, ListFilter, Page, Result, Tenant, WebhookOutcome,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use bytes::Bytes;
use item::{Guard, Item, Record};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

const BACKEND: &str = "dynamodb";

/// Records larger than this (JSON bytes) go to S3: a DynamoDB item holds at most 400 KB, and the
/// other attributes need some of it.
pub const OFFLOAD_BYTES: usize = 350 * 1024;

/// Largest record read back from S3.
const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;

/// How many times a transition starts again after losing its conditional write.
const MAX_CONFLICTS: usize = 8;

/// Job records in a DynamoDB table, large ones in S3. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    client: Client,
    table: Arc<str>,
    records: Bucket,
    results_prefix: Arc<str>,
    retention: Duration,
}

/// Why a guarded write did not happen.
enum WriteError {
    /// The item changed since it was read.
    Conflict,
    /// Anything else.
    Failed(Error),
}

impl DynamoJobStore {
    /// The store in `table`, offloading large records to `bucket` under `results_prefix` (e.g.
    /// `results/`); items expire `retention` after their job's creation.
    pub fn new(
        client: Client,
        table: &str,
        s3: aws_sdk_s3::Client,
        bucket: &str,
        results_prefix: &str,
        retention: Duration,
    ) -> DynamoJobStore {
        DynamoJobStore {
            client,
            table: Arc::from(table),
            records: Bucket::new(s3, bucket),
            results_prefix: Arc::from(results_prefix),
            retention,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn context(&self, id: &str) -> String {
        format!("table {} item {id}", self.table)
    }

    fn expires_at(&self, created_at: OffsetDateTime) -> i64 {
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        created_at.unix_timestamp().saturating_add(retention)
    }

    /// The record of `job` where it fits: inline, or in S3 under a fresh key.
    async fn record(&self, job: &Job) -> Result<Record> {
        let json = serde_json::to_string(job).map_err(|e| Error::Backend {
            backend: BACKEND,
            operation: "encode job",
            message: format!("job {}: {e}", job.id),
        })?;
        if json.len() <= OFFLOAD_BYTES {
            return Ok(Record::Inline(json));
        }
        let key = format!(
            "{}{}/{}.json",
            self.results_prefix,
            job.id,
            uuid::Uuid::now_v7().simple()
        );
        self.records
            .put(&key, Bytes::from(json), Some("application/json"))
            .await?;
        Ok(Record::InS3(key))
    }

    /// Decodes a job item, following its S3 pointer.
    async fn decode(&self, item: &Item) -> Result<Job> {
        let id = item::get_s(item, item::ID).unwrap_or_default();
        let corrupt = |message: String| Error::Corrupt {
            key: format!("job {id} in table {}", self.table),
            message,
        };
        let json = if let Some(record) = item::get_s(item, item::RECORD) {
            Bytes::copy_from_slice(record.as_bytes())
        } else if let Some(key) = item::get_s(item, item::RECORD_REF) {
            self.records
                .get(key, MAX_RECORD_BYTES, "job record", key)
                .await?
        } else {
            return Err(corrupt("neither record nor record_ref".into()));
        };
        serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))
    }

    /// The live item of job `id`, if any (consistent read; expired items read as absent).
    async fn read_item(&self, operation: &'static str, id: &str) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .key(item::ID, item::s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error::map(BACKEND, operation, &self.context(id), e))?;
        Ok(output
            .item
            .filter(|item| !item::expired(item, OffsetDateTime::now_utc())))
    }

    /// The live job `id` and the guard of its item, if it exists (and is `tenant`'s, when given).
    async fn read(
        &self,
        operation: &'static str,
        id: &JobId,
        tenant: Option<&Tenant>,
    ) -> Result<Option<(Job, Guard)>> {
        let Some(found) = self.read_item(operation, &id.to_string()).await? else {
            return Ok(None);
        };
        if tenant.is_some_and(|t| item::get_s(&found, item::TENANT) != Some(t.as_str())) {
            return Ok(None);
        }
        let job = self.decode(&found).await?;
        Ok(Some((job, item::guard(&found))))
    }

    /// Writes `job` over its item if the item still matches `guard`.
    async fn write_guarded(
        &self,
        operation: &'static str,
        job: &Job,
        guard: &Guard,
    ) -> std::result::Result<(), WriteError> {
        let record = self.record(job).await.map_err(WriteError::Failed)?;
        let (condition, names, values) = item::guard_condition(guard);
        let written = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item::job_item(
                job,
                record,
                self.expires_at(job.created_at),
            )))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if sdk_error::code(&e) == Some("ConditionalCheckFailedException") => {
                Err(WriteError::Conflict)
            }
            Err(e) => Err(WriteError::Failed(sdk_error::map(
                BACKEND,
                operation,
                &self.context(&job.id.to_string()),
                e,
            ))),
        }
    }

    /// Read, decide, conditional write; again from a fresh read when the write loses a race.
    async fn transition<T>(
        &self,
        operation: &'static str,
        id: &JobId,
        tenant: Option<&Tenant>,
        decide: impl Fn(Option<Job>, OffsetDateTime) -> transitions::Decision<T> + Send + Sync,
    ) -> Result<T>
    where
        T: Send,
    {
        for _ in 0..MAX_CONFLICTS {
            let current = self.read(operation, id, tenant).await?;
            let (job, guard) = match current {
                Some((job, guard)) => (Some(job), Some(guard)),
                None => (None, None),
            };
            let (write, outcome) = decide(job, OffsetDateTime::now_utc());
            let (Some(job), Some(guard)) = (write, guard) else {
                return Ok(outcome);
            };
            match self.write_guarded(operation, &job, &guard).await {
                Ok(()) => return Ok(outcome),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::Transient {
            backend: BACKEND,
            operation,
            message: format!(
                "{}: changed under {MAX_CONFLICTS} conditional writes in a row",
                self.context(&id.to_string())
            ),
        })
    }

    /// The live job an idempotency item names, if both exist.
    async fn idempotent_job(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>> {
        let idem = self
            .read_item(
                "find job by idempotency key",
                &item::idempotency_id(tenant, key),
            )
            .await?;
        let Some(job_id) = idem.as_ref().and_then(|i| item::get_s(i, item::JOB_ID)) else {
            return Ok(None);
        };
        let id: JobId = job_id.parse()?;
        self.get(tenant, &id).await
    }

    async fn create_with_key(&self, job: &Job, job_item: Item, key: &str) -> Result<CreateOutcome> {
        let idem_id = item::idempotency_id(&job.tenant, key);
        let expires_at = self.expires_at(job.created_at);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let build = |put: aws_sdk_dynamodb::error::BuildError| Error::Backend {
            backend: BACKEND,
            operation: "create job",
            message: format!(
                "{}: building the transaction: {put}",
                self.context(&idem_id)
            ),
        };
        let put_job = Put::builder()
            .table_name(self.table.as_ref())
            .set_item(Some(job_item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", item::ID)
            .build()
            .map_err(build)?;
        let put_key = Put::builder()
            .table_name(self.table.as_ref())
            .item(item::ID, item::s(idem_id.as_str()))
            .item(item::JOB_ID, item::s(job.id.to_string()))
            .item(item::EXPIRES_AT, item::n(expires_at))
            // An expired key item that DynamoDB has not deleted yet may be taken over.
            .condition_expression("attribute_not_exists(#id) OR #expires_at <= :now")
            .expression_attribute_names("#id", item::ID)
            .expression_attribute_names("#expires_at", item::EXPIRES_AT)
            .expression_attribute_values(":now", item::n(now))
            .build()
            .map_err(build)?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_job).build())
            .transact_items(TransactWriteItem::builder().put(put_key).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if sdk_error::code(&e) == Some("TransactionCanceledException") => {
                match self.idempotent_job(&job.tenant, key).await? {
                    Some(existing) => Ok(CreateOutcome::Existing(Box::new(existing))),
                    None => Err(Error::Transient {
                        backend: BACKEND,
                        operation: "create job",
                        message: format!(
                            "{}: the transaction for job {} was cancelled, yet the key names no \
                             live job: {}",
                            self.context(&idem_id),
                            job.id,
                            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                        ),
                    }),
                }
            }
            Err(e) => Err(sdk_error::map(
                BACKEND,
                "create job",
                &self.context(&idem_id),
                e,
            )),
        }
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn create(&self, job: &Job) -> Result<CreateOutcome> {
        let record = self.record(job).await?;
        let job_item = item::job_item(job, record, self.expires_at(job.created_at));
        if let Some(key) = &job.idempotency_key {
            return self.create_with_key(job, job_item, key).await;
        }
        let id = job.id.to_string();
        self.client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(job_item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", item::ID)
            .send()
            .await
            .map_err(|e| sdk_error::map(BACKEND, "create job", &self.context(&id), e))?;
        Ok(CreateOutcome::Created)
    }

    async fn find_idempotent(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>> {
        self.idempotent_job(tenant, key).await
    }

    async fn get(&self, tenant: &Tenant, id: &JobId) -> Result<Option<Job>> {
        Ok(self
            .read("get job", id, Some(tenant))
            .await?
            .map(|(job, _)| job))
    }

    async fn claim(&self, id: &JobId, lease: &Lease) -> Result<ClaimOutcome> {
        self.transition("claim job", id, None, |job, now| {
            transitions::claim(job, lease, now)
        })
        .await
    }

    async fn renew(&self, id: &JobId, holder: &str, expires_at: OffsetDateTime) -> Result<bool> {
        self.transition("renew lease", id, None, |job, _now| {
            transitions::renew(job, holder, expires_at)
        })
        .await
    }

    async fn requeue(&self, id: &JobId, holder: &str) -> Result<bool> {
        self.transition("requeue job", id, None, |job, _now| {
            transitions::requeue(job, holder)
        })
        .await
    }

    async fn complete(&self, id: &JobId, holder: &str, result: &serde_json::Value) -> Result<bool> {
        self.transition("complete job", id, None, |job, now| {
            transitions::complete(job, holder, result, now)
        })
        .await
    }

    async fn fail(&self, id: &JobId, holder: Option<&str>, error: &JobError) -> Result<bool> {
        self.transition("fail job", id, None, |job, now| {
            transitions::fail(job, holder, error, now)
        })
        .await
    }

    async fn cancel(&self, tenant: &Tenant, id: &JobId) -> Result<CancelOutcome> {
        self.transition("cancel job", id, Some(tenant), transitions::cancel)
            .await
    }

    async fn list(&self, tenant: &Tenant, filter: &ListFilter) -> Result<Page> {
        list::list(self, tenant, filter).await
    }

    /// Counts the tenant's entries in the sparse `by-active` index ([`active`]).
    async fn count_active(&self, tenant: &Tenant) -> Result<u64> {
        active::count_active(self, tenant).await
    }

    async fn unclaimed_before(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Job>> {
        unclaimed::unclaimed_before(self, before, limit).await
    }

    async fn record_webhook(&self, id: &JobId, outcome: &WebhookOutcome) -> Result<()> {
        let found = self
            .transition("record webhook", id, None, |job, _now| {
                transitions::record_webhook(job, outcome)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "job",
                key: id.to_string(),
            })
        }
    }
}
