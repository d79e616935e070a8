//! Model lanes: dynamic batching across jobs.
//!
//! A lane is one OS thread per replica, each owning a [`Batcher`] (and through it an ONNX Runtime
//! session, which needs `&mut` to run); the replicas take items from one shared channel into one
//! shared backlog, and each cuts its next batch from that backlog. Async
//! callers send items through that bounded channel and await a oneshot answer. A thread takes the
//! first waiting item, then keeps collecting until `max_batch` items or `max_delay` after the
//! oldest one, runs one batch, and answers every item with its output and the size of the batch
//! it ran in. With `max_delay` 0 (the face models' CPU default) a batch is whatever waited while the replica
//! was busy: no item waits for company while a session is idle. Interactive items are taken before bulk ones; items whose job
//! was cancelled (or whose caller went away) are skipped, never run.
//!
//! The backlog is shared so that work is never held by a busy replica while another is idle: a
//! replica that leaves items behind after its cut wakes an idle one. (With one backlog per
//! replica, a burst larger than `max_batch` ran serially on the replica that took it.)
//!
//! A lane may also have a cost budget per batch (`max_batch_cost`, e.g. tokens for text, with the
//! cost of an item given by [`Batcher::cost`]) and may order waiting items by cost to cut padding;
//! `lane/backlog.rs` decides what goes into each batch.

mod backlog;

use crate::ModelError;
use backlog::{Backlog, Cut, Waiting};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The synchronous side of a lane: turns a batch of items into a batch of outputs.
pub trait Batcher: Send + 'static {
    /// One unit of work (e.g. a preprocessed image tensor).
    type Item: Send + 'static;
    /// Its answer.
    type Output: Send + 'static;
    /// Runs one batch; must return exactly one output per item, in order.
    fn run(&mut self, items: &[Self::Item]) -> Result<Vec<Self::Output>, ModelError>;

    /// Called once on the lane's own thread before it takes any work, e.g. for warm-up runs:
    /// ONNX Runtime keeps some CUDA state per thread (cuDNN handles, captured CUDA graphs), so
    /// the thread that serves must be the one that warms up. An error keeps the lane from starting.
    fn prepare(&mut self) -> Result<(), ModelError> {
        Ok(())
    }

    /// What one item counts against the lane's `max_batch_cost` (its length, for padded models).
    /// Called on the caller's task when the item is submitted, so it must be cheap.
    fn cost(_item: &Self::Item) -> u64 {
        1
    }
}

/// Batching settings of one lane.
#[derive(Debug, Clone)]
pub struct LaneConfig {
    /// Lane (model) name, for logs, metrics and errors.
    pub name: String,
    /// Most items per run.
    pub max_batch: usize,
    /// Longest wait after the oldest waiting item before running a partial batch.
    pub max_delay: Duration,
    /// Items that may wait in the channel before callers are told `Overloaded`.
    pub capacity: usize,
    /// Most cost per run, counted with padding: items x the largest item's [`Batcher::cost`]
    /// (`max_batch_tokens` for text). `None`: only `max_batch` limits a run.
    pub max_batch_cost: Option<u64>,
    /// Order waiting items by cost before cutting a batch, so similar lengths run together
    /// (less padding). The oldest waiting item is always in the next batch, so none starves.
    pub sort_by_cost: bool,
}

/// Marks work as abandoned (job cancelled, lease lost); lanes skip such items. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A live token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Abandons all work carrying this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }
    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// An output and the size of the batch that produced it.
#[derive(Debug, Clone)]
pub struct Batched<T> {
    /// The output.
    pub output: T,
    /// How many items ran in the same session call.
    pub batch_size: usize,
}

/// Counters of one lane, readable at any time.
#[derive(Debug, Default)]
pub struct LaneStats {
    /// Session runs so far.
    pub runs: AtomicU64,
    /// Items answered so far.
    pub items: AtomicU64,
    /// Items skipped because they were abandoned.
    pub skipped: AtomicU64,
}

struct Request<B: Batcher> {
    item: B::Item,
    cost: u64,
    interactive: bool,
    cancel: CancelToken,
    reply: oneshot::Sender<Result<Batched<B::Output>, Arc<ModelError>>>,
    enqueued: Instant,
}

/// What a caller awaits for one item.
type Answer<O> = oneshot::Receiver<Result<Batched<O>, Arc<ModelError>>>;

impl<B: Batcher> Request<B> {
    /// A request for `item` and the receiver of its answer.
    fn new(item: B::Item, interactive: bool, cancel: &CancelToken) -> (Self, Answer<B::Output>) {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            cost: B::cost(&item),
            item,
            interactive,
            cancel: cancel.clone(),
            reply,
            enqueued: Instant::now(),
        };
        (request, answer)
    }

    fn abandoned(&self) -> bool {
        self.cancel.is_cancelled() || self.reply.is_closed()
    }
}

impl<B: Batcher> Waiting for Request<B> {
    fn cost(&self) -> u64 {
        self.cost
    }
    fn enqueued(&self) -> Instant {
        self.enqueued
    }
}

/// Async handle on a lane thread. Cloning shares the lane; the thread ends when the last handle
/// is dropped, after answering what it holds.
pub struct Lane<B: Batcher> {
    tx: flume::Sender<Message<B>>,
    config: Arc<LaneConfig>,
    stats: Arc<LaneStats>,
}

impl<B: Batcher> Clone for Lane<B> {
    fn clone(&self) -> Self {
        Lane {
            tx: self.tx.clone(),
            config: self.config.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<B: Batcher> Lane<B> {
    /// Starts the lane thread around `batcher`.
    pub fn spawn(batcher: B, config: LaneConfig) -> Result<Lane<B>, ModelError> {
        Self::spawn_replicas(vec![batcher], config)
    }

    /// Starts one lane thread per batcher, all serving the same channel, and returns once every
    /// thread has run [`Batcher::prepare`] (or with the first error).
    pub fn spawn_replicas(batchers: Vec<B>, config: LaneConfig) -> Result<Lane<B>, ModelError> {
        let (tx, rx) = flume::bounded(config.capacity.max(1));
        let config = Arc::new(config);
        let stats = Arc::new(LaneStats::default());
        let stopped = |why: String| ModelError::LaneStopped {
            lane: format!("{} ({why})", config.name),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let threads = batchers.len();
        let shared = Arc::new(Shared {
            backlog: Mutex::new(Backlog::default()),
            wake: tx.downgrade(),
        });
        for (i, batcher) in batchers.into_iter().enumerate() {
            let worker = LaneThread {
                batcher,
                rx: rx.clone(),
                config: config.clone(),
                stats: stats.clone(),
                shared: shared.clone(),
            };
            let ready = ready_tx.clone();
            std::thread::Builder::new()
                .name(format!("lane-{}-{i}", config.name))
                .spawn(move || worker.run(ready))
                .map_err(|e| stopped(format!("thread spawn failed: {e}")))?;
        }
        drop(ready_tx);
        for _ in 0..threads {
            ready_rx
                .recv()
                .map_err(|_| stopped("thread ended while preparing".to_owned()))??;
        }
        Ok(Lane { tx, config, stats })
    }

    /// Runs `item` in the next batch and returns its output. Fails with `Overloaded` when the lane's
    /// channel is full, so callers can back off instead of piling up memory.
    pub async fn infer(
        &self,
        item: B::Item,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<Batched<B::Output>, Arc<ModelError>> {
        let (request, answer) = Request::new(item, interactive, cancel);
        self.tx.try_send(Message::Work(request)).map_err(|e| {
            Arc::new(match e {
                flume::TrySendError::Full(_) => ModelError::Overloaded {
                    lane: self.config.name.clone(),
                },
                flume::TrySendError::Disconnected(_) => self.stopped(),
            })
        })?;
        let answered = self.answer(answer).await;
        // The lane drops a cancelled caller's items without answering them: that is the
        // caller's own cancellation, not a stopped lane (which a worker would retry).
        if answered.is_err() && cancel.is_cancelled() {
            return Err(Arc::new(ModelError::Abandoned));
        }
        answered
    }

    /// Runs every item of one caller (a photo's faces, a document's chunks) and answers in input
    /// order, or with the first item's error. The items go in waves of at most half the channel's
    /// capacity, so one caller cannot fill the channel by itself; each wave is sent as one burst
    /// (`join_all` polls every send once before awaiting any), so it is batched as a whole. A
    /// wave waits for room in the channel instead of failing `Overloaded`: these items belong to
    /// work already admitted, whose earlier stages (decoding, detection) a retry would redo.
    /// After a wave in which `cancel` fired, stops with `Abandoned`.
    pub async fn infer_all(
        &self,
        items: impl IntoIterator<Item = B::Item>,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<Vec<Batched<B::Output>>, ModelError> {
        let wave = (self.config.capacity / 2).max(1);
        let mut items = items.into_iter().peekable();
        let mut outputs = Vec::new();
        while items.peek().is_some() {
            let answers = futures::future::join_all(items.by_ref().take(wave).map(|item| {
                let (request, answer) = Request::new(item, interactive, cancel);
                async move {
                    self.tx
                        .send_async(Message::Work(request))
                        .await
                        .map_err(|_| Arc::new(self.stopped()))?;
                    self.answer(answer).await
                }
            }))
            .await;
            if cancel.is_cancelled() {
                return Err(ModelError::Abandoned);
            }
            for answer in answers {
                outputs.push(answer.map_err(crate::blocking::unshare)?);
            }
        }
        Ok(outputs)
    }

    async fn answer(
        &self,
        answer: Answer<B::Output>,
    ) -> Result<Batched<B::Output>, Arc<ModelError>> {
        answer.await.map_err(|_| Arc::new(self.stopped()))?
    }

    fn stopped(&self) -> ModelError {
        ModelError::LaneStopped {
            lane: self.config.name.clone(),
        }
    }

    /// The lane's settings.
    pub fn config(&self) -> &LaneConfig {
        &self.config
    }

    /// The lane's counters.
    pub fn stats(&self) -> &LaneStats {
        &self.stats
    }
}

/// What a lane's channel carries.
enum Message<B: Batcher> {
    /// An item to run.
    Work(Request<B>),
    /// A replica's cut left items in the shared backlog: an idle replica should look (a hint;
    /// a stale one is harmless).
    Leftovers,
}

/// What a lane's replicas share besides the channel.
struct Shared<B: Batcher> {
    /// Items taken from the channel and not yet cut into a batch.
    backlog: Mutex<Backlog<Request<B>>>,
    /// The channel, for [`Message::Leftovers`]; weak, so that the lane's threads never keep it
    /// open after every handle is dropped.
    wake: flume::WeakSender<Message<B>>,
}

struct LaneThread<B: Batcher> {
    batcher: B,
    rx: flume::Receiver<Message<B>>,
    config: Arc<LaneConfig>,
    stats: Arc<LaneStats>,
    shared: Arc<Shared<B>>,
}

impl<B: Batcher> LaneThread<B> {
    fn backlog(&self) -> MutexGuard<'_, Backlog<Request<B>>> {
        self.shared
            .backlog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, r: Request<B>) {
        let interactive = r.interactive;
        self.backlog().push(r, interactive);
    }

    /// Moves whatever waits in the channel into the backlog, so priorities see all of it.
    fn drain(&self, backlog: &mut Backlog<Request<B>>) {
        while let Ok(message) = self.rx.try_recv() {
            if let Message::Work(r) = message {
                let interactive = r.interactive;
                backlog.push(r, interactive);
            }
        }
    }

    /// Waits while the backlog is empty: for an item on the channel, or for another replica's
    /// leftovers. False once the channel has closed and nothing is left.
    fn wait_for_work(&self) -> bool {
        if self.backlog().len() > 0 {
            return true;
        }
        match self.rx.recv() {
            Ok(Message::Work(r)) => {
                self.push(r);
                true
            }
            Ok(Message::Leftovers) => true,
            // Every handle dropped and the channel empty: stop once no backlog is left.
            Err(_) => self.backlog().len() > 0,
        }
    }

    /// Cuts the next batch from the backlog once it fills one or its oldest item has waited
    /// `max_delay`; None when other replicas took everything first.
    fn cut(&self, cut: Cut) -> Option<Vec<Request<B>>> {
        loop {
            let deadline = {
                let mut backlog = self.backlog();
                self.drain(&mut backlog);
                let oldest = backlog.oldest()?;
                if backlog.fills(cut) {
                    return Some(self.take(&mut backlog, cut));
                }
                oldest + self.config.max_delay
            };
            match self.rx.recv_deadline(deadline) {
                Ok(Message::Work(r)) => self.push(r),
                Ok(Message::Leftovers) => {}
                Err(_) => {
                    let mut backlog = self.backlog();
                    self.drain(&mut backlog);
                    return (backlog.len() > 0).then(|| self.take(&mut backlog, cut));
                }
            }
        }
    }

    /// Cuts a batch; if items remain, wakes an idle replica to take them (`Leftovers`).
    fn take(&self, backlog: &mut Backlog<Request<B>>, cut: Cut) -> Vec<Request<B>> {
        let batch = backlog.take(cut);
        if backlog.len() > 0 {
            // None: the lane is being dropped, and the running replicas finish the backlog.
            // Full: the channel itself wakes the idle replicas.
            if let Some(tx) = self.shared.wake.upgrade() {
                let _ = tx.try_send(Message::Leftovers);
            }
        }
        batch
    }

    fn run(mut self, ready: std::sync::mpsc::Sender<Result<(), ModelError>>) {
        let prepared = self.batcher.prepare();
        let failed = prepared.is_err();
        // The spawner may have given up on another thread's error: nothing to tell then.
        let _ = ready.send(prepared);
        if failed {
            return;
        }
        drop(ready);
        let max_batch = self.config.max_batch.max(1);
        let cut = Cut {
            max_batch,
            max_cost: self.config.max_batch_cost,
            sort_by_cost: self.config.sort_by_cost,
        };
        while self.wait_for_work() {
            let Some(mut batch) = self.cut(cut) else {
                continue;
            };
            let before = batch.len();
            batch.retain(|r| !r.abandoned());
            let skipped = before - batch.len();
            if skipped > 0 {
                self.stats
                    .skipped
                    .fetch_add(skipped as u64, Ordering::Relaxed);
            }
            if !batch.is_empty() {
                self.run_batch(batch);
            }
        }
    }

    fn run_batch(&mut self, batch: Vec<Request<B>>) {
        let size = batch.len();
        let started = Instant::now();
        let oldest_wait = batch
            .iter()
            .map(|r| started.duration_since(r.enqueued))
            .max()
            .unwrap_or_default();
        let (items, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|r| (r.item, r.reply)).unzip();
        let outcome = self.batcher.run(&items);
        let took = started.elapsed();
        crate::telemetry::lane_run(&self.config.name, size, took, oldest_wait);
        tracing::debug!(
            lane = %self.config.name,
            batch_size = size,
            seconds = took.as_secs_f64(),
            "lane batch"
        );
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        self.stats.items.fetch_add(size as u64, Ordering::Relaxed);
        match outcome {
            Ok(outputs) if outputs.len() == size => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(Batched {
                        output,
                        batch_size: size,
                    }));
                }
            }
            Ok(outputs) => {
                let err = Arc::new(ModelError::Ort {
                    model: self.config.name.clone(),
                    operation: "split batch output",
                    message: format!("{} outputs for {size} items", outputs.len()),
                });
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
            Err(e) => {
                let err = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
