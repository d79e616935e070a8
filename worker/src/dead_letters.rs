//! The dead-letter watcher: a message that was received `max_receives` times without being acked
//! is moved to the dead-letter queue by the queue itself; this loop marks its job `failed` with
//! code `dead_lettered` (from any non-terminal state) and then deletes the dead letter, so a job
//! never stays `queued` or `running` behind a poison message. A job it fails gets its webhook.
//!
//! One exception: a job `running` under a lease that has not lapsed is being worked on through
//! another message (a duplicate, such as one the reconciler re-sent, can exhaust its receives
//! while the original's delivery runs). Its dead letter is put back until just after the lease
//! would lapse and looked at again then: by that time the job has ended (the dead letter is
//! deleted, nothing changes) or its holder is gone (the job is failed as above).

use crate::webhook::Webhooks;
use soyl_jobs::{Delivery, JobError, JobQueue, JobStore, Status};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Runs until `shutdown` turns true.
pub async fn watch(
    dlq: Arc<dyn JobQueue>,
    store: Arc<dyn JobStore>,
    webhooks: Webhooks,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let received = tokio::select! {
            r = dlq.receive(10, Duration::from_secs(1)) => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let deliveries = match received {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "dead-letter receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for d in deliveries {
            let id = d.message.job_id;
            if let Some(lapse) = live_lease(store.as_ref(), &d).await {
                tracing::info!(job_id = %id, retry_in_s = lapse.as_secs_f64(), "dead letter of a job running under a live lease; looking again once the lease would lapse");
                if let Err(e) = dlq.release(&d.receipt, lapse).await {
                    tracing::warn!(job_id = %id, error = %e, "dead letter release failed");
                }
                continue;
            }
            let error = JobError::new(
                "dead_lettered",
                "the job's message was delivered the maximum number of times without completing \
                 (the worker crashed or kept failing on it) and was moved to the dead-letter queue",
            );
            match store.fail(&id, None, &error).await {
                Ok(changed) => {
                    tracing::warn!(job_id = %id, marked_failed = changed, "dead-lettered job");
                    if let Err(e) = dlq.ack(&d.receipt).await {
                        tracing::warn!(job_id = %id, error = %e, "dead letter delete failed");
                    }
                    if changed {
                        webhooks.job_ended(&d.message.tenant, id);
                    }
                }
                Err(e) => {
                    tracing::warn!(job_id = %id, error = %e, "could not fail dead-lettered job; will retry")
                }
            }
        }
    }
}

/// Longest a dead letter is put back for in one go (SQS allows 12 h; a lease is renewed far
/// more often than this).
const MAX_DEFERRAL: Duration = Duration::from_secs(300);

/// When the dead letter's job is `running` under a lease that has not lapsed: how long until it
/// would lapse, plus a second. `None` when the job may be failed now (or cannot be read: failing
/// is then retried through the usual path).
async fn live_lease(store: &dyn JobStore, d: &Delivery) -> Option<Duration> {
    let job = store
        .get(&d.message.tenant, &d.message.job_id)
        .await
        .ok()??;
    if job.status != Status::Running {
        return None;
    }
    let left = job.lease?.expires_at - OffsetDateTime::now_utc();
    (left > time::Duration::ZERO).then(|| {
        Duration::try_from(left)
            .unwrap_or(MAX_DEFERRAL)
            .saturating_add(Duration::from_secs(1))
            .min(MAX_DEFERRAL)
    })
}
