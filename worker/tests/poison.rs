//! A poison message: a job whose result can never be stored (the store keeps refusing it, as a
//! throttled or failing backend would) is redelivered with backoff, reaches the dead-letter queue
//! after exactly `max_receives` receives, and ends `failed` with `dead_lettered`, while the other
//! jobs received alongside it succeed. Runs the real worker on the embedded backends and models.

use bytes::Bytes;
use soyl_jobs::embedded::{MediaDir, QueueConfig, SqliteDb, SqliteJobStore, SqliteQueue};
use soyl_jobs::faults::{Faults, Faulty};
use soyl_jobs::{
    Input, InputKind, Job, JobOptions, JobQueue, JobStore, MediaKey, MediaStore, QueueMessage,
    Status, Tenant,
};
use soyl_models::runtime::RuntimeOptions;
use soyl_models::{DeviceChoice, Repository, Runtime};
use soyl_worker::webhook::WebhookConfig;
use soyl_worker::{PipelineConfig, Pipelines, WorkerConfig, WorkerPorts};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_job_is_dead_lettered_after_max_receives_and_its_neighbours_succeed() {
    const MAX_RECEIVES: u32 = 3;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("db");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(2),
        max_receives: MAX_RECEIVES,
    };
    let queue = SqliteQueue::open(&db, "jobs", config).expect("queue");
    let dlq: Arc<dyn JobQueue> = Arc::new(queue.dead_letter_queue());
    let queue: Arc<dyn JobQueue> = Arc::new(queue);
    let inner = SqliteJobStore::open(&db).expect("store");
    let media: Arc<dyn MediaStore> =
        Arc::new(MediaDir::open(dir.path().join("media")).expect("media"));
    let photo =
        Bytes::from(std::fs::read(root().join("../shared/media/faces/happy.jpg")).expect("photo"));

    let tenant = Tenant::default_tenant();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let mut job = Job::new(tenant.clone(), Vec::new(), JobOptions::default());
        let key = MediaKey::for_input(tenant.as_str(), &job.id, 0);
        media.put(&key, photo.clone(), None).await.expect("put");
        job.inputs.push(Input {
            kind: InputKind::Image,
            media_key: Some(key),
            text: None,
            filename: None,
            size: photo.len() as u64,
        });
        inner.create(&job).await.expect("create");
        queue
            .send(&QueueMessage {
                job_id: job.id,
                tenant: tenant.clone(),
                priority: job.options.priority,
            })
            .await
            .expect("send");
        ids.push(job.id);
    }
    let poisoned = ids[1];
    // The store keeps refusing this one job's result, as a throttled or failing backend would.
    let faults = Arc::new(Faults::default());
    faults.always("store.complete", Some(poisoned.to_string()));
    let store: Arc<dyn JobStore> = Arc::new(Faulty::new(Arc::new(inner.clone()), faults));

    let runtime = Runtime::init(RuntimeOptions {
        device: DeviceChoice::Cpu,
        intra_threads: 0,
        spinning: false,
        preprocess_threads: 0,
        replicas: 0,
        cuda_graph: true,
    })
    .expect("onnxruntime");
    let repo = Repository::load(&root().join("models/repository")).expect("models");
    let pipelines =
        Arc::new(Pipelines::start(&runtime, &repo, &PipelineConfig::default()).expect("pipelines"));
    let ports = WorkerPorts {
        queue: queue.clone(),
        dead_letters: Some(dlq.clone()),
        bulk: None,
        store,
        media,
        in_flight: Default::default(),
    };
    let config = WorkerConfig {
        worker_id: "test".into(),
        pollers: 1,
        max_in_flight: 16,
        lease: Duration::from_secs(2),
        receive_wait: Duration::from_millis(200),
        max_media_bytes: 1 << 24,
        stop_timeout: Duration::from_secs(5),
        job_timeout: None,
        retry: soyl_worker::Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        },
        reconcile: None,
        fusion_weights: Default::default(),
        webhook: WebhookConfig::default(),
        queue_weights: Default::default(),
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(soyl_worker::run(ports, pipelines, config, shutdown));

    let deadline = Instant::now() + Duration::from_secs(60);
    let poisoned_job = loop {
        let job = inner
            .get(&tenant, &poisoned)
            .await
            .expect("get")
            .expect("job");
        if job.status.is_terminal() {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "poison job still {:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = stop.send(true);
    worker.await.expect("worker stops cleanly");

    assert_eq!(poisoned_job.status, Status::Failed);
    assert_eq!(
        poisoned_job.error.as_ref().map(|e| e.code.as_str()),
        Some("dead_lettered")
    );
    assert_eq!(
        poisoned_job.attempts, MAX_RECEIVES,
        "claimed once per delivery, exactly max_receives times"
    );
    for id in ids.iter().filter(|id| **id != poisoned) {
        let job = inner.get(&tenant, id).await.expect("get").expect("job");
        assert_eq!(job.status, Status::Succeeded, "{id}");
        assert_eq!(job.attempts, 1);
    }
    assert_eq!(
        queue.depth().await.expect("depth"),
        0,
        "nothing left in the queue"
    );
    assert_eq!(
        dlq.depth().await.expect("depth"),
        0,
        "the dead letter was handled and deleted"
    );
}
