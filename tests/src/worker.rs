//! In-process workers for the fault tests: the real consumer ([`soyl_worker::run`]) with the
//! reference models, over ports that tests wrap with fault injection
//! ([`soyl_jobs::faults::Faulty`]). Also submitting face jobs straight to the ports and waiting
//! for them, and counting what the store wrote.

use crate::backends::Ports;
use bytes::Bytes;
use soyl_jobs::faults::{Faults, Faulty, Outcome};
use soyl_jobs::{
    Input, InputKind, Job, JobId, JobOptions, JobStore, MediaKey, QueueMessage, Tenant,
};
use soyl_models::runtime::RuntimeOptions;
use soyl_models::{DeviceChoice, Repository, Runtime};
use soyl_worker::webhook::WebhookConfig;
use soyl_worker::{Backoff, PipelineConfig, Pipelines, WorkerConfig, WorkerPorts};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The reference model pipelines, started once per test binary and shared by its workers.
pub fn pipelines() -> Arc<Pipelines> {
    static PIPELINES: OnceLock<Arc<Pipelines>> = OnceLock::new();
    PIPELINES
        .get_or_init(|| {
            let runtime = Runtime::init(RuntimeOptions {
                device: DeviceChoice::Cpu,
                intra_threads: 0,
                spinning: false,
                preprocess_threads: 0,
                replicas: 0,
                cuda_graph: true,
            })
            .expect("onnxruntime");
            let repo = Repository::load(&crate::repo_root().join("models/repository"))
                .expect("model repository");
            Arc::new(
                Pipelines::start(&runtime, &repo, &PipelineConfig::default()).expect("pipelines"),
            )
        })
        .clone()
}

/// A worker configuration for tests: `lease` (and message invisibility), fast polls, retries
/// from `retry_base`.
pub fn config(worker_id: &str, lease: Duration, retry_base: Duration) -> WorkerConfig {
    WorkerConfig {
        worker_id: worker_id.to_owned(),
        pollers: 1,
        max_in_flight: 8,
        lease,
        receive_wait: Duration::from_millis(100),
        max_media_bytes: 1 << 24,
        stop_timeout: Duration::from_secs(5),
        job_timeout: None,
        retry: Backoff {
            base: retry_base,
            max: retry_base * 8,
        },
        reconcile: None,
        fusion_weights: Default::default(),
        webhook: WebhookConfig::default(),
        queue_weights: Default::default(),
    }
}

/// `ports` with every port under `faults`; no dead-letter watcher unless `watch_dead_letters`.
pub fn faulty_ports(ports: &Ports, faults: &Arc<Faults>, watch_dead_letters: bool) -> WorkerPorts {
    WorkerPorts {
        queue: Arc::new(Faulty::new(ports.queue.clone(), faults.clone())),
        dead_letters: watch_dead_letters.then(|| ports.dead_letters.clone()),
        bulk: None,
        store: Arc::new(Faulty::new(ports.store.clone(), faults.clone())),
        media: Arc::new(Faulty::new(ports.media.clone(), faults.clone())),
        in_flight: Default::default(),
    }
}

/// A worker running on the test's runtime.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the consumer on `ports`.
    pub fn start(ports: WorkerPorts, config: WorkerConfig) -> Worker {
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(soyl_worker::run(ports, pipelines(), config, shutdown));
        Worker { stop, task }
    }

    /// Drains it (as on SIGTERM) and waits until it stopped.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.expect("worker stops cleanly");
    }
}

/// Submits `n` jobs of one face photo straight to the ports (media, record, message, as intake
/// does); returns their ids.
pub async fn submit_photos(ports: &Ports, n: usize) -> Vec<JobId> {
    let photo = Bytes::from(crate::face_photo("happy.jpg"));
    let tenant = Tenant::default_tenant();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut job = Job::new(tenant.clone(), Vec::new(), JobOptions::default());
        let key = MediaKey::for_input(tenant.as_str(), &job.id, 0);
        ports
            .media
            .put(&key, photo.clone(), None)
            .await
            .expect("put media");
        job.inputs.push(Input {
            kind: InputKind::Image,
            media_key: Some(key),
            text: None,
            filename: None,
            size: photo.len() as u64,
        });
        ports.store.create(&job).await.expect("create job");
        ports.queue.send(&message(&job)).await.expect("send");
        ids.push(job.id);
    }
    ids
}

/// The queue message of `job`.
pub fn message(job: &Job) -> QueueMessage {
    QueueMessage {
        job_id: job.id,
        tenant: job.tenant.clone(),
        priority: job.options.priority,
    }
}

/// Polls until job `id` (default tenant) satisfies `done`; panics after `timeout`.
pub async fn wait_for(
    store: &dyn JobStore,
    id: &JobId,
    timeout: Duration,
    done: impl Fn(&Job) -> bool,
) -> Job {
    let deadline = Instant::now() + timeout;
    loop {
        let job = store
            .get(&Tenant::default_tenant(), id)
            .await
            .expect("get job")
            .expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {:?} after {timeout:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until job `id` ended.
pub async fn wait_terminal(store: &dyn JobStore, id: &JobId, timeout: Duration) -> Job {
    wait_for(store, id, timeout, |job| job.status.is_terminal()).await
}

/// Terminal transitions (`complete` or `fail` applied) the store made for job `id` under `faults`.
pub fn terminal_writes(faults: &Faults, id: &JobId) -> usize {
    let key = id.to_string();
    let applied = Outcome::Done { wrote: true };
    faults.count("store.complete", Some(&key), applied)
        + faults.count("store.fail", Some(&key), applied)
}

/// Writes of any kind (claim, renew, requeue, complete, fail) the store made for job `id`.
pub fn store_writes(faults: &Faults, id: &JobId) -> usize {
    let key = id.to_string();
    let applied = Outcome::Done { wrote: true };
    ["store.claim", "store.renew", "store.requeue"]
        .iter()
        .map(|op| faults.count(op, Some(&key), applied))
        .sum::<usize>()
        + terminal_writes(faults, id)
}

/// `media.get` calls that reached the media store for job `id`'s first input: no inference runs
/// without them.
pub fn media_reads(faults: &Faults, id: &JobId) -> usize {
    let key = MediaKey::for_input(Tenant::default_tenant().as_str(), id, 0).to_string();
    faults.count("media.get", Some(&key), Outcome::Done { wrote: false })
}
