//! The lane's contracts, with small batchers: [`Batcher::prepare`] runs on the thread that then
//! serves every batch, before any batch, and a failed prepare keeps the lane from starting; one
//! caller's burst and cancellation; replicas sharing work that arrives while one is busy; and
//! every replica ending when the lane is dropped.

use super::*;
use std::thread::ThreadId;

/// Doubles each item; remembers which thread prepared it and fails to prepare when told to.
struct Doubler {
    prepared_on: Option<ThreadId>,
    fail_prepare: bool,
}

impl Batcher for Doubler {
    type Item = u32;
    type Output = (u32, bool);

    fn prepare(&mut self) -> Result<(), ModelError> {
        if self.fail_prepare {
            return Err(ModelError::ort("doubler", "warm up", "no device"));
        }
        self.prepared_on = Some(std::thread::current().id());
        Ok(())
    }

    fn run(&mut self, items: &[u32]) -> Result<Vec<(u32, bool)>, ModelError> {
        let same_thread = self.prepared_on == Some(std::thread::current().id());
        Ok(items.iter().map(|i| (i * 2, same_thread)).collect())
    }
}

fn config() -> LaneConfig {
    LaneConfig {
        name: "doubler".to_owned(),
        max_batch: 4,
        max_delay: Duration::ZERO,
        capacity: 16,
        max_batch_cost: None,
        sort_by_cost: false,
    }
}

fn doubler(fail_prepare: bool) -> Doubler {
    Doubler {
        prepared_on: None,
        fail_prepare,
    }
}

#[tokio::test]
async fn batches_run_on_the_thread_that_prepared_them() {
    let lane = Lane::spawn_replicas(vec![doubler(false), doubler(false)], config()).unwrap();
    let cancel = CancelToken::new();
    for i in 0..8 {
        let answer = lane.infer(i, true, &cancel).await.unwrap();
        assert_eq!(answer.output, (i * 2, true), "item {i}");
    }
}

#[test]
fn a_failed_prepare_keeps_the_lane_from_starting() {
    let err = Lane::spawn_replicas(vec![doubler(false), doubler(true)], config())
        .err()
        .expect("a replica failed to prepare");
    let message = err.to_string();
    assert!(message.contains("doubler"), "{message}");
    assert!(message.contains("no device"), "{message}");
}

/// Doubles each item, one at a time, slowly enough that a burst outruns the lane.
struct SlowDoubler;

impl Batcher for SlowDoubler {
    type Item = u32;
    type Output = u32;

    fn run(&mut self, items: &[u32]) -> Result<Vec<u32>, ModelError> {
        std::thread::sleep(Duration::from_millis(1));
        Ok(items.iter().map(|i| i * 2).collect())
    }
}

fn narrow() -> LaneConfig {
    LaneConfig {
        max_batch: 1,
        capacity: 2,
        ..config()
    }
}

#[tokio::test]
async fn one_caller_with_more_items_than_the_channel_holds_gets_every_answer_in_order() {
    let lane = Lane::spawn_replicas(vec![SlowDoubler], narrow()).unwrap();
    let answers = lane
        .infer_all(0..40, true, &CancelToken::new())
        .await
        .expect("every item runs");
    let outputs: Vec<u32> = answers.iter().map(|a| a.output).collect();
    assert_eq!(outputs, (0..40).map(|i| i * 2).collect::<Vec<_>>());
    assert!(answers.iter().all(|a| a.batch_size == 1));
}

#[tokio::test]
async fn the_same_burst_sent_item_by_item_overflows_the_channel() {
    let lane = Lane::spawn_replicas(vec![SlowDoubler], narrow()).unwrap();
    let cancel = CancelToken::new();
    let answers = futures::future::join_all((0..40).map(|i| lane.infer(i, true, &cancel))).await;
    let overloaded = answers
        .iter()
        .filter(|a| matches!(a, Err(e) if matches!(**e, ModelError::Overloaded { .. })))
        .count();
    assert!(overloaded > 0, "40 items at once through a channel of 2");
}

#[tokio::test]
async fn a_cancelled_caller_stops_after_its_wave() {
    let lane = Lane::spawn_replicas(vec![SlowDoubler], narrow()).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = lane
        .infer_all(0..40, true, &cancel)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, ModelError::Abandoned), "{err}");
}

#[tokio::test]
async fn a_cancelled_callers_single_item_is_abandoned_not_a_stopped_lane() {
    let lane = Lane::spawn_replicas(vec![SlowDoubler], narrow()).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = lane.infer(1, true, &cancel).await.expect_err("cancelled");
    assert!(matches!(*err, ModelError::Abandoned), "{err}");
}

/// Answers each item with the thread that ran it, after `pause` per batch; counts its drops.
struct Recorder {
    pause: Duration,
    dropped: Arc<AtomicU64>,
}

impl Batcher for Recorder {
    type Item = u32;
    type Output = ThreadId;

    fn run(&mut self, items: &[u32]) -> Result<Vec<ThreadId>, ModelError> {
        std::thread::sleep(self.pause);
        Ok(items.iter().map(|_| std::thread::current().id()).collect())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn recorders(n: usize, pause: Duration) -> (Vec<Recorder>, Arc<AtomicU64>) {
    let dropped = Arc::new(AtomicU64::new(0));
    let replicas = (0..n)
        .map(|_| Recorder {
            pause,
            dropped: dropped.clone(),
        })
        .collect();
    (replicas, dropped)
}

/// Two recorders that run one item at a time, `pause` each.
fn two_single_item_replicas(pause: Duration) -> Lane<Recorder> {
    let (replicas, _) = recorders(2, pause);
    let one_per_run = LaneConfig {
        max_batch: 1,
        ..config()
    };
    Lane::spawn_replicas(replicas, one_per_run).unwrap()
}

/// The distinct threads among `threads`.
fn distinct(threads: impl Iterator<Item = ThreadId>) -> Vec<String> {
    let mut names: Vec<String> = threads.map(|t| format!("{t:?}")).collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn items_arriving_while_a_replica_runs_go_to_another() {
    let lane = two_single_item_replicas(Duration::from_millis(100));
    let cancel = CancelToken::new();
    let answers = futures::future::join_all((0..4u32).map(|i| {
        let (lane, cancel) = (&lane, &cancel);
        async move {
            tokio::time::sleep(Duration::from_millis(10 * u64::from(i))).await;
            lane.infer(i, true, cancel).await.unwrap().output
        }
    }))
    .await;
    let threads = distinct(answers.into_iter());
    assert_eq!(
        threads.len(),
        2,
        "items sent 10 ms apart into 100 ms runs ran on {threads:?}"
    );
}

#[tokio::test]
async fn dropping_the_lane_ends_every_replica() {
    let (replicas, dropped) = recorders(4, Duration::ZERO);
    let lane = Lane::spawn_replicas(replicas, config()).unwrap();
    lane.infer(1, true, &CancelToken::new()).await.unwrap();
    drop(lane);
    let deadline = Instant::now() + Duration::from_secs(5);
    while dropped.load(Ordering::SeqCst) < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 4, "replicas still running");
}

#[tokio::test]
async fn a_burst_larger_than_a_batch_runs_on_every_replica() {
    let lane = two_single_item_replicas(Duration::from_millis(20));
    // One caller's 8 items go into the channel at once (a wave is half its 16 places).
    let answers = lane
        .infer_all(0..8, true, &CancelToken::new())
        .await
        .expect("every item runs");
    let threads = distinct(answers.iter().map(|a| a.output));
    assert_eq!(
        threads.len(),
        2,
        "8 items waiting at once ran on {threads:?}"
    );
}
