//! The dead-letter watcher on the embedded backend: a dead letter of a queued job fails it
//! (`dead_lettered`), one of a finished job changes nothing, and one of a job `running` under a
//! live lease (a duplicate message that ran out of receives while the original's delivery works)
//! leaves the job alone until the lease lapses, and only then fails it.

use soyl_jobs::embedded::{QueueConfig, SqliteDb, SqliteJobStore, SqliteQueue};
use soyl_jobs::{
    ClaimOutcome, Job, JobId, JobOptions, JobQueue, JobStore, Lease, QueueMessage, Status, Tenant,
};
use soyl_worker::webhook::{WebhookConfig, Webhooks};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

async fn job_in(store: &SqliteJobStore, lease_s: Option<i64>, finish: bool) -> JobId {
    let job = Job::new(Tenant::default_tenant(), Vec::new(), JobOptions::default());
    store.create(&job).await.expect("create");
    if let Some(seconds) = lease_s {
        let lease = Lease {
            holder: format!("worker-{}", job.id),
            expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(seconds),
        };
        let claimed = store.claim(&job.id, &lease).await.expect("claim");
        assert!(matches!(claimed, ClaimOutcome::Claimed(_)), "{claimed:?}");
        if finish {
            let result = serde_json::json!({});
            let done = store.complete(&job.id, &lease.holder, &result).await;
            assert!(done.expect("complete"));
        }
    }
    job.id
}

async fn status(store: &SqliteJobStore, id: &JobId) -> (Status, Option<String>) {
    let job = store.get(&Tenant::default_tenant(), id).await.expect("get");
    let job = job.expect("job exists");
    (job.status, job.error.map(|e| e.code))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_waits_for_a_live_lease_and_fails_only_unfinished_jobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("db");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let queue = SqliteQueue::open(&db, "jobs", config).expect("queue");
    let dlq: Arc<dyn JobQueue> = Arc::new(queue.dead_letter_queue());
    let store = Arc::new(SqliteJobStore::open(&db).expect("store"));

    let queued = job_in(&store, None, false).await;
    let finished = job_in(&store, Some(60), true).await;
    let running = job_in(&store, Some(2), false).await;
    for id in [queued, finished, running] {
        let message = QueueMessage {
            job_id: id,
            tenant: Tenant::default_tenant(),
            priority: Default::default(),
        };
        dlq.send(&message).await.expect("dead letter");
    }
    let lease_lapses = Instant::now() + Duration::from_secs(2);

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let webhooks = Webhooks::new(WebhookConfig::default(), store.clone());
    let watcher = tokio::spawn(soyl_worker::dead_letters::watch(
        dlq.clone(),
        store.clone(),
        webhooks,
        shutdown,
    ));

    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&store, &queued).await.0 != Status::Failed {
        assert!(Instant::now() < deadline, "the queued job was never failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status(&store, &queued).await,
        (Status::Failed, Some("dead_lettered".into()))
    );
    assert_eq!(status(&store, &finished).await, (Status::Succeeded, None));
    assert_eq!(
        status(&store, &running).await.0,
        Status::Running,
        "failed while its lease was live"
    );

    while status(&store, &running).await.0 != Status::Failed {
        assert!(Instant::now() < deadline, "the lapsed job was never failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        Instant::now() >= lease_lapses,
        "failed before its lease lapsed"
    );
    assert_eq!(
        status(&store, &running).await,
        (Status::Failed, Some("dead_lettered".into()))
    );
    while dlq.depth().await.expect("depth") > 0 {
        assert!(Instant::now() < deadline, "dead letters left behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).expect("stop");
    watcher.await.expect("watcher");
}
