//! Intake: a validated submission becomes stored media, a job record and a queue message, in
//! that order, so that a message never names a job without a record, and a record never waits for
//! media that is not there. If the enqueue fails after the record exists, the record is marked
//! `failed` (`enqueue_failed`) so it never sits `queued` forever; if even that write fails (or the
//! process stops in between), the worker's reconciler finds the never-claimed record and sends
//! its message. Used by the HTTP handlers.

use crate::sniff;
use bytes::Bytes;
use soyl_jobs::{
    CreateOutcome, Input, InputKind, Job, JobError, JobOptions, JobQueue, JobStore, MediaKey,
    MediaStore, Priority, QueueMessage, Tenant,
};
use soyl_worker::Backoff;
use std::sync::Arc;
use std::time::Duration;

/// Retries of marking a job `enqueue_failed` (the client is waiting for its answer).
const MARK_FAILED_RETRY: Backoff = Backoff {
    base: Duration::from_millis(50),
    max: Duration::from_millis(400),
};

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its bytes.
    pub bytes: Bytes,
    /// The client's file name (recorded, never used as a path).
    pub filename: Option<String>,
}

/// A job as the client asked for it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Owner.
    pub tenant: Tenant,
    /// Files, in order (their inputs come first).
    pub files: Vec<Upload>,
    /// Inline texts, after the files.
    pub texts: Vec<String>,
    /// Options.
    pub options: JobOptions,
    /// Client's idempotency key.
    pub idempotency_key: Option<String>,
}

/// Why intake refused or could not finish.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// A storage port failed.
    #[error(transparent)]
    Store(#[from] soyl_jobs::Error),
    /// The idempotency key was used before with a different request.
    #[error("idempotency key already used for job {0} with a different request")]
    IdempotencyConflict(soyl_jobs::JobId),
    /// The record was written but the message could not be queued; the job was marked failed.
    #[error("the job could not be queued: {0}")]
    Enqueue(soyl_jobs::Error),
    /// `options.callback_url` breaks the callback URL rules.
    #[error("options.callback_url: {0}")]
    CallbackUrl(soyl_worker::webhook::WebhookError),
}

/// The intake service.
#[derive(Clone)]
pub struct Intake {
    queue: Arc<dyn JobQueue>,
    /// Where `bulk` priority jobs go (None: the interactive queue takes them too).
    bulk_queue: Option<Arc<dyn JobQueue>>,
    store: Arc<dyn JobStore>,
    media: Arc<dyn MediaStore>,
    allow_http_callbacks: bool,
}

impl Intake {
    /// Intake over these ports.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        store: Arc<dyn JobStore>,
        media: Arc<dyn MediaStore>,
    ) -> Self {
        Intake {
            queue,
            bulk_queue: None,
            store,
            media,
            allow_http_callbacks: false,
        }
    }

    /// Also accepts `http://` callback URLs (the server's `--webhook-allow-http`).
    pub fn allow_http_callbacks(mut self, allow: bool) -> Self {
        self.allow_http_callbacks = allow;
        self
    }

    /// Sends `bulk` priority jobs to `queue` (when there is one) instead of the interactive queue.
    pub fn with_bulk_queue(mut self, queue: Option<Arc<dyn JobQueue>>) -> Self {
        self.bulk_queue = queue;
        self
    }

    /// The job store.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// The media store.
    pub fn media(&self) -> &Arc<dyn MediaStore> {
        &self.media
    }

    /// The queue for jobs of this priority.
    pub fn queue_for(&self, priority: Priority) -> &Arc<dyn JobQueue> {
        match (priority, &self.bulk_queue) {
            (Priority::Bulk, Some(bulk)) => bulk,
            _ => &self.queue,
        }
    }

    /// Sends the message of a stored job; if that fails, marks the job failed
    /// (`enqueue_failed`) so it never sits `queued` forever.
    pub async fn enqueue(&self, job: &Job) -> Result<(), IntakeError> {
        let message = QueueMessage {
            job_id: job.id,
            tenant: job.tenant.clone(),
            priority: job.options.priority,
        };
        if let Err(e) = self.queue_for(job.options.priority).send(&message).await {
            let error = JobError::new(
                "enqueue_failed",
                format!("the job could not be queued: {e}"),
            );
            let marked = MARK_FAILED_RETRY
                .retry("fail", || self.store.fail(&job.id, None, &error))
                .await;
            if let Err(mark) = marked {
                // The reconciler (soyl_worker::reconciler) re-sends its message later.
                tracing::error!(job_id = %job.id, error = %mark, "enqueue failed and the record could not be marked failed; left to the reconciler");
            }
            return Err(IntakeError::Enqueue(e));
        }
        Ok(())
    }

    /// Stores, records and enqueues a job. Returns the job and whether it is new (false: the
    /// idempotency key named an existing job, which is returned instead).
    pub async fn submit(&self, submission: Submission) -> Result<(Job, bool), IntakeError> {
        if let Some(url) = &submission.options.callback_url {
            soyl_worker::webhook::callback_url::parse(url, self.allow_http_callbacks)
                .map_err(IntakeError::CallbackUrl)?;
        }
        let request_hash = submission
            .idempotency_key
            .as_ref()
            .map(|_| request_hash(&submission));
        let mut job = Job::new(submission.tenant.clone(), Vec::new(), submission.options);
        job.idempotency_key = submission.idempotency_key;
        job.request_hash = request_hash;
        for (index, upload) in submission.files.into_iter().enumerate() {
            let key = MediaKey::for_input(job.tenant.as_str(), &job.id, index);
            let kind = sniff::kind_of(&upload.bytes);
            let size = upload.bytes.len() as u64;
            self.media.put(&key, upload.bytes, None).await?;
            job.inputs.push(Input {
                kind,
                media_key: Some(key),
                text: None,
                filename: upload.filename,
                size,
            });
        }
        for text in submission.texts {
            job.inputs.push(Input {
                kind: InputKind::Text,
                media_key: None,
                size: text.len() as u64,
                text: Some(text),
                filename: None,
            });
        }
        if let CreateOutcome::Existing(existing) = self.store.create(&job).await? {
            // Same key, same request: the same job. Same key, another request: a client bug.
            if existing.request_hash != job.request_hash {
                return Err(IntakeError::IdempotencyConflict(existing.id));
            }
            return Ok((*existing, false));
        }
        self.enqueue(&job).await?;
        metrics::counter!(crate::prometheus::JOBS_ACCEPTED).increment(1);
        tracing::info!(job_id = %job.id, tenant = %job.tenant, inputs = job.inputs.len(), "job accepted");
        Ok((job, true))
    }
}

/// SHA-256 over everything that defines a submission (files, texts, options), for telling a
/// retried request from a different one under the same idempotency key.
fn request_hash(submission: &Submission) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for upload in &submission.files {
        hash.update((upload.bytes.len() as u64).to_le_bytes());
        hash.update(&upload.bytes);
    }
    for text in &submission.texts {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    hash.update(serde_json::to_vec(&submission.options).unwrap_or_default());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
