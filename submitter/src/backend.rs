//! The storage ports of a process, for the backend its configuration names: the embedded
//! adapters (one SQLite file and a media directory under `--data-dir`) or the AWS adapters (SQS,
//! S3, DynamoDB, from the SDK's standard configuration chain). Also `soyl init`, which creates
//! the AWS resources and prints their names; nothing else ever creates them.

use crate::config::{Backend, BackendArgs, InitArgs, ServeArgs};
use crate::intake::Intake;
use anyhow::Context;
use soyl_jobs::aws::{self, AwsClients, AwsPorts, AwsSettings};
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
        Backend::Aws => on_aws(backend, queues).await,
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

async fn on_aws(b: &BackendArgs, queues: QueueConfig) -> anyhow::Result<Ports> {
    let required = |value: &Option<String>, flag: &str| {
        value
            .clone()
            .with_context(|| format!("{flag} is required with --backend aws"))
    };
    let settings = AwsSettings {
        queue_url: required(&b.queue_url, "--queue-url (SOYL_QUEUE_URL)")?,
        dlq_url: b.dlq_url.clone(),
        bulk_queue_url: b.bulk_queue_url.clone(),
        bulk_dlq_url: b.bulk_dlq_url.clone(),
        bucket: required(&b.bucket, "--bucket (SOYL_BUCKET)")?,
        media_prefix: b.media_prefix.clone(),
        results_prefix: b.results_prefix.clone(),
        table: b.table.clone(),
        retention: Duration::from_secs(b.retention_days.saturating_mul(24 * 60 * 60)),
        visibility_timeout: Some(queues.visibility_timeout.max(Duration::from_secs(1))),
    };
    let sdk = aws::load_sdk_config().await;
    let clients = AwsClients::new(&sdk, b.s3_path_style);
    let ports = AwsPorts::new(&clients, &settings);
    tracing::info!(
        queue = %settings.queue_url, dlq = ?settings.dlq_url, bulk_queue = ?settings.bulk_queue_url,
        bulk_dlq = ?settings.bulk_dlq_url, bucket = %settings.bucket, table = %settings.table,
        region = ?sdk.region(), "AWS backend"
    );
    if settings.bulk_queue_url.is_none() {
        tracing::warn!("no --bulk-queue-url (SOYL_BULK_QUEUE_URL): bulk jobs share the job queue");
    }
    let as_queue = |q: aws::SqsQueue| Arc::new(q) as Arc<dyn JobQueue>;
    Ok(Ports {
        queue: as_queue(ports.queue),
        dead_letters: ports.dead_letters.map(as_queue),
        store: Arc::new(ports.store),
        media: Arc::new(ports.media),
        bulk: ports.bulk.map(|queue| BulkQueue {
            queue: as_queue(queue),
            dead_letters: ports.bulk_dead_letters.map(as_queue),
        }),
        keys: None,
        aws: Some(clients),
    })
}

/// `soyl init`: creates the job queue and the bulk queue, each with its dead-letter queue, the bucket and the table (each left
/// alone if it exists), then prints the settings the other commands need as `SOYL_*=value` lines.
pub async fn init(args: &InitArgs) -> anyhow::Result<()> {
    if args.backend == Backend::Embedded {
        println!("# nothing to create: the embedded backend creates its files when it starts");
        return Ok(());
    }
    let sdk = aws::load_sdk_config().await;
    let clients = AwsClients::new(&sdk, args.s3_path_style);
    let visibility = Duration::from_secs(args.visibility_timeout_s);
    // The job queue and the bulk queue, each with its dead-letter queue and redrive policy.
    let create_queues =
        |name| aws::init::create_queues(&clients.sqs, name, args.max_receives, visibility);
    let urls = create_queues(&args.queue_name)
        .await
        .context("creating the queues")?;
    let bulk = create_queues(&args.bulk_queue_name)
        .await
        .context("creating the bulk queues")?;
    aws::init::create_bucket(&clients.s3, &args.bucket)
        .await
        .context("creating the bucket")?;
    aws::init::create_table(&clients.dynamodb, &args.table)
        .await
        .context("creating the table")?;
    println!("SOYL_BACKEND=aws");
    println!("SOYL_QUEUE_URL={}", urls.queue_url);
    println!("SOYL_DLQ_URL={}", urls.dlq_url);
    println!("SOYL_BULK_QUEUE_URL={}", bulk.queue_url);
    println!("SOYL_BULK_DLQ_URL={}", bulk.dlq_url);
    println!("SOYL_BUCKET={}", args.bucket);
    println!("SOYL_TABLE={}", args.table);
    Ok(())
}
