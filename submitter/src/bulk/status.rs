//! A batch's progress from the job store: counts by status, throughput and an ETA. Used by
//! `soyl reprocess --wait` and `GET /v1/batches/{id}`.

use super::BulkError;
use serde::Serialize;
use soyl_jobs::{Job, JobStore, ListFilter, Status, Tenant};
use time::OffsetDateTime;

/// Jobs read per page while counting.
pub(crate) const PAGE: usize = 1000;

/// Counts and progress of one batch.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BatchStatus {
    /// The batch id.
    pub batch_id: String,
    /// Jobs in the batch.
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
    /// Whether every job of the batch has finished.
    pub done: bool,
}

impl BatchStatus {
    /// Jobs that reached a terminal state.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled
    }
}

/// Reads every job of the batch once (pages of [`PAGE`]) and counts them.
pub async fn batch_status(
    store: &dyn JobStore,
    tenant: &Tenant,
    batch_id: &str,
) -> Result<BatchStatus, BulkError> {
    let mut status = BatchStatus {
        batch_id: batch_id.to_owned(),
        ..BatchStatus::default()
    };
    let mut first_created: Option<OffsetDateTime> = None;
    for_each_job(store, tenant, batch_id, |job| {
        status.total += 1;
        match job.status {
            Status::Queued => status.queued += 1,
            Status::Running => status.running += 1,
            Status::Succeeded => status.succeeded += 1,
            Status::Failed => status.failed += 1,
            Status::Cancelled => status.cancelled += 1,
        }
        first_created = Some(first_created.map_or(job.created_at, |t| t.min(job.created_at)));
    })
    .await?;
    let finished = status.finished();
    status.done = status.total > 0 && finished == status.total;
    if let Some(start) = first_created {
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
