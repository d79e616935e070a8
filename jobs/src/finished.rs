//! Hearing that a job finished without polling its record: [`Finished`] wakes whoever waits on a
//! job when its record turns terminal, and [`SignallingStore`] wraps a [`JobStore`] so that every
//! successful terminal write made through it (complete, fail, cancel) signals.
//!
//! In one process (`soyl serve`) the worker and the API share the wrapped store, so a client
//! long-polling `GET /v1/jobs/{id}?wait_ms=` hears of its result as soon as it is stored. A waiter
//! in another process than the writer is never signalled and falls back to re-reading the store
//! (see the API's wait loop); the signal is an optimisation, the record stays the truth.

use crate::{
    BatchCounts, CancelOutcome, ClaimOutcome, CreateOutcome, Job, JobError, JobId, JobStore, Lease,
    ListFilter, Page, Result, Tenant, WebhookOutcome,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tokio::sync::watch;

/// Waiters per job, woken when the job ends.
#[derive(Default)]
pub struct Finished {
    waiting: Mutex<HashMap<JobId, watch::Sender<()>>>,
}

/// One waiter's interest in one job; subscribe before reading the record, so a write between the
/// read and the wait is not missed. Dropping it forgets the job once nobody else waits on it.
pub struct Subscription {
    id: JobId,
    rx: watch::Receiver<()>,
    finished: Arc<Finished>,
}

impl Finished {
    /// Starts waiting on `id`.
    pub fn subscribe(self: &Arc<Self>, id: JobId) -> Subscription {
        let rx = self
            .lock()
            .entry(id)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Subscription {
            id,
            rx,
            finished: self.clone(),
        }
    }

    /// Wakes every waiter of `id` (nothing happens when nobody waits).
    pub fn signal(&self, id: &JobId) {
        if let Some(tx) = self.lock().remove(id) {
            tx.send_replace(());
        }
    }

    /// Jobs somebody waits on now.
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, watch::Sender<()>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Subscription {
    /// Resolves once the job was signalled since [`Finished::subscribe`], or after `at_most`.
    /// True when signalled. After the one signal a job gets, each later call waits `at_most`
    /// (a reader of an eventually consistent store may not see the write yet).
    pub async fn wait(&mut self, at_most: std::time::Duration) -> bool {
        match tokio::time::timeout(at_most, self.rx.changed()).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => {
                tokio::time::sleep(at_most).await;
                false
            }
            Err(_) => false,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiting = self.finished.lock();
        // The sender counts this receiver until it is dropped, after this function.
        if waiting
            .get(&self.id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            waiting.remove(&self.id);
        }
    }
}

/// A [`JobStore`] that signals [`Finished`] after every terminal write it makes.
pub struct SignallingStore {
    inner: Arc<dyn JobStore>,
    finished: Arc<Finished>,
}

impl SignallingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn JobStore>, finished: Arc<Finished>) -> Self {
        SignallingStore { inner, finished }
    }

    fn signal_if(&self, id: &JobId, written: bool) -> bool {
        if written {
            self.finished.signal(id);
        }
        written
    }
}

#[async_trait]
impl JobStore for SignallingStore {
    async fn create(&self, job: &Job) -> Result<CreateOutcome> {
        self.inner.create(job).await
    }
    async fn get(&self, tenant: &Tenant, id: &JobId) -> Result<Option<Job>> {
        self.inner.get(tenant, id).await
    }
    async fn claim(&self, id: &JobId, lease: &Lease) -> Result<ClaimOutcome> {
        self.inner.claim(id, lease).await
    }
    async fn renew(&self, id: &JobId, holder: &str, expires_at: OffsetDateTime) -> Result<bool> {
        self.inner.renew(id, holder, expires_at).await
    }
    async fn requeue(&self, id: &JobId, holder: &str) -> Result<bool> {
        self.inner.requeue(id, holder).await
    }
    async fn complete(&self, id: &JobId, holder: &str, result: &serde_json::Value) -> Result<bool> {
        let written = self.inner.complete(id, holder, result).await?;
        Ok(self.signal_if(id, written))
    }
    async fn fail(&self, id: &JobId, holder: Option<&str>, error: &JobError) -> Result<bool> {
        let written = self.inner.fail(id, holder, error).await?;
        Ok(self.signal_if(id, written))
    }
    async fn cancel(&self, tenant: &Tenant, id: &JobId) -> Result<CancelOutcome> {
        let outcome = self.inner.cancel(tenant, id).await?;
        self.signal_if(id, matches!(outcome, CancelOutcome::Cancelled(_)));
        Ok(outcome)
    }
    async fn list(&self, tenant: &Tenant, filter: &ListFilter) -> Result<Page> {
        self.inner.list(tenant, filter).await
    }
    async fn count_active(&self, tenant: &Tenant) -> Result<u64> {
        self.inner.count_active(tenant).await
    }
    async fn find_idempotent(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>> {
        self.inner.find_idempotent(tenant, key).await
    }
    async fn record_webhook(&self, id: &JobId, outcome: &WebhookOutcome) -> Result<()> {
        self.inner.record_webhook(id, outcome).await
    }
    async fn unclaimed_before(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Job>> {
        self.inner.unclaimed_before(before, limit).await
    }
    async fn batch_counts(&self, tenant: &Tenant, batch_id: &str) -> Result<BatchCounts> {
        self.inner.batch_counts(tenant, batch_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_after_subscribing_is_heard_even_before_waiting() {
        let finished = Arc::new(Finished::default());
        let id = JobId::new();
        let mut sub = finished.subscribe(id);
        finished.signal(&id);
        assert!(sub.wait(Duration::from_secs(5)).await);
        let started = std::time::Instant::now();
        assert!(!sub.wait(Duration::from_millis(30)).await);
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "no busy loop after the signal"
        );
    }

    #[tokio::test]
    async fn without_a_signal_the_wait_times_out_and_the_entry_is_dropped() {
        let finished = Arc::new(Finished::default());
        let id = JobId::new();
        let mut a = finished.subscribe(id);
        let b = finished.subscribe(id);
        assert!(!a.wait(Duration::from_millis(20)).await);
        drop(a);
        assert_eq!(finished.waiting(), 1, "b still waits");
        drop(b);
        assert_eq!(finished.waiting(), 0);
    }

    #[tokio::test]
    async fn a_signal_for_another_job_does_not_wake() {
        let finished = Arc::new(Finished::default());
        let mut sub = finished.subscribe(JobId::new());
        finished.signal(&JobId::new());
        assert!(!sub.wait(Duration::from_millis(20)).await);
    }
}
