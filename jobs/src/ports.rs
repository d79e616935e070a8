//! The three storage ports. The submitter and the worker see only these traits; the embedded
//! (SQLite, media directory) and AWS (SQS, S3, DynamoDB) adapters implement them with the same
//! guarantees, pinned by one conformance suite.

use crate::{
    Job, JobError, JobId, Lease, MediaKey, Priority, Result, Status, Tenant, WebhookOutcome,
};
use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// The body of a queue message: just enough to find the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    /// The job to run.
    pub job_id: JobId,
    /// Its tenant (every job read is tenant-scoped).
    pub tenant: Tenant,
    /// Scheduling class.
    pub priority: Priority,
}

/// An opaque handle on one delivery of a message; valid until the message is acked, released, or
/// its visibility timeout lapses and it is delivered again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Receipt(pub String);

/// One delivery of a message.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message body.
    pub message: QueueMessage,
    /// Handle for ack / extend / release.
    pub receipt: Receipt,
    /// How many times the message has been delivered, this delivery included (1 the first time).
    pub receive_count: u32,
}

/// A queue with SQS semantics: at-least-once delivery; a received message is invisible for the
/// visibility timeout and comes back unless acked; a message received more than `max_receives`
/// times moves to the dead-letter queue instead of being delivered again.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a message.
    async fn send(&self, message: &QueueMessage) -> Result<()>;
    /// Receives up to `max` messages, waiting up to `wait` for the first one (long poll).
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>>;
    /// Deletes a delivered message: call only after its result is durable.
    async fn ack(&self, receipt: &Receipt) -> Result<()>;
    /// Keeps a delivered message invisible for `by` from now (heartbeat).
    async fn extend(&self, receipt: &Receipt, by: Duration) -> Result<()>;
    /// Makes a delivered message visible again after `delay` (redelivery with backoff).
    async fn release(&self, receipt: &Receipt, delay: Duration) -> Result<()>;
    /// Approximate number of messages waiting (visible or in flight), for metrics and `/ready`.
    async fn depth(&self) -> Result<u64>;
}

/// Media bytes by key.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores bytes under `key` (overwrites).
    async fn put(&self, key: &MediaKey, bytes: Bytes, content_type: Option<&str>) -> Result<()>;
    /// Reads the bytes under `key`, refusing with [`crate::Error::TooLarge`] above `max_bytes`.
    async fn get(&self, key: &MediaKey, max_bytes: u64) -> Result<Bytes>;
    /// The first `n` bytes under `key` (fewer if the object is shorter) and the object's whole
    /// size, without reading the rest: enough to tell an upload's kind at submit.
    async fn head(&self, key: &MediaKey, n: usize) -> Result<(Bytes, u64)>;
    /// A URL a client can PUT the bytes to directly, valid for `ttl`; `None` when the backend has
    /// no such thing (the embedded media directory).
    async fn presign_put(&self, key: &MediaKey, ttl: Duration) -> Result<Option<String>>;
}

/// What [`JobStore::create`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// The job was stored.
    Created,
    /// A job with the same tenant and idempotency key already exists: here it is.
    Existing(Box<Job>),
}

/// What [`JobStore::claim`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The caller now holds the lease; the job as it is now (status `running`).
    Claimed(Box<Job>),
    /// Another holder's lease is still live until this instant.
    Busy(OffsetDateTime),
    /// The job already ended (a duplicate or late delivery): nothing to do.
    Terminal(Status),
    /// No such job.
    Missing,
}

/// What [`JobStore::cancel`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The job is now cancelled.
    Cancelled(Box<Job>),
    /// The job had already ended in this state.
    AlreadyTerminal(Status),
    /// No such job for this tenant.
    NotFound,
}

/// Filter for [`JobStore::list`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only jobs in this status.
    pub status: Option<Status>,
    /// Only jobs of this bulk batch.
    pub batch_id: Option<String>,
    /// At most this many (the adapter caps it).
    pub limit: usize,
    /// Continue after this job id (from a previous page's `next`).
    pub after: Option<JobId>,
}

/// One page of a listing, newest last (ids are time-ordered).
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Cursor for the next page, if there may be one.
    pub next: Option<JobId>,
}

/// How many jobs of one batch are in each status (see [`JobStore::batch_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Waiting in a queue.
    pub queued: u64,
    /// Being analysed.
    pub running: u64,
    /// Finished with a result.
    pub succeeded: u64,
    /// Finished with an error.
    pub failed: u64,
    /// Cancelled by the tenant.
    pub cancelled: u64,
    /// The batch's first job (ids are time-ordered, so its creation time is the batch's start).
    pub first: Option<JobId>,
}

impl BatchCounts {
    /// Jobs in the batch.
    pub fn total(&self) -> u64 {
        self.queued + self.running + self.finished()
    }

    /// Jobs that reached a terminal state.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled
    }

    /// Counts one job.
    pub fn add(&mut self, job: &Job) {
        match job.status {
            Status::Queued => self.queued += 1,
            Status::Running => self.running += 1,
            Status::Succeeded => self.succeeded += 1,
            Status::Failed => self.failed += 1,
            Status::Cancelled => self.cancelled += 1,
        }
        self.first = Some(self.first.map_or(job.id, |first| first.min(job.id)));
    }
}

/// Job records. Every transition is a conditional write: a stale lease holder or a late duplicate
/// can never overwrite a terminal state.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job; with an idempotency key already used by this tenant, returns that job.
    async fn create(&self, job: &Job) -> Result<CreateOutcome>;
    /// The tenant's job created under idempotency key `key` (as `create` would find it), if any:
    /// lets intake answer a replayed request before storing its media again or counting it
    /// against the job quota.
    async fn find_idempotent(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>>;
    /// Reads a job of this tenant; another tenant's id reads as `None`.
    async fn get(&self, tenant: &Tenant, id: &JobId) -> Result<Option<Job>>;
    /// `queued -> running` (or takes over a `running` job whose lease lapsed) under `lease`;
    /// counts an attempt.
    async fn claim(&self, id: &JobId, lease: &Lease) -> Result<ClaimOutcome>;
    /// Extends the lease of `holder`; false if the holder no longer holds the job.
    async fn renew(&self, id: &JobId, holder: &str, expires_at: OffsetDateTime) -> Result<bool>;
    /// `running -> queued` for redelivery, by the holder only; false if refused.
    async fn requeue(&self, id: &JobId, holder: &str) -> Result<bool>;
    /// `running -> succeeded` with `result`, by the holder only; false if refused.
    async fn complete(&self, id: &JobId, holder: &str, result: &serde_json::Value) -> Result<bool>;
    /// `-> failed`: with `Some(holder)` only from `running` under that lease; with `None` from any
    /// non-terminal state (dead letters, submit-time failures). False if refused.
    async fn fail(&self, id: &JobId, holder: Option<&str>, error: &JobError) -> Result<bool>;
    /// `queued | running -> cancelled` for the tenant's job.
    async fn cancel(&self, tenant: &Tenant, id: &JobId) -> Result<CancelOutcome>;
    /// The tenant's jobs matching `filter`, in id (creation) order.
    async fn list(&self, tenant: &Tenant, filter: &ListFilter) -> Result<Page>;
    /// Counts the tenant's jobs of batch `batch_id` by status. The default reads every job of the
    /// batch, a page of 1,000 at a time (one DynamoDB query page of read capacity per page: about
    /// 1,000 pages for a million-job batch); the SQLite store answers with one indexed
    /// `GROUP BY` that returns no records.
    async fn batch_counts(&self, tenant: &Tenant, batch_id: &str) -> Result<BatchCounts> {
        let mut counts = BatchCounts::default();
        let mut after = None;
        loop {
            let filter = ListFilter {
                status: None,
                batch_id: Some(batch_id.to_owned()),
                limit: 1000,
                after,
            };
            let page = self.list(tenant, &filter).await?;
            page.jobs.iter().for_each(|job| counts.add(job));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(counts),
            }
        }
    }
    /// How many of the tenant's jobs are `queued` or `running` (for the concurrent-job quota).
    async fn count_active(&self, tenant: &Tenant) -> Result<u64>;
    /// Stores `outcome` as the job's `webhook` field, replacing any earlier one, whatever the
    /// job's tenant and status (the worker calls it after the delivery for a terminal job ended).
    /// Changes nothing else: status, lease, result, error and timestamps stay as they are, and
    /// it never conflicts with a transition (adapters apply it as a read-modify-write of the
    /// record under their usual conditional write, retrying on a lost race). An unknown `id` is
    /// [`crate::Error::NotFound`] with `what: "job"`.
    async fn record_webhook(&self, id: &JobId, outcome: &WebhookOutcome) -> Result<()>;
    /// Jobs of every tenant that are `queued`, were never claimed (`attempts == 0`) and were
    /// created before `before`, oldest first, at most `limit`. These are the only jobs that can
    /// lack a queue message (a submit that stopped between the record and the enqueue): a job
    /// claimed once had a message, which stays until it is acked or dead-lettered. The
    /// reconciler (`soyl_worker::reconciler`) re-sends their messages, once per interval: not a hot path.
    async fn unclaimed_before(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Job>>;
}
