//! A worker reading two queues keeps what one of them handed over when the other's receive
//! fails: with the bulk queue refusing every receive, every interactive job still runs at once,
//! instead of waiting out its visibility timeout (and counting a receive towards the dead-letter
//! queue) because the round's other receive failed.

use soyl_jobs::embedded::{QueueConfig, SqliteDb, SqliteQueue};
use soyl_jobs::faults::{Faults, Faulty};
use soyl_jobs::{JobQueue, Status};
use soyl_tests::backends::{self, Backend};
use soyl_tests::worker::{self, Worker};
use soyl_worker::BulkQueue;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn interactive_jobs_run_while_the_bulk_queue_refuses_every_receive() {
    // A visibility timeout far longer than the test waits: a dropped message would not return.
    let visibility = Duration::from_secs(120);
    let ports = backends::ports(Backend::Embedded, visibility, 5)
        .await
        .expect("embedded ports");
    let dir = soyl_tests::temp_dir();
    let db = SqliteDb::open(&dir.path().join("bulk.db")).expect("open database");
    let config = QueueConfig {
        visibility_timeout: visibility,
        max_receives: 5,
    };
    let bulk: Arc<dyn JobQueue> =
        Arc::new(SqliteQueue::open(&db, "bulk", config).expect("open queue"));
    let bulk_down = Arc::new(Faults::default());
    bulk_down.always("queue.receive", None);
    let quiet = Arc::new(Faults::default());
    let mut worker_ports = worker::faulty_ports(&ports, &quiet, false);
    worker_ports.bulk = Some(BulkQueue {
        queue: Arc::new(Faulty::new(bulk, bulk_down.clone())),
        dead_letters: None,
    });
    let ids = worker::submit_photos(&ports, 6).await;
    let w = Worker::start(
        worker_ports,
        worker::config("two-queues", visibility, Duration::from_millis(20)),
    );
    for id in &ids {
        let job = worker::wait_terminal(ports.store.as_ref(), id, Duration::from_secs(60)).await;
        assert_eq!(job.status, Status::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 1, "ran on its first delivery: {job:?}");
    }
    w.stop().await;
    assert!(
        bulk_down.count("queue.receive", None, soyl_jobs::faults::Outcome::Injected) > 0,
        "the bulk queue was asked"
    );
}
