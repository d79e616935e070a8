//! AWS adapters: the three storage ports on SQS ([`SqsQueue`]), S3 ([`S3Media`]) and DynamoDB
//! ([`DynamoJobStore`], large records in S3), with the guarantees of the embedded adapters, pinned
//! by the same conformance suite (run against a local `moto_server` by the tests crate).
//!
//! Everything is built from one `aws_config::SdkConfig` (the standard chain: `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, profiles, credentials) by [`AwsClients::new`], then [`AwsPorts::new`] from
//! [`AwsSettings`]. The resources themselves are created only on request, by [`init`].

mod bucket;
mod dynamo;
pub mod init;
mod s3_media;
mod s3_objects;
mod sdk_error;
mod sqs;

pub use dynamo::{DynamoJobStore, OFFLOAD_BYTES};
pub use s3_media::S3Media;
pub use s3_objects::{ObjectPage, S3Object, S3Objects};
pub use sqs::SqsQueue;

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

/// Loads the SDK configuration from the standard chain (environment, profiles, instance roles).
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The standard chain's loader with soyl's HTTPS client ([`https_client`]); every SDK
/// configuration soyl (and its tests) builds starts here, since the SDK has no default client.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// The SDK's HTTPS client: hyper and rustls with ring, the crypto library reqwest already
/// brings, so the build carries one TLS stack (the SDK's default would add aws-lc).
pub fn https_client() -> aws_sdk_sqs::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// One client per service, sharing one SDK configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AwsClients {
    /// The clients of `sdk`; `s3_path_style` addresses buckets in the path rather than the host
    /// name (needed by local emulators such as moto).
    pub fn new(sdk: &SdkConfig, s3_path_style: bool) -> AwsClients {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(s3_path_style)
            .build();
        AwsClients {
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        }
    }
}

/// Where soyl's data lives on AWS.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// URL of the job queue.
    pub queue_url: String,
    /// URL of its dead-letter queue (`None`: this process does not watch it).
    pub dlq_url: Option<String>,
    /// URL of the bulk job queue (`None`: bulk jobs share the job queue).
    pub bulk_queue_url: Option<String>,
    /// URL of the bulk queue's dead-letter queue (`None`: this process does not watch it).
    pub bulk_dlq_url: Option<String>,
    /// Bucket for media and large records.
    pub bucket: String,
    /// Prefix of media keys in the bucket (e.g. `media/`; may be empty).
    pub media_prefix: String,
    /// Prefix of records too large for a DynamoDB item (e.g. `results/`).
    pub results_prefix: String,
    /// DynamoDB table of job records.
    pub table: String,
    /// How long job records are kept (the TTL, counted from creation).
    pub retention: Duration,
    /// Visibility timeout of received messages (`None`: the queue's default).
    pub visibility_timeout: Option<Duration>,
}

/// The ports on AWS.
#[derive(Debug, Clone)]
pub struct AwsPorts {
    /// The job queue.
    pub queue: SqsQueue,
    /// Its dead-letter queue, when configured.
    pub dead_letters: Option<SqsQueue>,
    /// The bulk job queue, when configured.
    pub bulk: Option<SqsQueue>,
    /// Its dead-letter queue, when configured.
    pub bulk_dead_letters: Option<SqsQueue>,
    /// Job records.
    pub store: DynamoJobStore,
    /// Media.
    pub media: S3Media,
}

impl AwsPorts {
    /// The ports named by `settings`, on `clients`. Touches no AWS API.
    pub fn new(clients: &AwsClients, settings: &AwsSettings) -> AwsPorts {
        let queue = |url: &String| {
            let queue = SqsQueue::new(clients.sqs.clone(), url);
            match settings.visibility_timeout {
                Some(timeout) => queue.with_visibility_timeout(timeout),
                None => queue,
            }
        };
        let dead_letters = |url: &String| SqsQueue::new(clients.sqs.clone(), url);
        AwsPorts {
            queue: queue(&settings.queue_url),
            dead_letters: settings.dlq_url.as_ref().map(dead_letters),
            bulk: settings.bulk_queue_url.as_ref().map(queue),
            bulk_dead_letters: settings.bulk_dlq_url.as_ref().map(dead_letters),
            store: DynamoJobStore::new(
                clients.dynamodb.clone(),
                &settings.table,
                clients.s3.clone(),
                &settings.bucket,
                &settings.results_prefix,
                settings.retention,
            ),
            media: S3Media::new(clients.s3.clone(), &settings.bucket, &settings.media_prefix),
        }
    }
}
