//! Fault injection for the storage ports (test support, like [`crate::conformance`]): [`Faulty`]
//! wraps a real adapter of [`JobQueue`], [`JobStore`] or [`MediaStore`] and, on the rules of a
//! shared [`Faults`], refuses calls with [`Error::Transient`] before they reach the adapter (as a
//! throttled or 5xx-answering backend refuses a request), delays them, or passes them through. It
//! logs every call with its outcome, so a test can count what each worker wrote, how often it was
//! refused, and how far apart its retries were.
//!
//! Operations are named `"<port>.<method>"`: `queue.receive`, `store.complete`, `media.get`, ...
//! Keys are what the call is about: a job id for the store, a media key for media, a job id (or
//! the receipt, for ack / extend / release) for the queue.

use crate::{
    BatchCounts, CancelOutcome, ClaimOutcome, CreateOutcome, Delivery, Error, Job, JobError, JobId,
    JobQueue, JobStore, Lease, ListFilter, MediaKey, MediaStore, Page, QueueMessage, Receipt,
    Result, Tenant, WebhookOutcome,
};
use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Refused by an injected fault; the adapter never saw it.
    Injected,
    /// The adapter answered: `wrote` is true when it changed something (a claim that claimed, a
    /// conditional write that was applied, a create that created, any send / put / ack).
    Done {
        /// Whether the call changed state.
        wrote: bool,
    },
    /// The adapter itself failed.
    Failed,
}

/// One logged call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `"<port>.<method>"`.
    pub op: &'static str,
    /// What it was about (see the module docs).
    pub key: String,
    /// When it was made (before any injected delay).
    pub at: Instant,
    /// How it ended.
    pub outcome: Outcome,
}

/// A rule: which calls it applies to.
#[derive(Debug, Clone)]
struct Target {
    op: &'static str,
    key: Option<String>,
}

impl Target {
    fn matches(&self, op: &str, key: &str) -> bool {
        self.op == op && self.key.as_deref().is_none_or(|k| k == key)
    }
}

#[derive(Debug)]
struct State {
    rng: StdRng,
    /// Probability of a transient refusal, and the operations it applies to.
    random: Option<(f64, Vec<&'static str>)>,
    /// Calls refused every time.
    always: Vec<Target>,
    /// Calls delayed before they run.
    delays: Vec<(Target, Duration)>,
    log: Vec<Call>,
}

/// The rules and the call log shared by every [`Faulty`] adapter of one test.
#[derive(Debug)]
pub struct Faults {
    state: Mutex<State>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::seeded(0)
    }
}

impl Faults {
    /// No faults yet; random faults (once enabled) drawn from `seed`, so a run repeats.
    pub fn seeded(seed: u64) -> Faults {
        Faults {
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(seed),
                random: None,
                always: Vec::new(),
                delays: Vec::new(),
                log: Vec::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("fault state lock never poisoned; this is a bug")
    }

    /// Refuses each call of `ops` with probability `rate` (throttling, 5xx).
    pub fn random_transient(&self, rate: f64, ops: &[&'static str]) -> &Self {
        self.state().random = Some((rate, ops.to_vec()));
        self
    }

    /// Refuses every call of `op` (about `key` only, when given) until [`Faults::heal`].
    pub fn always(&self, op: &'static str, key: Option<String>) -> &Self {
        self.state().always.push(Target { op, key });
        self
    }

    /// Delays every call of `op` (about `key` only, when given) by `by`.
    pub fn delay(&self, op: &'static str, key: Option<String>, by: Duration) -> &Self {
        self.state().delays.push((Target { op, key }, by));
        self
    }

    /// Lifts every rule (random, always, delay); the log stays.
    pub fn heal(&self) {
        let mut state = self.state();
        state.random = None;
        state.always.clear();
        state.delays.clear();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().log.clone()
    }

    /// The calls of `op` (about `key`, when given) that ended in `outcome`.
    pub fn count(&self, op: &str, key: Option<&str>, outcome: Outcome) -> usize {
        self.state()
            .log
            .iter()
            .filter(|c| c.op == op && key.is_none_or(|k| c.key == k) && c.outcome == outcome)
            .count()
    }

    /// Decides a call before it runs: its delay, and whether it is refused.
    fn before(&self, op: &'static str, key: &str) -> (Duration, bool) {
        let mut state = self.state();
        let delay = state
            .delays
            .iter()
            .filter(|(t, _)| t.matches(op, key))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default();
        let mut refused = state.always.iter().any(|t| t.matches(op, key));
        if let Some((rate, ops)) = state.random.clone() {
            if ops.contains(&op) && state.rng.random_bool(rate) {
                refused = true;
            }
        }
        (delay, refused)
    }

    fn log(&self, op: &'static str, key: String, at: Instant, outcome: Outcome) {
        self.state().log.push(Call {
            op,
            key,
            at,
            outcome,
        });
    }

    /// Runs one call of `op` about `key` under the rules; `wrote` says whether its answer
    /// changed state.
    async fn run<T>(
        &self,
        op: &'static str,
        key: String,
        wrote: impl FnOnce(&T) -> bool,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let at = Instant::now();
        let (delay, refused) = self.before(op, &key);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if refused {
            self.log(op, key.clone(), at, Outcome::Injected);
            return Err(Error::Transient {
                backend: "faults",
                operation: op,
                message: format!("injected fault on {key}"),
            });
        }
        let result = call.await;
        let outcome = match &result {
            Ok(value) => Outcome::Done {
                wrote: wrote(value),
            },
            Err(_) => Outcome::Failed,
        };
        self.log(op, key, at, outcome);
        result
    }
}

/// A real adapter under the rules of a [`Faults`].
pub struct Faulty<T: ?Sized> {
    inner: Arc<T>,
    faults: Arc<Faults>,
}

impl<T: ?Sized> Clone for Faulty<T> {
    fn clone(&self) -> Self {
        Faulty {
            inner: self.inner.clone(),
            faults: self.faults.clone(),
        }
    }
}

impl<T: ?Sized> Faulty<T> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<T>, faults: Arc<Faults>) -> Self {
        Faulty { inner, faults }
    }

    /// The rules and the log.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }
}

fn yes<T>(_: &T) -> bool {
    true
}

fn no<T>(_: &T) -> bool {
    false
}

fn applied(value: &bool) -> bool {
    *value
}

#[async_trait]
impl<Q: JobQueue + ?Sized> JobQueue for Faulty<Q> {
    async fn send(&self, message: &QueueMessage) -> Result<()> {
        let key = message.job_id.to_string();
        (self.faults)
            .run("queue.send", key, yes, self.inner.send(message))
            .await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        (self.faults)
            .run(
                "queue.receive",
                String::new(),
                |d: &Vec<Delivery>| !d.is_empty(),
                self.inner.receive(max, wait),
            )
            .await
    }
    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        (self.faults)
            .run("queue.ack", receipt.0.clone(), yes, self.inner.ack(receipt))
            .await
    }
    async fn extend(&self, receipt: &Receipt, by: Duration) -> Result<()> {
        let call = self.inner.extend(receipt, by);
        (self.faults)
            .run("queue.extend", receipt.0.clone(), yes, call)
            .await
    }
    async fn release(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        let call = self.inner.release(receipt, delay);
        (self.faults)
            .run("queue.release", receipt.0.clone(), yes, call)
            .await
    }
    async fn depth(&self) -> Result<u64> {
        (self.faults)
            .run("queue.depth", String::new(), no, self.inner.depth())
            .await
    }
}

#[async_trait]
impl<S: JobStore + ?Sized> JobStore for Faulty<S> {
    async fn create(&self, job: &Job) -> Result<CreateOutcome> {
        let created = |o: &CreateOutcome| matches!(o, CreateOutcome::Created);
        (self.faults)
            .run(
                "store.create",
                job.id.to_string(),
                created,
                self.inner.create(job),
            )
            .await
    }
    async fn get(&self, tenant: &Tenant, id: &JobId) -> Result<Option<Job>> {
        let call = self.inner.get(tenant, id);
        (self.faults)
            .run("store.get", id.to_string(), no, call)
            .await
    }
    async fn claim(&self, id: &JobId, lease: &Lease) -> Result<ClaimOutcome> {
        let claimed = |o: &ClaimOutcome| matches!(o, ClaimOutcome::Claimed(_));
        let call = self.inner.claim(id, lease);
        (self.faults)
            .run("store.claim", id.to_string(), claimed, call)
            .await
    }
    async fn renew(&self, id: &JobId, holder: &str, expires_at: OffsetDateTime) -> Result<bool> {
        let call = self.inner.renew(id, holder, expires_at);
        (self.faults)
            .run("store.renew", id.to_string(), applied, call)
            .await
    }
    async fn requeue(&self, id: &JobId, holder: &str) -> Result<bool> {
        let call = self.inner.requeue(id, holder);
        (self.faults)
            .run("store.requeue", id.to_string(), applied, call)
            .await
    }
    async fn complete(&self, id: &JobId, holder: &str, result: &serde_json::Value) -> Result<bool> {
        let call = self.inner.complete(id, holder, result);
        (self.faults)
            .run("store.complete", id.to_string(), applied, call)
            .await
    }
    async fn fail(&self, id: &JobId, holder: Option<&str>, error: &JobError) -> Result<bool> {
        let call = self.inner.fail(id, holder, error);
        (self.faults)
            .run("store.fail", id.to_string(), applied, call)
            .await
    }
    async fn cancel(&self, tenant: &Tenant, id: &JobId) -> Result<CancelOutcome> {
        let cancelled = |o: &CancelOutcome| matches!(o, CancelOutcome::Cancelled(_));
        let call = self.inner.cancel(tenant, id);
        (self.faults)
            .run("store.cancel", id.to_string(), cancelled, call)
            .await
    }
    async fn list(&self, tenant: &Tenant, filter: &ListFilter) -> Result<Page> {
        let call = self.inner.list(tenant, filter);
        (self.faults)
            .run("store.list", tenant.to_string(), no, call)
            .await
    }
    async fn count_active(&self, tenant: &Tenant) -> Result<u64> {
        let call = self.inner.count_active(tenant);
        (self.faults)
            .run("store.count_active", tenant.to_string(), no, call)
            .await
    }
    async fn find_idempotent(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>> {
        let call = self.inner.find_idempotent(tenant, key);
        (self.faults)
            .run("store.find_idempotent", tenant.to_string(), no, call)
            .await
    }
    async fn record_webhook(&self, id: &JobId, outcome: &WebhookOutcome) -> Result<()> {
        let call = self.inner.record_webhook(id, outcome);
        (self.faults)
            .run("store.record_webhook", id.to_string(), yes, call)
            .await
    }
    async fn unclaimed_before(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Job>> {
        let call = self.inner.unclaimed_before(before, limit);
        (self.faults)
            .run("store.unclaimed_before", String::new(), no, call)
            .await
    }
    async fn batch_counts(&self, tenant: &Tenant, batch_id: &str) -> Result<BatchCounts> {
        let call = self.inner.batch_counts(tenant, batch_id);
        (self.faults)
            .run("store.batch_counts", batch_id.to_owned(), no, call)
            .await
    }
}

#[async_trait]
impl<M: MediaStore + ?Sized> MediaStore for Faulty<M> {
    async fn put(&self, key: &MediaKey, bytes: Bytes, content_type: Option<&str>) -> Result<()> {
        let call = self.inner.put(key, bytes, content_type);
        (self.faults)
            .run("media.put", key.to_string(), yes, call)
            .await
    }
    async fn get(&self, key: &MediaKey, max_bytes: u64) -> Result<Bytes> {
        let call = self.inner.get(key, max_bytes);
        (self.faults)
            .run("media.get", key.to_string(), no, call)
            .await
    }
    async fn head(&self, key: &MediaKey, n: usize) -> Result<(Bytes, u64)> {
        let call = self.inner.head(key, n);
        (self.faults)
            .run("media.head", key.to_string(), no, call)
            .await
    }
    async fn presign_put(&self, key: &MediaKey, ttl: Duration) -> Result<Option<String>> {
        let call = self.inner.presign_put(key, ttl);
        (self.faults)
            .run("media.presign_put", key.to_string(), no, call)
            .await
    }
}
