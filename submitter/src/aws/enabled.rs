//! The AWS backend, built with the `aws` feature: its ports over the SDK's clients, `soyl init`'s
//! resources, and the `s3://` bulk source.

use crate::backend::Ports;
use crate::bulk::{S3Prefix, Source};
use crate::config::{BackendArgs, InitArgs};
use anyhow::Context;
pub use soyl_jobs::aws::AwsClients;
use soyl_jobs::aws::{self, AwsPorts, AwsSettings};
use soyl_jobs::embedded::QueueConfig;
use soyl_jobs::JobQueue;
use soyl_worker::BulkQueue;
use std::sync::Arc;
use std::time::Duration;

/// Why an `s3://` source cannot be read on another backend.
pub const S3_SOURCES_NEED: &str = "s3:// sources need the AWS backend (--backend aws)";

/// The AWS ports `b` names (SQS, S3, DynamoDB, from the SDK's standard configuration chain).
/// Creates nothing.
pub async fn open(b: &BackendArgs, queues: QueueConfig) -> anyhow::Result<Ports> {
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

/// `soyl init --backend aws`: creates the job queue and the bulk queue, each with its dead-letter
/// queue, the bucket and the table (each left alone if it exists), then prints the settings the
/// other commands need as `SOYL_*=value` lines.
pub async fn init(args: &InitArgs) -> anyhow::Result<()> {
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

/// The objects under `prefix` in `bucket`, fetched with `clients`; fetches refuse objects over
/// `max_bytes`.
pub fn s3_source(
    clients: &AwsClients,
    bucket: &str,
    prefix: &str,
    max_bytes: u64,
) -> Arc<dyn Source> {
    Arc::new(S3Prefix::new(clients, bucket, prefix, max_bytes))
}
