//! The job time limit: an attempt that hangs (here its media read stalls far longer than the
//! limit) is abandoned once the limit passes and released as a transient failure, so the job is
//! redelivered and finished by its next attempt, instead of staying `running` while the
//! heartbeat renews its lease for as long as the read hangs.

use soyl_jobs::faults::Faults;
use soyl_jobs::Status;
use soyl_tests::backends::{self, Backend};
use soyl_tests::worker::{self, Worker};
use soyl_worker::WorkerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_attempt_is_abandoned_at_the_time_limit_and_the_job_redelivered() {
    let lease = Duration::from_secs(30);
    let ports = backends::ports(Backend::Embedded, lease, 5)
        .await
        .expect("embedded ports");
    let faults = Arc::new(Faults::default());
    let stall = Duration::from_secs(60);
    faults.delay("media.get", None, stall);
    let w = Worker::start(
        worker::faulty_ports(&ports, &faults, false),
        WorkerConfig {
            job_timeout: Some(Duration::from_millis(500)),
            ..worker::config("limited", lease, Duration::from_millis(50))
        },
    );
    let started = Instant::now();
    let id = worker::submit_photos(&ports, 1).await[0];
    let store = ports.store.as_ref();
    worker::wait_for(store, &id, Duration::from_secs(30), |job| {
        job.status == Status::Running
    })
    .await;
    // The next attempt reads its media at once.
    faults.heal();
    let job = worker::wait_terminal(store, &id, Duration::from_secs(30)).await;
    w.stop().await;
    assert_eq!(job.status, Status::Succeeded, "{job:?}");
    assert_eq!(job.attempts, 2, "the hung attempt was abandoned: {job:?}");
    assert!(
        started.elapsed() < stall / 2,
        "finished in {:?}, long before the stalled read would have returned",
        started.elapsed()
    );
}
