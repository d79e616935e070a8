//! The storage ports of a process, for the backend its configuration names: the embedded
//! adapters (one SQLite file and a media directory under `--data-dir`) or the AWS adapters (SQS,
//! S3, DynamoDB, from the SDK's standard configuration chain; built in with the `aws` feature, see
//! [`crate::aws`]). Also `soyl init`, which creates the AWS resources and prints their names;
//! nothing else ever creates them.

use crate::aws::AwsClients;
use crate::config::{Backend, BackendArgs, InitArgs, ServeArgs};
use crate::intake::Intake;
use anyhow::Context;
use soyl_jobs::embedded::{
    MediaDir, QueueConfig, SqliteDb, SqliteJobStore, SqliteKeyStore, SqliteQueue,
};
use soyl_jobs::{JobQueue, JobStore, KeyStore, MediaStore};
use soyl_worker::BulkQueue;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The ports a process runs on.
#[derive(Clone)]
pub struct Ports {
    /// The job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Its dead-letter queue (`None`: not configured, nobody here watches it).
    pub dead_letters: Option<Arc<dyn JobQueue>>,
    /// Job records.
    pub store: Arc<dyn JobStore>,
    /// Media.
    pub media: Arc<dyn MediaStore>,
    /// The bulk queue and its dead letters (embedded: `jobs-bulk`; AWS: `--bulk-queue-url`,
    /// without which bulk jobs share the one queue).
    pub bulk: Option<BulkQueue>,
    /// API keys (embedded only; on AWS API Gateway holds the keys).
    pub keys: Option<Arc<dyn KeyStore>>,
    /// The AWS clients (AWS only), for the `s3://` bulk sources.
    pub aws: Option<AwsClients>,
}

impl Ports {
    /// Intake over these ports, `bulk` priority jobs to the bulk queue when there is one.
    pub fn intake(&self) -> Intake {
        Intake::new(self.queue.clone(), self.store.clone(), self.media.clone())
            .with_bulk_queue(self.bulk.as_ref().map(|b| b.queue.clone()))
    }
}

/// Builds the ports `args` name. Creates nothing on AWS.
pub async fn build(args: &ServeArgs) -> anyhow::Result<Ports> {
    let queues = QueueConfig {
        visibility_timeout: Duration::from_secs(args.worker.visibility_timeout_s),
        max_receives: args.worker.max_receives,
    };
    open(&args.backend, &args.data_dir, queues).await
}

/// The ports of `backend` (`data_dir` for the embedded one), for commands that only send and
/// read (`soyl reprocess`, `soyl export`): queue settings matter to receivers only.
pub async fn open(
    backend: &BackendArgs,
    data_dir: &Path,
    queues: QueueConfig,
) -> anyhow::Result<Ports> {
    match backend.backend {
        Backend::Embedded => open_embedded(data_dir, queues).await,
        Backend::Aws => crate::aws::open(backend, queues).await,
    }
}

/// The embedded ports under `data_dir` (created if missing).
pub async fn open_embedded(data_dir: &Path, queue_config: QueueConfig) -> anyhow::Result<Ports> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let db = SqliteDb::open(&data_dir.join("soyl.db"))?;
    let queue = SqliteQueue::open(&db, INTERACTIVE_QUEUE, queue_config)?;
    let bulk = SqliteQueue::open(&db, BULK_QUEUE, queue_config)?;
    Ok(Ports {
        dead_letters: Some(Arc::new(queue.dead_letter_queue())),
        queue: Arc::new(queue),
        bulk: Some(BulkQueue {
            dead_letters: Some(Arc::new(bulk.dead_letter_queue())),
            queue: Arc::new(bulk),
        }),
        keys: Some(Arc::new(SqliteKeyStore::open(&db).await?)),
        store: Arc::new(SqliteJobStore::open(&db)?),
        media: Arc::new(MediaDir::open(data_dir.join("media"))?),
        aws: None,
    })
}

/// The embedded queue of interactive jobs (its dead letters: `jobs-dlq`).
pub const INTERACTIVE_QUEUE: &str = "jobs";
/// The embedded queue of bulk jobs (its dead letters: `jobs-bulk-dlq`).
pub const BULK_QUEUE: &str = "jobs-bulk";

/// `soyl init`: creates the AWS resources and prints their names (see [`crate::aws::init`]); the
/// embedded backend has nothing to create.
pub async fn init(args: &InitArgs) -> anyhow::Result<()> {
    if args.backend == Backend::Embedded {
        println!("# nothing to create: the embedded backend creates its files when it starts");
        return Ok(());
    }
    crate::aws::init(args).await
}
