//! A job whose message keeps failing, on the AWS backend (moto): SQS delivers the message exactly
//! `max_receives` times, its redrive policy then moves it to the dead-letter queue, and the
//! worker's dead-letter watcher marks the job `failed` with code `dead_lettered` and deletes the
//! dead letter.

use soyl_jobs::{ClaimOutcome, Job, JobQueue, JobStore, Lease, QueueMessage, Status, Tenant};
use soyl_tests::moto::{self, Fixture};
use soyl_worker::webhook::{WebhookConfig, Webhooks};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_RECEIVES: u32 = 3;

#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_keeps_failing_is_dead_lettered_and_its_job_fails() {
    let Some(moto) = moto::shared() else { return };
    let aws = Fixture::new(moto, MAX_RECEIVES, Duration::from_secs(30)).await;
    let queue = aws.ports.queue.clone();
    let dlq = aws.ports.dead_letters.clone().expect("dead-letter queue");
    let store = aws.ports.store.clone();

    let job = Job::new(Tenant::default_tenant(), Vec::new(), Default::default());
    store.create(&job).await.expect("create");
    let message = QueueMessage {
        job_id: job.id,
        tenant: job.tenant.clone(),
        priority: job.options.priority,
    };
    queue.send(&message).await.expect("send");

    // Each delivery is claimed by a worker that then fails transiently: requeue and release.
    for expected in 1..=MAX_RECEIVES {
        let got = queue
            .receive(10, Duration::from_secs(5))
            .await
            .expect("receive");
        assert_eq!(got.len(), 1, "delivery {expected}");
        assert_eq!(got[0].receive_count, expected);
        let holder = format!("worker-{expected}");
        let lease = Lease {
            holder: holder.clone(),
            expires_at: time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
        };
        assert!(matches!(
            store.claim(&job.id, &lease).await.expect("claim"),
            ClaimOutcome::Claimed(_)
        ));
        assert!(store.requeue(&job.id, &holder).await.expect("requeue"));
        queue
            .release(&got[0].receipt, Duration::ZERO)
            .await
            .expect("release");
    }
    let more = queue
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive");
    assert!(
        more.is_empty(),
        "delivered {} more time(s) after max_receives",
        more.len()
    );
    assert_eq!(queue.depth().await.expect("depth"), 0);

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let jobs: Arc<dyn JobStore> = Arc::new(store.clone());
    // The job has no callback URL, so the webhook sender never sends anything here.
    let webhooks = Webhooks::new(WebhookConfig::default(), jobs.clone());
    let watcher = tokio::spawn(soyl_worker::dead_letters::watch(
        Arc::new(dlq.clone()) as Arc<dyn JobQueue>,
        jobs,
        webhooks,
        shutdown,
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let current = store
            .get(&job.tenant, &job.id)
            .await
            .expect("get")
            .expect("job");
        if current.status.is_terminal() {
            break current;
        }
        assert!(Instant::now() < deadline, "job still {:?}", current.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        failed.error.as_ref().map(|e| e.code.as_str()),
        Some("dead_lettered")
    );
    assert_eq!(failed.attempts, MAX_RECEIVES);
    // The watcher deletes the dead letter once the job is marked.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dlq.depth().await.expect("depth") != 0 {
        assert!(Instant::now() < deadline, "the dead letter was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    watcher.await.expect("watcher");
}
