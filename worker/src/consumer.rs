//! The queue consumer: pollers receive messages while job slots are free; each delivery becomes a
//! task that claims the job under a lease, keeps the lease (and the message's invisibility) alive
//! with a heartbeat, runs the analysis, writes the outcome as the lease holder, and only then acks.
//!
//! Priorities: interactive and bulk work arrive on separate queues. Each receive round of a poller
//! takes from one queue first and fills the slots left from the other; out of every
//! `interactive_weight + bulk_weight` rounds, `bulk_weight` start with the bulk queue, so a bulk
//! backlog never makes interactive messages wait behind it and steady interactive load never
//! starves bulk work entirely. Every delivery is acked, extended and released on the queue it
//! came from.
//!
//! Shutdown (the `shutdown` watch turning true): pollers stop receiving at once; in-flight jobs get
//! `stop_timeout` to finish; whatever is still running then is abandoned, requeued and released
//! for immediate redelivery, so nothing stays `running` behind a stopped worker.

use crate::analyze::Analyzer;
use crate::backoff::Backoff;
use crate::reconciler::{ReconcileConfig, Reconciler};
use crate::webhook::{WebhookConfig, Webhooks};
use crate::{Failure, Pipelines};
use soyl_jobs::{ClaimOutcome, Delivery, Job, JobQueue, JobStore, Lease, MediaStore, Status};
use soyl_models::CancelToken;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

/// The storage ports the worker uses.
#[derive(Clone)]
pub struct WorkerPorts {
    /// The interactive job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Its dead-letter queue, watched to fail dead-lettered jobs (None: another process does it).
    pub dead_letters: Option<Arc<dyn JobQueue>>,
    /// The bulk job queue and its dead-letter queue (None: all work arrives on `queue`).
    pub bulk: Option<BulkQueue>,
    /// Job records.
    pub store: Arc<dyn JobStore>,
    /// Media.
    pub media: Arc<dyn MediaStore>,
    /// Running jobs of this process, for immediate cancellation from the API.
    pub in_flight: Arc<crate::InFlight>,
}

/// The bulk (low-priority) queue of a worker.
#[derive(Clone)]
pub struct BulkQueue {
    /// Bulk job messages.
    pub queue: Arc<dyn JobQueue>,
    /// Its dead-letter queue, watched like the interactive one (None: another process does it).
    pub dead_letters: Option<Arc<dyn JobQueue>>,
}

/// Receive rounds per cycle that start with each queue (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueWeights {
    /// Rounds that take interactive messages first.
    pub interactive: u32,
    /// Rounds that take bulk messages first (0: bulk only fills slots interactive left free).
    pub bulk: u32,
    /// Most bulk jobs in flight at once, so a bulk backlog never fills every slot (and every
    /// core) and interactive jobs always find room.
    pub max_bulk_in_flight: usize,
}

impl Default for QueueWeights {
    fn default() -> Self {
        QueueWeights {
            interactive: 4,
            bulk: 1,
            max_bulk_in_flight: 4,
        }
    }
}

impl QueueWeights {
    /// Whether receive round `round` starts with the bulk queue.
    fn bulk_first(&self, round: u64) -> bool {
        let cycle = u64::from(self.interactive) + u64::from(self.bulk);
        cycle > 0 && round % cycle >= u64::from(self.interactive)
    }
}

/// Worker settings (filled from the binary's command line).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This process's id, the prefix of its lease holder names.
    pub worker_id: String,
    /// Concurrent receive loops.
    pub pollers: usize,
    /// Jobs in flight at once (the lanes batch across them).
    pub max_in_flight: usize,
    /// Lease length and message invisibility; renewed every third of it.
    pub lease: Duration,
    /// Long-poll wait of one receive.
    pub receive_wait: Duration,
    /// Largest media object the worker will read.
    pub max_media_bytes: u64,
    /// Time in-flight jobs get to finish after shutdown starts.
    pub stop_timeout: Duration,
    /// Longest one attempt at a job may run (media reads and analysis) before it is abandoned
    /// as a transient failure and released for redelivery (None: no limit). A hung model run or
    /// a stalled media read would otherwise keep the job `running`, its lease renewed, forever.
    pub job_timeout: Option<Duration>,
    /// Retries after transient failures: redelivery delays (step = deliveries so far), in-place
    /// retries of store and queue calls, and receive loops whose queue keeps failing.
    pub retry: Backoff,
    /// Re-sending the messages of jobs that never got one (None: another process does it).
    pub reconcile: Option<ReconcileConfig>,
    /// Per-modality fusion weights.
    pub fusion_weights: soyl_models::fusion::Weights,
    /// Webhook signing, retries and SSRF policy.
    pub webhook: WebhookConfig,
    /// How receive rounds share out between the interactive and the bulk queue.
    pub queue_weights: QueueWeights,
}

struct Shared {
    ports: WorkerPorts,
    analyzer: Analyzer,
    webhooks: Webhooks,
    config: WorkerConfig,
    /// Turns true when in-flight work must be abandoned (stop timeout passed).
    hard_stop: watch::Receiver<bool>,
    /// Bulk jobs in flight (capped by `queue_weights.max_bulk_in_flight`).
    bulk_in_flight: std::sync::atomic::AtomicUsize,
}

/// Runs the worker until `shutdown` turns true and in-flight work is finished or released.
pub async fn run(
    ports: WorkerPorts,
    pipelines: Arc<Pipelines>,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let (hard_tx, hard_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        analyzer: Analyzer::new(
            pipelines,
            config.fusion_weights.clone(),
            ports.media.clone(),
            config.max_media_bytes,
        ),
        webhooks: Webhooks::new(config.webhook.clone(), ports.store.clone()),
        ports,
        config,
        hard_stop: hard_rx,
        bulk_in_flight: Default::default(),
    });
    let slots = Arc::new(Semaphore::new(shared.config.max_in_flight.max(1)));
    let mut pollers = JoinSet::new();
    for _ in 0..shared.config.pollers.max(1) {
        pollers.spawn(poll(shared.clone(), slots.clone(), shutdown.clone()));
    }
    let bulk_dead_letters = shared
        .ports
        .bulk
        .as_ref()
        .and_then(|b| b.dead_letters.clone());
    let reapers: Vec<_> = [shared.ports.dead_letters.clone(), bulk_dead_letters]
        .into_iter()
        .flatten()
        .map(|dlq| {
            tokio::spawn(crate::dead_letters::watch(
                dlq,
                shared.ports.store.clone(),
                shared.webhooks.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    let reconciler = shared.config.reconcile.map(|r| {
        let reconciler = Reconciler::new(
            shared.ports.store.clone(),
            shared.ports.queue.clone(),
            shared.ports.bulk.as_ref().map(|b| b.queue.clone()),
            r.after,
        );
        tokio::spawn(reconciler.run(r.every, shutdown.clone()))
    });
    let _ = shutdown.wait_for(|stop| *stop).await;
    tracing::info!("worker draining: receiving stopped, finishing in-flight jobs");
    let mut in_flight = JoinSet::new();
    while let Some(res) = pollers.join_next().await {
        if let Ok(mut tasks) = res {
            while let Some(t) = tasks.try_join_next() {
                let _ = t;
            }
            in_flight.spawn(async move { while tasks.join_next().await.is_some() {} });
        }
    }
    let drained = tokio::time::timeout(shared.config.stop_timeout, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("stop timeout reached: releasing unfinished jobs for redelivery");
        let _ = hard_tx.send(true);
        while in_flight.join_next().await.is_some() {}
    }
    for reaper in reapers.into_iter().chain(reconciler) {
        let _ = reaper.await;
    }
    tracing::info!("worker stopped");
}

/// One receive loop. It owns the tasks of the jobs it received, and returns them on shutdown so
/// the caller can wait for them under the stop timeout.
async fn poll(
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let mut round: u64 = 0;
    let mut failed_receives: u32 = 0;
    loop {
        round = round.wrapping_add(1);
        while tasks.try_join_next().is_some() {}
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("semaphore never closed; this is a bug"),
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let mut permits = vec![first];
        while permits.len() < 10 {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        // Leases of this round's jobs run from before the receive, so each ends no later than its
        // message's invisibility: a message redelivered after a crash then finds its lease gone
        // and is claimed, instead of spending one of its receives on a `Busy` release.
        let asked = OffsetDateTime::now_utc();
        let receive = receive_round(&shared, round, permits.len());
        tokio::pin!(receive);
        let finished = tokio::select! {
            r = &mut receive => Some(r),
            _ = shutdown.wait_for(|s| *s) => None,
        };
        // A receive under way at shutdown may already have taken messages (SQS answered, or the
        // database committed): dropping it would leave them invisible for a visibility timeout
        // and spend one of their receives. It ends within one long-poll wait; what it got runs
        // like any other in-flight job under the stop timeout.
        let stopping = finished.is_none();
        let received = match finished {
            Some(received) => received,
            None => receive.await,
        };
        match received {
            Ok(deliveries) => {
                failed_receives = 0;
                for ((queue, delivery), permit) in deliveries.into_iter().zip(permits.drain(..)) {
                    let shared = shared.clone();
                    let bulk = BulkSlot::take(&shared, &delivery);
                    // Every log line of the job's work carries its id (JSON logs show span fields).
                    let span = tracing::info_span!("job", job_id = %delivery.message.job_id);
                    tasks.spawn(
                        async move {
                            handle(&shared, &queue, delivery, asked).await;
                            drop(bulk);
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
            }
            Err(e) => {
                let delay = shared.config.retry.delay(failed_receives);
                failed_receives = failed_receives.saturating_add(1);
                tracing::warn!(error = %e, ?delay, "receive failed; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
        }
        if stopping {
            break;
        }
    }
    tasks
}

/// One receive round for up to `slots` messages: the first queue of this round without waiting,
/// then the other for the slots left; when both are empty, a long poll on the interactive queue.
async fn receive_round(
    shared: &Shared,
    round: u64,
    slots: usize,
) -> soyl_jobs::Result<Vec<(Arc<dyn JobQueue>, Delivery)>> {
    let interactive = shared.ports.queue.clone();
    let Some(bulk) = shared.ports.bulk.as_ref().map(|b| b.queue.clone()) else {
        let deliveries = interactive
            .receive(slots, shared.config.receive_wait)
            .await?;
        return Ok(tag(&interactive, deliveries));
    };
    let bulk_first = shared.config.queue_weights.bulk_first(round);
    let order = if bulk_first {
        [bulk.clone(), interactive.clone()]
    } else {
        [interactive.clone(), bulk.clone()]
    };
    // Bulk messages are taken only while the bulk cap leaves room.
    let cap = |queue: &Arc<dyn JobQueue>, wanted: usize| {
        if Arc::ptr_eq(queue, &order[0]) == bulk_first {
            let used = shared
                .bulk_in_flight
                .load(std::sync::atomic::Ordering::Relaxed);
            wanted.min(
                shared
                    .config
                    .queue_weights
                    .max_bulk_in_flight
                    .saturating_sub(used),
            )
        } else {
            wanted
        }
    };
    let mut received = Vec::new();
    let mut failed = None;
    for queue in &order {
        let wanted = cap(queue, slots - received.len());
        if wanted > 0 {
            // A failed receive on one queue must not drop what the other already handed over:
            // those messages are invisible now and would only come back after their visibility
            // timeout, one receive closer to the dead-letter queue.
            match queue.receive(wanted, Duration::ZERO).await {
                Ok(deliveries) => received.extend(tag(queue, deliveries)),
                Err(e) => {
                    tracing::warn!(error = %e, "receive failed on one of the two queues");
                    failed = Some(e);
                }
            }
        }
    }
    if let Some(e) = failed.filter(|_| received.is_empty()) {
        return Err(e);
    }
    if received.is_empty() {
        // Idle: long-poll the interactive queue whichever queue this round favours, so an
        // interactive job never waits out a long poll of the bulk queue (that cost up to the
        // whole receive wait of queueing). Bulk work is looked at again next round: within the
        // receive wait after an idle spell, at once while bulk jobs keep arriving.
        // While bulk is at its cap, wait only briefly, so a freed bulk slot is refilled promptly.
        let wait = if cap(&bulk, slots) == 0 {
            shared.config.receive_wait.min(Duration::from_millis(20))
        } else {
            shared.config.receive_wait
        };
        received = tag(&interactive, interactive.receive(slots, wait).await?);
    }
    Ok(received)
}

/// Counts a bulk job against the bulk cap while it is in flight.
struct BulkSlot(Option<Arc<Shared>>);

impl BulkSlot {
    fn take(shared: &Arc<Shared>, delivery: &Delivery) -> Self {
        if delivery.message.priority == soyl_jobs::Priority::Bulk {
            shared
                .bulk_in_flight
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            BulkSlot(Some(shared.clone()))
        } else {
            BulkSlot(None)
        }
    }
}

impl Drop for BulkSlot {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared
                .bulk_in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn tag(queue: &Arc<dyn JobQueue>, deliveries: Vec<Delivery>) -> Vec<(Arc<dyn JobQueue>, Delivery)> {
    deliveries.into_iter().map(|d| (queue.clone(), d)).collect()
}

/// Drives one delivery to an ack, a release, or (lease lost) nothing. `queue` is the queue the
/// delivery came from: its receipt is only valid there. `asked` is when the receive that got it
/// was sent.
async fn handle(
    shared: &Shared,
    queue: &Arc<dyn JobQueue>,
    delivery: Delivery,
    asked: OffsetDateTime,
) {
    let ports = &shared.ports;
    let id = delivery.message.job_id;
    let holder = format!(
        "{}/{}",
        shared.config.worker_id,
        uuid::Uuid::now_v7().simple()
    );
    let lease = Lease {
        holder: holder.clone(),
        expires_at: lease_end(asked, shared.config.lease),
    };
    let retry = shared.config.retry;
    let job = match retry
        .retry("claim", || ports.store.claim(&id, &lease))
        .await
    {
        Ok(ClaimOutcome::Claimed(job)) => job,
        Ok(ClaimOutcome::Terminal(status)) => {
            tracing::debug!(job_id = %id, status = status.as_str(), "duplicate delivery of a finished job");
            ack(shared, queue, &delivery).await;
            // A job cancelled while queued, or one whose end was written by a worker that died
            // (or lost the write's reply) before acking and sending its webhook: this message is
            // the one sight of that end. A webhook already recorded is not sent again.
            shared.webhooks.job_ended(&delivery.message.tenant, id);
            return;
        }
        Ok(ClaimOutcome::Missing) => {
            tracing::warn!(job_id = %id, "message for a job with no record; dropping it");
            ack(shared, queue, &delivery).await;
            return;
        }
        Ok(ClaimOutcome::Busy(until)) => {
            let wait =
                (until - OffsetDateTime::now_utc()).unsigned_abs() + Duration::from_millis(100);
            release(shared, queue, &delivery, wait).await;
            return;
        }
        Err(e) => {
            tracing::warn!(job_id = %id, error = %e, "claim failed");
            release(shared, queue, &delivery, backoff(shared, &delivery)).await;
            return;
        }
    };
    tracing::info!(job_id = %id, attempt = job.attempts, receive_count = delivery.receive_count, "job claimed");

    let cancel = CancelToken::new();
    let _registered = ports.in_flight.register(id, cancel.clone());
    // Aborted when this function returns or unwinds, never detached: a heartbeat that outlived
    // its job would keep the lease and the message hidden forever. It keeps the lease through
    // the write of the outcome (which may be retried).
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        ports.store.clone(),
        queue.clone(),
        delivery.clone(),
        holder.clone(),
        shared.config.lease,
        cancel.clone(),
    )));
    let mut hard_stop = shared.hard_stop.clone();
    let time_limit = async {
        match shared.config.job_timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = shared.analyzer.analyze(&job, &cancel) => r,
        _ = hard_stop.wait_for(|s| *s) => { cancel.cancel(); Err(Failure::Abandoned) }
        _ = time_limit => {
            cancel.cancel();
            Err(Failure::Transient(format!(
                "the attempt ran past the job time limit ({:?})",
                shared.config.job_timeout.unwrap_or_default()
            )))
        }
    };

    match outcome {
        Ok(result) => match retry
            .retry("complete", || ports.store.complete(&id, &holder, &result))
            .await
        {
            Ok(true) => {
                crate::telemetry::finished(&job, "succeeded", None);
                tracing::info!(job_id = %id, "job succeeded");
                ack(shared, queue, &delivery).await;
                job_ended(shared, &job);
            }
            Ok(false) => {
                tracing::warn!(job_id = %id, "result refused: lease lost or job cancelled")
            }
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not store result; will retry");
                requeue_and_release(shared, queue, &delivery, &holder).await;
            }
        },
        Err(Failure::Permanent(error)) => {
            let failed = retry
                .retry("fail", || ports.store.fail(&id, Some(&holder), &error))
                .await;
            match failed {
                Ok(true) => {
                    crate::telemetry::finished(&job, "failed", Some(&error.code));
                    tracing::info!(job_id = %id, code = %error.code, "job failed");
                    ack(shared, queue, &delivery).await;
                    job_ended(shared, &job);
                }
                Ok(false) => {
                    tracing::warn!(job_id = %id, "failure refused: lease lost or job cancelled")
                }
                Err(e) => {
                    tracing::warn!(job_id = %id, error = %e, "could not store failure; will retry");
                    requeue_and_release(shared, queue, &delivery, &holder).await;
                }
            }
        }
        Err(Failure::Transient(reason)) => {
            crate::telemetry::retried();
            tracing::warn!(job_id = %id, %reason, "transient failure; releasing for redelivery");
            requeue_and_release(shared, queue, &delivery, &holder).await;
        }
        Err(Failure::Abandoned) => abandoned(shared, queue, &delivery, &holder, &job).await,
    }
}

/// Where a new lease ends: `lease` after the receive was sent (so no later than the message's
/// invisibility, which started when the queue answered), but at least half of `lease` from now
/// (a long poll answers when a message arrives, which may be late in its wait), so the heartbeat
/// (every third of `lease`) renews it before it lapses.
fn lease_end(asked: OffsetDateTime, lease: Duration) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    (asked + lease).max(now + lease / 2)
}

/// Starts the webhook of a job that just ended, after its message was acked (off the result
/// path: the delivery runs on its own task).
fn job_ended(shared: &Shared, job: &Job) {
    if job.options.callback_url.is_some() {
        shared.webhooks.job_ended(&job.tenant, job.id);
    }
}

/// After abandoned work: if we still hold the job (draining), hand it back at once; if the job
/// ended (cancelled), the message is done; if someone else holds it, leave the message to them.
async fn abandoned(
    shared: &Shared,
    queue: &Arc<dyn JobQueue>,
    delivery: &Delivery,
    holder: &str,
    job: &Job,
) {
    let id = delivery.message.job_id;
    let requeued = (shared.config.retry)
        .retry("requeue", || shared.ports.store.requeue(&id, holder))
        .await;
    if let Ok(true) = requeued {
        release(shared, queue, delivery, Duration::ZERO).await;
        return;
    }
    match shared.ports.store.get(&delivery.message.tenant, &id).await {
        Ok(Some(current)) if current.status.is_terminal() => {
            ack(shared, queue, delivery).await;
            if current.status == Status::Cancelled {
                job_ended(shared, job);
            }
        }
        _ => tracing::info!(job_id = %id, "abandoned work left to the current lease holder"),
    }
}

async fn requeue_and_release(
    shared: &Shared,
    queue: &Arc<dyn JobQueue>,
    delivery: &Delivery,
    holder: &str,
) {
    let id = delivery.message.job_id;
    let requeued = (shared.config.retry)
        .retry("requeue", || shared.ports.store.requeue(&id, holder))
        .await;
    if let Err(e) = requeued {
        tracing::warn!(job_id = %id, error = %e, "requeue failed; the lease will lapse");
    }
    release(shared, queue, delivery, backoff(shared, delivery)).await;
}

/// The redelivery delay after a transient failure: one backoff step per delivery so far.
fn backoff(shared: &Shared, delivery: &Delivery) -> Duration {
    (shared.config.retry).delay(delivery.receive_count.saturating_sub(1))
}

/// Aborts a task when dropped (the heartbeat, whichever way the job's handling ends).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn ack(shared: &Shared, queue: &Arc<dyn JobQueue>, delivery: &Delivery) {
    let acked = (shared.config.retry)
        .retry("ack", || queue.ack(&delivery.receipt))
        .await;
    if let Err(e) = acked {
        tracing::warn!(job_id = %delivery.message.job_id, error = %e, "ack failed; the message will be redelivered and found finished");
    }
}

async fn release(shared: &Shared, queue: &Arc<dyn JobQueue>, delivery: &Delivery, delay: Duration) {
    let released = (shared.config.retry)
        .retry("release", || queue.release(&delivery.receipt, delay))
        .await;
    if let Err(e) = released {
        tracing::warn!(job_id = %delivery.message.job_id, error = %e, "release failed; the message returns after its visibility timeout");
    }
}

/// Renews the lease and the message's invisibility every third of the lease. Stops the work
/// (cancels its token) when the store says the lease is gone: job cancelled or taken over.
async fn heartbeat(
    store: Arc<dyn JobStore>,
    queue: Arc<dyn JobQueue>,
    delivery: Delivery,
    holder: String,
    lease: Duration,
    cancel: CancelToken,
) {
    let id = delivery.message.job_id;
    let mut tick = tokio::time::interval(lease / 3);
    tick.tick().await;
    loop {
        tick.tick().await;
        match store
            .renew(&id, &holder, OffsetDateTime::now_utc() + lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(job_id = %id, "lease gone (cancelled or taken over); abandoning work");
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(job_id = %id, error = %e, "lease renewal failed"),
        }
        if let Err(e) = queue.extend(&delivery.receipt, lease).await {
            tracing::warn!(job_id = %id, error = %e, "visibility extension failed");
        }
    }
}
