//! A batch's progress from the job store: counts by status, throughput and an ETA. Used by
//! `soyl reprocess --wait` and `GET /v1/batches/{id}`.

use super::runs::Run;
use super::BulkError;
use super::Counters;
use serde::Serialize;
use soyl_jobs::{Job, JobStore, ListFilter, Tenant};
use time::OffsetDateTime;

/// Jobs read per page while counting.
pub(crate) const PAGE: usize = 1000;

/// Counts and progress of one batch.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BatchStatus {
    /// The batch id.
    pub batch_id: String,
    /// Jobs in the batch (every job enqueued so far).
    pub total: u64,
    /// Waiting in the queue.
    pub queued: u64,
    /// Being analysed.
    pub running: u64,
    /// Finished with a result.
    pub succeeded: u64,
    /// Finished with an error.
    pub failed: u64,
    /// Cancelled by the tenant.
    pub cancelled: u64,
    /// Finished jobs per second since the batch's first job was created.
    pub items_per_s: f64,
    /// Seconds until the jobs now in the batch are finished, at that rate (None: no rate yet).
    pub eta_s: Option<f64>,
    /// Whether every job of the batch has finished (and no listing of it is still running here).
    pub done: bool,
    /// The latest enqueue run of the batch in this process (None: none ran here, e.g. the batch
    /// was started by `soyl reprocess` or before a restart).
    pub listing: Option<Listing>,
}

/// Progress of an enqueue run.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Listing {
    /// `describe()` of the source.
    pub source: String,
    /// Whether the listing has ended.
    pub finished: bool,
    /// Objects listed that passed the filters.
    pub listed: u64,
    /// New jobs this run created and queued.
    pub enqueued: u64,
    /// Objects whose job already existed.
    pub existing: u64,
    /// Of those, jobs sent again because an interrupted run may never have sent them.
    pub resent: u64,
    /// Objects skipped by `skip_done_from`.
    pub skipped: u64,
    /// Objects that could not be read or queued.
    pub errors: u64,
    /// Why the run ended early, if it did.
    pub error: Option<String>,
}

impl Listing {
    /// A snapshot of `run`.
    pub fn of(run: &Run) -> Listing {
        let c = &run.counters;
        Listing {
            source: run.source.clone(),
            finished: run.finished(),
            listed: Counters::get(&c.listed),
            enqueued: Counters::get(&c.enqueued),
            existing: Counters::get(&c.existing),
            resent: Counters::get(&c.resent),
            skipped: Counters::get(&c.skipped),
            errors: Counters::get(&c.errors),
            error: run.error(),
        }
    }
}

impl BatchStatus {
    /// Jobs that reached a terminal state.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled
    }
}

/// The batch's counts by status (one [`JobStore::batch_counts`]: an indexed count on SQLite, a
/// read of the batch's jobs on DynamoDB), with the progress of `run` when one ran here.
pub async fn batch_status(
    store: &dyn JobStore,
    tenant: &Tenant,
    batch_id: &str,
    run: Option<&Run>,
) -> Result<BatchStatus, BulkError> {
    let counts = store.batch_counts(tenant, batch_id).await?;
    let mut status = BatchStatus {
        batch_id: batch_id.to_owned(),
        total: counts.total(),
        queued: counts.queued,
        running: counts.running,
        succeeded: counts.succeeded,
        failed: counts.failed,
        cancelled: counts.cancelled,
        listing: run.map(Listing::of),
        ..BatchStatus::default()
    };
    let finished = status.finished();
    let listing_done = status.listing.as_ref().is_none_or(|l| l.finished);
    status.done = listing_done && status.total > 0 && finished == status.total;
    if let Some(start) = counts.first.and_then(|id| id.created_at()) {
        let elapsed = (OffsetDateTime::now_utc() - start).as_seconds_f64();
        if elapsed > 0.0 && finished > 0 {
            status.items_per_s = finished as f64 / elapsed;
            status.eta_s = Some((status.total - finished) as f64 / status.items_per_s);
        }
    }
    Ok(status)
}

/// Calls `each` on every job of the batch, in creation order, one page in memory at a time.
pub(crate) async fn for_each_job(
    store: &dyn JobStore,
    tenant: &Tenant,
    batch_id: &str,
    mut each: impl FnMut(&Job),
) -> Result<(), BulkError> {
    let mut after = None;
    loop {
        let filter = ListFilter {
            status: None,
            batch_id: Some(batch_id.to_owned()),
            limit: PAGE,
            after,
        };
        let page = store.list(tenant, &filter).await?;
        page.jobs.iter().for_each(&mut each);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}
