//! The SQS [`JobQueue`]: one standard queue whose redrive policy (set by [`super::init`]) moves a
//! message to the dead-letter queue after `maxReceiveCount` receives. Used by `soyl serve
//! --backend aws`, `soyl api` (send, depth) and `soyl worker` (receive, ack, extend, release).
//!
//! Receives long-poll (SQS waits at most 20 s per call; longer waits loop) and ask for
//! `ApproximateReceiveCount`. Ack is `DeleteMessage`; extend and release are
//! `ChangeMessageVisibility`, which SQS refuses for a message no longer in flight (reported as
//! [`Error::StaleReceipt`]). SQS counts time in whole seconds: sub-second durations round up.
//!
//! Unlike the embedded queue, SQS accepts a delete with an older receipt of a message that has
//! been delivered again, and a second delete of a deleted message; the job store's leases, not
//! the queue, are what keep a late worker from overwriting a result.

use super::sdk_error;
use crate::{Delivery, Error, JobQueue, QueueMessage, Receipt, Result};
use async_trait::async_trait;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const BACKEND: &str = "sqs";

/// At most this many messages per receive and per batch delete (SQS's limit).
const MAX_BATCH: usize = 10;

/// Longest long poll SQS allows in one call.
const MAX_WAIT_SECONDS: u64 = 20;

/// Longest visibility timeout SQS allows (12 hours).
const MAX_VISIBILITY_SECONDS: u64 = 12 * 60 * 60;

/// Error codes with which SQS refuses a receipt that no longer names an in-flight delivery.
const STALE_CODES: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "MessageNotInflight",
    "InvalidReceiptHandle",
];

/// A queue on SQS, by URL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: Arc<str>,
    visibility_timeout: Option<Duration>,
}

impl SqsQueue {
    /// The queue at `url`, with the client's configuration (region, endpoint, credentials).
    pub fn new(client: Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: Arc::from(url.into()),
            visibility_timeout: None,
        }
    }

    /// Receives with this visibility timeout instead of the queue's default.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> SqsQueue {
        self.visibility_timeout = Some(timeout);
        self
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Deletes many deliveries with `DeleteMessageBatch` (ten per call), checking each entry:
    /// the answer holds one result per receipt, in order ([`Error::StaleReceipt`] for a receipt
    /// SQS refused as invalid). A call that fails as a whole fails every receipt of its chunk.
    pub async fn ack_many(&self, receipts: &[Receipt]) -> Vec<Result<()>> {
        let mut results = Vec::with_capacity(receipts.len());
        for chunk in receipts.chunks(MAX_BATCH) {
            results.extend(self.ack_chunk(chunk).await);
        }
        results
    }

    async fn ack_chunk(&self, chunk: &[Receipt]) -> Vec<Result<()>> {
        let entries: std::result::Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&receipt.0)
                    .build()
            })
            .collect();
        let call = match entries {
            Ok(entries) => {
                self.client
                    .delete_message_batch()
                    .queue_url(self.url.as_ref())
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
            Err(e) => {
                let message = format!("queue {}: building the batch: {e}", self.url);
                return chunk
                    .iter()
                    .map(|_| Err(self.backend("ack_many", &message)))
                    .collect();
            }
        };
        let output = match call {
            Ok(output) => output,
            Err(e) => {
                let error = sdk_error::map(BACKEND, "ack_many", &self.url, e);
                let (transient, message) = (error.is_transient(), error.to_string());
                return chunk
                    .iter()
                    .map(|_| {
                        Err(if transient {
                            Error::Transient {
                                backend: BACKEND,
                                operation: "ack_many",
                                message: message.clone(),
                            }
                        } else {
                            self.backend("ack_many", &message)
                        })
                    })
                    .collect();
            }
        };
        let mut results: Vec<Option<Result<()>>> = chunk.iter().map(|_| None).collect();
        for ok in output.successful() {
            if let Some(slot) = ok
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Some(Ok(()));
            }
        }
        for failed in output.failed() {
            let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            else {
                continue;
            };
            let error = if STALE_CODES.contains(&failed.code()) {
                self.stale()
            } else if failed.sender_fault() {
                self.backend(
                    "ack_many",
                    &format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                )
            } else {
                Error::Transient {
                    backend: BACKEND,
                    operation: "ack_many",
                    message: format!(
                        "queue {}: {}: {}",
                        self.url,
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                }
            };
            *slot = Some(Err(error));
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(self.backend("ack_many", "SQS answered for neither success nor failure"))
                })
            })
            .collect()
    }

    fn stale(&self) -> Error {
        Error::StaleReceipt {
            queue: self.url.to_string(),
        }
    }

    fn backend(&self, operation: &'static str, message: &str) -> Error {
        Error::Backend {
            backend: BACKEND,
            operation,
            message: format!("queue {}: {message}", self.url),
        }
    }

    /// Sets the visibility of a delivery to `secs` from now.
    async fn change_visibility(
        &self,
        operation: &'static str,
        receipt: &Receipt,
        by: Duration,
    ) -> Result<()> {
        let secs = whole_seconds(by).min(MAX_VISIBILITY_SECONDS);
        self.client
            .change_message_visibility()
            .queue_url(self.url.as_ref())
            .receipt_handle(&receipt.0)
            .visibility_timeout(i32::try_from(secs).unwrap_or(i32::MAX))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if is_stale(&e) {
                    self.stale()
                } else {
                    sdk_error::map(BACKEND, operation, &self.url, e)
                }
            })
    }

    /// One `ReceiveMessage` call waiting up to `wait_seconds`.
    async fn receive_once(&self, max: usize, wait_seconds: u64) -> Result<Vec<Delivery>> {
        let mut request = self
            .client
            .receive_message()
            .queue_url(self.url.as_ref())
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .wait_time_seconds(i32::try_from(wait_seconds).unwrap_or(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount);
        if let Some(timeout) = self.visibility_timeout {
            let secs = whole_seconds(timeout).min(MAX_VISIBILITY_SECONDS);
            request = request.visibility_timeout(i32::try_from(secs).unwrap_or(i32::MAX));
        }
        let output = request
            .send()
            .await
            .map_err(|e| sdk_error::map(BACKEND, "receive", &self.url, e))?;
        let mut deliveries = Vec::new();
        for message in output.messages() {
            let Some(receipt) = message.receipt_handle() else {
                continue;
            };
            let body = message.body().unwrap_or_default();
            let decoded = match serde_json::from_str::<QueueMessage>(body) {
                Ok(decoded) => decoded,
                Err(e) => {
                    // Left alone, it comes back until the redrive policy moves it aside for a
                    // person to look at.
                    tracing::error!(
                        queue = %self.url, message_id = message.message_id().unwrap_or_default(),
                        error = %e, "undecodable queue message skipped"
                    );
                    continue;
                }
            };
            let receive_count = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                message: decoded,
                receipt: Receipt(receipt.to_owned()),
                receive_count,
            });
        }
        Ok(deliveries)
    }
}

/// True when SQS refused a receipt as no longer naming an in-flight delivery: by code, or (real
/// SQS, for a message already deleted) `InvalidParameterValue` about the receipt handle.
fn is_stale<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match sdk_error::code(error) {
        Some(code) if STALE_CODES.contains(&code) => true,
        Some("InvalidParameterValue") => error
            .message()
            .is_some_and(|m| m.contains("ReceiptHandle") || m.contains("receipt handle")),
        _ => false,
    }
}

/// `d` in whole seconds, rounded up.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send(&self, message: &QueueMessage) -> Result<()> {
        let body = serde_json::to_string(message).map_err(|e| {
            self.backend(
                "send",
                &format!("encoding the message of job {}: {e}", message.job_id),
            )
        })?;
        self.client
            .send_message()
            .queue_url(self.url.as_ref())
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                let context = format!("queue {} (job {})", self.url, message.job_id);
                sdk_error::map(BACKEND, "send", &context, e)
            })?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now().checked_add(wait);
        loop {
            let left = deadline.map_or(Duration::from_secs(MAX_WAIT_SECONDS), |d| {
                d.saturating_duration_since(Instant::now())
            });
            let deliveries = self
                .receive_once(max, whole_seconds(left).min(MAX_WAIT_SECONDS))
                .await?;
            let done = deadline.is_some_and(|d| Instant::now() >= d);
            if !deliveries.is_empty() || done {
                return Ok(deliveries);
            }
        }
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(self.url.as_ref())
            .receipt_handle(&receipt.0)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if is_stale(&e) {
                    self.stale()
                } else {
                    sdk_error::map(BACKEND, "ack", &self.url, e)
                }
            })
    }

    async fn extend(&self, receipt: &Receipt, by: Duration) -> Result<()> {
        self.change_visibility("extend", receipt, by).await
    }

    async fn release(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        self.change_visibility("release", receipt, delay).await
    }

    async fn depth(&self) -> Result<u64> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(self.url.as_ref())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| sdk_error::map(BACKEND, "depth", &self.url, e))?;
        let count = output
            .attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        Ok(count)
    }
}
