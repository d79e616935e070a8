//! The submit reconciler: finds jobs whose queue message may never have been sent and sends it.
//!
//! A submit stores media, then the record (`queued`), then the message. If the process stops
//! between the last two, or the enqueue fails and so does marking the job `failed`
//! (`enqueue_failed`), a record sits `queued` with no message. Such a job was never claimed:
//! [`JobStore::unclaimed_before`] lists exactly those (queued, `attempts == 0`, older than a
//! threshold), across tenants, and each pass re-sends their messages on the queue of their
//! priority. A job that did have a message (waiting in a long backlog) gets a duplicate, which is
//! safe: claims are conditional, so the second delivery finds the job busy or ended and does no
//! work. This process re-sends one job at most once per threshold, which bounds the duplicates.
//! Started by [`crate::run`] when `WorkerConfig::reconcile` is set; [`Reconciler::pass`] is
//! public for tests.

use soyl_jobs::{JobId, JobQueue, JobStore, Priority, QueueMessage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::watch;

/// Most jobs looked at per pass.
const PER_PASS: usize = 1000;

/// When the reconciler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// A never-claimed `queued` job older than this is given its message again.
    pub after: Duration,
    /// Time between passes.
    pub every: Duration,
}

/// Re-sends the messages of never-claimed jobs.
pub struct Reconciler {
    store: Arc<dyn JobStore>,
    interactive: Arc<dyn JobQueue>,
    bulk: Option<Arc<dyn JobQueue>>,
    after: Duration,
    /// Jobs this process re-sent, and when (a job is re-sent at most once per `after`).
    sent: Mutex<HashMap<JobId, Instant>>,
}

impl Reconciler {
    /// A reconciler over `store`, sending to `interactive` (and `bulk` for bulk jobs, when set).
    pub fn new(
        store: Arc<dyn JobStore>,
        interactive: Arc<dyn JobQueue>,
        bulk: Option<Arc<dyn JobQueue>>,
        after: Duration,
    ) -> Self {
        Reconciler {
            store,
            interactive,
            bulk,
            after,
            sent: Mutex::default(),
        }
    }

    /// One pass: returns how many messages were re-sent.
    pub async fn pass(&self) -> soyl_jobs::Result<usize> {
        let cutoff = OffsetDateTime::now_utc() - self.after;
        let jobs = self.store.unclaimed_before(cutoff, PER_PASS).await?;
        let mut resent = 0;
        for job in jobs {
            if !self.due(job.id) {
                continue;
            }
            let queue = match (&self.bulk, job.options.priority) {
                (Some(bulk), Priority::Bulk) => bulk,
                _ => &self.interactive,
            };
            let message = QueueMessage {
                job_id: job.id,
                tenant: job.tenant.clone(),
                priority: job.options.priority,
            };
            match queue.send(&message).await {
                Ok(()) => {
                    resent += 1;
                    tracing::warn!(job_id = %job.id, created_at = %job.created_at, "queued job never claimed: message re-sent");
                }
                Err(e) => {
                    self.forget(job.id);
                    tracing::warn!(job_id = %job.id, error = %e, "re-sending a never-claimed job failed; next pass retries");
                }
            }
        }
        Ok(resent)
    }

    /// Whether `id` may be re-sent now (not re-sent within `after`); marks it sent if so.
    fn due(&self, id: JobId) -> bool {
        let mut sent = self
            .sent
            .lock()
            .expect("reconciler lock never poisoned; this is a bug");
        let now = Instant::now();
        sent.retain(|_, at| now.duration_since(*at) < self.after);
        if sent.contains_key(&id) {
            return false;
        }
        sent.insert(id, now);
        true
    }

    fn forget(&self, id: JobId) {
        self.sent
            .lock()
            .expect("reconciler lock never poisoned; this is a bug")
            .remove(&id);
    }

    /// Runs a pass every `every` until `shutdown` turns true.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.pass().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(resent = n, "reconciler pass"),
                Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}
