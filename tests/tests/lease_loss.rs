//! Lease loss: a worker whose heartbeat stops (every lease renewal and visibility extension is
//! dropped) while its job runs longer than the lease (its media read is slow) loses the job: the
//! message comes back, a second worker takes the job over and finishes it, and the first worker's
//! late result is refused by the conditional write. One terminal transition, the second worker's.
//! On both backends.

use soyl_jobs::faults::{Faults, Outcome};
use soyl_jobs::Status;
use soyl_tests::backends::{self, Backend};
use soyl_tests::worker::{self, Worker};
use soyl_worker::WorkerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(1);

async fn a_late_result_after_takeover_is_refused(backend: Backend) {
    let Some(ports) = backends::ports(backend, LEASE, 5).await else {
        return;
    };
    let first = Arc::new(Faults::default());
    first
        .always("store.renew", None)
        .always("queue.extend", None)
        .delay("media.get", None, LEASE * 3);
    let retry = Duration::from_millis(50);
    // One slot: while its job hangs, the first worker takes no more work (nor its own job back).
    let a = Worker::start(
        worker::faulty_ports(&ports, &first, false),
        WorkerConfig {
            max_in_flight: 1,
            ..worker::config("first", LEASE, retry)
        },
    );
    let ids = worker::submit_photos(&ports, 1).await;
    let id = ids[0];
    let store = ports.store.as_ref();
    worker::wait_for(store, &id, Duration::from_secs(30), |job| {
        job.status == Status::Running
    })
    .await;

    let second = Arc::new(Faults::default());
    let b = Worker::start(
        worker::faulty_ports(&ports, &second, false),
        worker::config("second", LEASE, retry),
    );
    let job = worker::wait_terminal(store, &id, Duration::from_secs(30)).await;
    assert_eq!(job.status, Status::Succeeded, "{job:?}");
    assert_eq!(
        job.attempts, 2,
        "claimed by the first worker, then taken over"
    );
    assert!(job.result.is_some());

    // The first worker's media read returns late; its result must then be refused.
    let key = id.to_string();
    let refused = || first.count("store.complete", Some(&key), Outcome::Done { wrote: false });
    let deadline = Instant::now() + Duration::from_secs(30);
    while refused() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first worker never tried to complete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;
    assert_eq!(
        worker::terminal_writes(&first, &id),
        0,
        "the late result was written"
    );
    assert_eq!(
        worker::terminal_writes(&second, &id),
        1,
        "the second worker's result"
    );
    assert!(
        worker::media_reads(&second, &id) >= 1,
        "the second worker ran the job itself"
    );
    let after = worker::wait_terminal(store, &id, Duration::from_secs(1)).await;
    assert_eq!(
        after.finished_at, job.finished_at,
        "the record did not change again"
    );
    println!(
        "{backend:?}: lease {LEASE:?} lapsed; taken over; first worker's result refused {} time(s)",
        refused()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_after_lease_loss_is_refused_embedded() {
    a_late_result_after_takeover_is_refused(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_after_lease_loss_is_refused_aws() {
    a_late_result_after_takeover_is_refused(Backend::Aws).await;
}
