//! The dead-letter watcher: a message that was received `max_receives` times without being acked
//! is moved to the dead-letter queue by the queue itself; this loop marks its job `failed` with
//! code `dead_lettered` (from any non-terminal state) and then deletes the dead letter, so a job
//! never stays `queued` or `running` behind a poison message. A job it fails gets its webhook.

use crate::webhook::Webhooks;
use soyl_jobs::{JobError, JobQueue, JobStore};
use std::sync::Arc;
use std::time::Duration;
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
