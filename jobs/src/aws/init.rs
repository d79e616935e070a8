//! Creating the AWS resources soyl runs on: the job queues (interactive and bulk), each with its
//! dead-letter queue and redrive policy, the media bucket, and the job table with its indexes and TTL. Run only by `soyl init
//! --backend aws` (for local emulators and first setup) and by tests, never implicitly; every
//! step is idempotent, so running it again against existing resources changes nothing.

use super::dynamo::{indexes, item};
use super::sdk_error;
use crate::{Error, Result};
use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use std::time::Duration;

/// The URLs of a queue and of its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The job queue.
    pub queue_url: String,
    /// Its dead-letter queue.
    pub dlq_url: String,
}

/// Creates the queue `name` and its dead-letter queue `{name}-dlq` (14 days' retention), with
/// a redrive policy that moves a message to the latter on its receive after `max_receives`
/// receives, and `visibility_timeout` as the default visibility timeout.
pub async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
    visibility_timeout: Duration,
) -> Result<QueueUrls> {
    if max_receives == 0 {
        return Err(Error::Invalid {
            what: "queue max_receives",
            value: "0".to_owned(),
            reason: "a message must be deliverable at least once",
        });
    }
    let dlq_name = format!("{name}-dlq");
    let dlq_url = sqs
        .create_queue()
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| sdk_error::map("sqs", "create queue", &dlq_name, e))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error::map("sqs", "create queue", &dlq_url, e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| Error::Backend {
            backend: "sqs",
            operation: "create queue",
            message: format!("queue {dlq_url}: no QueueArn attribute"),
        })?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives.to_string(),
    })
    .to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().max(1).to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, &redrive)
        .send()
        .await
        .map_err(|e| sdk_error::map("sqs", "create queue", name, e))?
        .queue_url
        .unwrap_or_default();
    Ok(QueueUrls { queue_url, dlq_url })
}

/// Creates the bucket (in the client's region); a bucket this account already owns is fine.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    let region = s3.config().region().map(|r| r.as_ref().to_owned());
    let mut request = s3.create_bucket().bucket(bucket);
    if let Some(region) = region.filter(|r| r != "us-east-1") {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if sdk_error::code(&e) == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) => Err(sdk_error::map("s3", "create bucket", bucket, e)),
    }
}

/// Creates the job table (on-demand capacity) with its indexes (`by-tenant`, `by-batch`,
/// `by-active`, `by-unclaimed`: [`indexes`]), waits until it is active, and turns on TTL on
/// `expires_at`. An existing table keeps its data; indexes it lacks are added and backfilled.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| Error::Backend {
        backend: "dynamodb",
        operation: "enable ttl",
        message: format!("table {table}: {e}"),
    };
    let created = dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(indexes::key(table, item::ID, KeyType::Hash)?)
        .set_attribute_definitions(Some(indexes::attribute_definitions(table)?))
        .set_global_secondary_indexes(Some(indexes::all(table)?))
        .send()
        .await;
    let existed = match created {
        Ok(_) => false,
        Err(e) if sdk_error::code(&e) == Some("ResourceInUseException") => true,
        Err(e) => return Err(sdk_error::map("dynamodb", "create table", table, e)),
    };
    for _ in 0..120 {
        let status = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error::map("dynamodb", "describe table", table, e))?
            .table
            .and_then(|t| t.table_status);
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if existed {
        indexes::add_missing(dynamodb, table).await?;
    }
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error::map("dynamodb", "describe ttl", table, e))?
        .time_to_live_description
        .and_then(|d| d.time_to_live_status);
    if !matches!(
        ttl,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        dynamodb
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(item::EXPIRES_AT)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| sdk_error::map("dynamodb", "enable ttl", table, e))?;
    }
    Ok(())
}
