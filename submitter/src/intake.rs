//! Intake: a validated submission becomes stored media, a job record and a queue message, in
//! that order, so that a message never names a job without a record, and a record never waits for
//! media that is not there.
//!
//! A submission with an idempotency key is first looked up by its key: a replay is answered with
//! the existing job before any media is stored again (and before the caller's quota check). A
//! replayed job that is queued and was never claimed may lack its message (the first request's
//! enqueue failed), so its message is sent again; a duplicate message is harmless, since a claim
//! is a conditional write.
//!
//! If the enqueue fails after the record exists, a job without a key is marked `failed`
//! (`enqueue_failed`) so it never sits `queued` forever; a job with a key stays `queued`, so that
//! the client's retry with the same key sends it (the 503 says so). If even that write fails, the
//! process stops in between, or a keyed client never retries, the worker's reconciler finds the
//! never-claimed record and sends its message. Used by the HTTP handlers and bulk work.

use crate::sniff;
use bytes::Bytes;
use soyl_jobs::{
    CreateOutcome, Input, InputKind, Job, JobError, JobOptions, JobQueue, JobStore, MediaKey,
    MediaStore, Priority, QueueMessage, Status, Tenant,
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

/// Media the client uploaded beforehand (`POST /v1/uploads`), named by its key.
#[derive(Debug, Clone)]
pub struct StoredInput {
    /// The upload's media key, as the client sent it (checked at intake).
    pub media_key: String,
    /// The client's file name, if it gave one (recorded, never used as a path).
    pub filename: Option<String>,
}

/// A job as the client asked for it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Owner.
    pub tenant: Tenant,
    /// Files, in order (their inputs come first).
    pub files: Vec<Upload>,
    /// Uploaded media named by key, after the files.
    pub stored: Vec<StoredInput>,
    /// Inline texts, last.
    pub texts: Vec<String>,
    /// Options.
    pub options: JobOptions,
    /// Client's idempotency key.
    pub idempotency_key: Option<String>,
}

/// A submission checked and hashed by [`Intake::prepare`].
#[derive(Debug)]
pub struct Prepared {
    submission: Submission,
    request_hash: Option<String>,
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
    /// The record was written but the message could not be queued. Without an idempotency key
    /// the job was marked failed; with one it stays queued for the client's retry with that key.
    #[error("{}", enqueue_message(.job_id, .keyed, .source))]
    Enqueue {
        /// The job whose message was refused.
        job_id: soyl_jobs::JobId,
        /// Whether the job has an idempotency key (and so waits for a retry).
        keyed: bool,
        /// The queue's error.
        source: soyl_jobs::Error,
    },
    /// A `media_key` input names no upload of this tenant (malformed, another tenant's, a job's
    /// own input, or nothing stored under it).
    #[error("media_key {0:?} names no upload of yours: upload with POST /v1/uploads first")]
    UnknownMedia(String),
    /// `options.batch_id` is not 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[error("options.batch_id: {0}")]
    BatchId(String),
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

    /// Sends the message of a stored job; if that fails, marks a job without an idempotency key
    /// failed (`enqueue_failed`) so it never sits `queued` forever.
    pub async fn enqueue(&self, job: &Job) -> Result<(), IntakeError> {
        let message = QueueMessage {
            job_id: job.id,
            tenant: job.tenant.clone(),
            priority: job.options.priority,
        };
        if let Err(e) = self.queue_for(job.options.priority).send(&message).await {
            let keyed = job.idempotency_key.is_some();
            if keyed {
                tracing::warn!(job_id = %job.id, error = %e, "enqueue failed; the job stays queued for a retry with its idempotency key");
                return Err(IntakeError::Enqueue {
                    job_id: job.id,
                    keyed,
                    source: e,
                });
            }
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
            return Err(IntakeError::Enqueue {
                job_id: job.id,
                keyed,
                source: e,
            });
        }
        Ok(())
    }

    /// Checks a submission's callback URL and batch id, and computes its request hash (only when
    /// it has an idempotency key).
    pub fn prepare(&self, submission: Submission) -> Result<Prepared, IntakeError> {
        if let Some(url) = &submission.options.callback_url {
            soyl_worker::webhook::callback_url::parse(url, self.allow_http_callbacks)
                .map_err(IntakeError::CallbackUrl)?;
        }
        if let Some(batch_id) = &submission.options.batch_id {
            crate::bulk::validate_batch_id(batch_id)
                .map_err(|e| IntakeError::BatchId(e.to_string()))?;
        }
        let request_hash = submission
            .idempotency_key
            .as_ref()
            .map(|_| request_hash(&submission));
        Ok(Prepared {
            submission,
            request_hash,
        })
    }

    /// The job an earlier request with this submission's idempotency key created, if any (see
    /// [`Intake::existing`]); `None` for a submission without a key.
    pub async fn replay(&self, prepared: &Prepared) -> Result<Option<Job>, IntakeError> {
        let submission = &prepared.submission;
        let Some(key) = &submission.idempotency_key else {
            return Ok(None);
        };
        match self.store.find_idempotent(&submission.tenant, key).await? {
            Some(existing) => Ok(Some(self.existing(existing, &prepared.request_hash).await?)),
            None => Ok(None),
        }
    }

    /// An existing job under the submission's key: a conflict if another request made it; else
    /// the job, its message sent again if it is queued and was never claimed (it may have none).
    async fn existing(
        &self,
        existing: Job,
        request_hash: &Option<String>,
    ) -> Result<Job, IntakeError> {
        if existing.request_hash != *request_hash {
            return Err(IntakeError::IdempotencyConflict(existing.id));
        }
        if existing.status == Status::Queued && existing.attempts == 0 {
            self.enqueue(&existing).await?;
        }
        Ok(existing)
    }

    /// Replays or submits: [`Intake::replay`], then [`Intake::create`].
    pub async fn submit(&self, submission: Submission) -> Result<(Job, bool), IntakeError> {
        let prepared = self.prepare(submission)?;
        if let Some(job) = self.replay(&prepared).await? {
            return Ok((job, false));
        }
        self.create(prepared).await
    }

    /// Stores, records and enqueues a job. Returns the job and whether it is new (false: a
    /// concurrent request with the same idempotency key created it first; that job is returned).
    pub async fn create(&self, prepared: Prepared) -> Result<(Job, bool), IntakeError> {
        let Prepared {
            submission,
            request_hash,
        } = prepared;
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
        for stored in submission.stored {
            job.inputs
                .push(self.stored_input(&job.tenant, stored).await?);
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
            let existing = self.existing(*existing, &job.request_hash).await?;
            return Ok((existing, false));
        }
        self.enqueue(&job).await?;
        metrics::counter!(crate::prometheus::JOBS_ACCEPTED).increment(1);
        tracing::info!(job_id = %job.id, tenant = %job.tenant, inputs = job.inputs.len(), "job accepted");
        Ok((job, true))
    }
}

fn enqueue_message(job_id: &soyl_jobs::JobId, keyed: &bool, source: &soyl_jobs::Error) -> String {
    if *keyed {
        format!("job {job_id} could not be queued ({source}); it is kept: retry with the same Idempotency-Key to queue it")
    } else {
        format!("job {job_id} could not be queued ({source}); it was marked failed: submit again")
    }
}

impl Intake {
    /// The input of an upload named by key: it must be one of the tenant's uploads and be
    /// stored; its kind is sniffed from its first bytes, as for a file part (the rest is never
    /// read here: on AWS an upload may be far larger than the API's own body limit, and the
    /// worker applies its media size limit when it reads it).
    async fn stored_input(
        &self,
        tenant: &Tenant,
        stored: StoredInput,
    ) -> Result<Input, IntakeError> {
        let unknown = || IntakeError::UnknownMedia(stored.media_key.clone());
        let key = MediaKey::parse(&stored.media_key).map_err(|_| unknown())?;
        if !key.is_upload_of(tenant.as_str()) {
            return Err(unknown());
        }
        let (head, size) = match self.media.head(&key, sniff::HEAD_BYTES).await {
            Ok(head) => head,
            Err(soyl_jobs::Error::NotFound { .. }) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        Ok(Input {
            kind: sniff::kind_of(&head),
            media_key: Some(key),
            text: None,
            filename: stored.filename,
            size,
        })
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
    for stored in &submission.stored {
        hash.update(b"media_key:");
        hash.update((stored.media_key.len() as u64).to_le_bytes());
        hash.update(stored.media_key.as_bytes());
    }
    for text in &submission.texts {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    hash.update(serde_json::to_vec(&submission.options).unwrap_or_default());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
