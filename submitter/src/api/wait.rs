//! Waiting for a job to end within one request: the long poll of `GET /v1/jobs/{id}?wait_ms=`
//! and the synchronous seed endpoints (`/analyzeFace` ...). A worker in this process wakes the
//! wait as soon as it stores the result ([`soyl_jobs::finished`]); a worker elsewhere is noticed
//! by re-reading the record every [`REREAD`].

use super::error::ApiError;
use super::AppState;
use soyl_jobs::{Job, JobId, Tenant};
use std::time::{Duration, Instant};

/// How often the record is re-read when no signal comes (the worker runs in another process).
pub const REREAD: Duration = Duration::from_millis(200);

/// The tenant's job once it is terminal, or as it is when `budget` runs out; `None` if unknown.
pub async fn until_terminal(
    state: &AppState,
    tenant: &Tenant,
    id: &JobId,
    budget: Duration,
) -> Result<Option<Job>, ApiError> {
    let deadline = Instant::now() + budget;
    // Subscribed before the first read, so a result stored in between is not missed.
    let mut finished = state.finished.subscribe(*id);
    loop {
        let Some(job) = state.store.get(tenant, id).await? else {
            return Ok(None);
        };
        let now = Instant::now();
        if job.status.is_terminal() || now >= deadline {
            return Ok(Some(job));
        }
        finished.wait((deadline - now).min(REREAD)).await;
    }
}
