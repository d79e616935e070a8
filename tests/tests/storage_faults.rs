//! Store and queue faults: every storage call the worker makes (receive, ack, extend, release,
//! claim, renew, requeue, complete, fail, media reads) is refused as throttled one time in five
//! (fixed seed). The worker retries with exponential, jittered backoff (in place for store and
//! queue calls, by redelivery for a failed media read), and every job still succeeds with
//! exactly one terminal transition. The fault log shows the retries spaced out by the backoff.
//! On both backends.

use soyl_jobs::faults::{Call, Faults, Outcome};
use soyl_jobs::Status;
use soyl_tests::backends::{self, Backend};
use soyl_tests::worker::{self, Worker};
use std::sync::Arc;
use std::time::Duration;

const JOBS: usize = 8;
const RATE: f64 = 0.2;
const RETRY_BASE: Duration = Duration::from_millis(40);
const FAULTY: &[&str] = &[
    "queue.receive",
    "queue.ack",
    "queue.extend",
    "queue.release",
    "store.claim",
    "store.renew",
    "store.requeue",
    "store.complete",
    "store.fail",
    "media.get",
];

/// For each refused call, the time to the next call of the same operation on the same key (its
/// retry).
fn retry_gaps(calls: &[Call]) -> Vec<Duration> {
    let mut gaps = Vec::new();
    for (i, refused) in calls.iter().enumerate() {
        if refused.outcome != Outcome::Injected {
            continue;
        }
        let next = calls[i + 1..]
            .iter()
            .find(|c| c.op == refused.op && c.key == refused.key);
        if let Some(next) = next {
            gaps.push(next.at.duration_since(refused.at));
        }
    }
    gaps.sort();
    gaps
}

async fn every_job_succeeds_once_despite_throttling(backend: Backend) {
    let Some(ports) = backends::ports(backend, Duration::from_secs(3), 10).await else {
        return;
    };
    let faults = Arc::new(Faults::seeded(7));
    faults.random_transient(RATE, FAULTY);
    let w = Worker::start(
        worker::faulty_ports(&ports, &faults, false),
        worker::config("throttled", Duration::from_secs(3), RETRY_BASE),
    );
    let ids = worker::submit_photos(&ports, JOBS).await;
    for id in &ids {
        let job = worker::wait_terminal(ports.store.as_ref(), id, Duration::from_secs(90)).await;
        assert_eq!(job.status, Status::Succeeded, "{job:?}");
    }
    faults.heal();
    w.stop().await;
    for id in &ids {
        assert_eq!(worker::terminal_writes(&faults, id), 1, "job {id}");
    }
    let calls = faults.calls();
    let injected = calls
        .iter()
        .filter(|c| c.outcome == Outcome::Injected)
        .count();
    let gaps = retry_gaps(&calls);
    assert!(
        injected >= 5,
        "only {injected} faults injected: the test proved little"
    );
    assert!(gaps.len() >= 5, "only {} retries seen", gaps.len());
    // Jittered backoff waits at least half the first step before any retry.
    assert!(
        gaps[0] >= RETRY_BASE / 2,
        "a retry came {:?} after its refusal, under the backoff's floor",
        gaps[0]
    );
    let distinct: std::collections::BTreeSet<u128> = gaps.iter().map(|g| g.as_millis()).collect();
    assert!(distinct.len() > 1, "retries not jittered: {gaps:?}");
    println!(
        "{backend:?}: {} calls, {injected} refused; {} retries spaced {:?} min, {:?} median, {:?} max",
        calls.len(),
        gaps.len(),
        gaps[0],
        gaps[gaps.len() / 2],
        gaps[gaps.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_storage_still_finishes_every_job_once_embedded() {
    every_job_succeeds_once_despite_throttling(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_storage_still_finishes_every_job_once_aws() {
    every_job_succeeds_once_despite_throttling(Backend::Aws).await;
}
