//! The enqueue loop of a batch: list, filter, fetch, store, record, queue, a few objects at a
//! time. Each object's identity is sha256(key, content hash or the source's version tag, model
//! versions); its job's idempotency key is `bulk:{batch}:{identity}`, so the job store's
//! idempotent create makes a re-run add nothing. A job found `queued`, never attempted, and of a
//! run generation after the batch's [`checkpoint`](super::checkpoint) may have been recorded just
//! before an interrupt and never sent: it is sent again (a duplicate message of a job already
//! claimed or finished is dropped by the worker). A run that lists the whole source moves the
//! checkpoint to its own generation.

use super::checkpoint::{self, Checkpoint, Progress};
use super::{sha256_hex, BatchSpec, BulkError, Source, SourceObject};
use crate::intake::Intake;
use futures::StreamExt;
use serde::Serialize;
use soyl_jobs::{
    CreateOutcome, Input, InputKind, Job, JobOptions, ListFilter, MediaKey, Priority, Status,
};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The job metadata fields with the generation of the run that created the job, and the job's
/// sequence number in that run.
const GENERATION: &str = "bulk_generation";
const SEQ: &str = "bulk_seq";

/// Objects between two records of a run's progress in the checkpoint (each a media store put).
const PROGRESS_EVERY: u64 = 256;

/// Tries per object when storage fails transiently, and the first wait (doubling).
const ATTEMPTS: u32 = 5;
const RETRY_BASE: std::time::Duration = std::time::Duration::from_millis(100);

/// Objects fetched and recorded at once.
const CONCURRENCY: usize = 8;

/// Live counts of one enqueue run, shared with whoever shows progress.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Counters {
    /// Objects listed that passed the filters.
    #[schema(value_type = u64)]
    pub listed: AtomicU64,
    /// New jobs created and queued.
    #[schema(value_type = u64)]
    pub enqueued: AtomicU64,
    /// Jobs that already existed in the batch (re-run or resume).
    #[schema(value_type = u64)]
    pub existing: AtomicU64,
    /// Of those, jobs sent again because they may never have been queued.
    #[schema(value_type = u64)]
    pub resent: AtomicU64,
    /// Objects skipped because `skip_done_from` has them succeeded.
    #[schema(value_type = u64)]
    pub skipped: AtomicU64,
    /// Objects that could not be read or queued.
    #[schema(value_type = u64)]
    pub errors: AtomicU64,
    /// Objects whose bytes were read from the source (a tagged object whose job exists is not).
    #[schema(value_type = u64)]
    pub read: AtomicU64,
    /// Set when the run ended (with or without an error).
    #[schema(value_type = bool)]
    pub finished: AtomicBool,
}

impl Counters {
    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What one object's identity is made of, besides its key and the model versions.
enum Content<'a> {
    /// A version tag of the source (S3's ETag): known before reading the object.
    Tag(&'a str),
    /// The bytes, hashed.
    Bytes(&'a [u8]),
}

/// Enqueues every admitted object of `source` as a job of `spec`'s batch. Per-object failures
/// (an unreadable object or sub-directory, one over the size limit, a message the queue kept
/// refusing) are logged and counted, and the run goes on; failing to list the source at all, and
/// a store that keeps failing, end it. A run that left any job unsent, or missed part of the
/// listing, does not mark the batch complete, so the next run over it sends what is missing.
pub async fn enqueue_batch(
    intake: &Intake,
    source: Arc<dyn Source>,
    spec: &BatchSpec,
    counters: &Counters,
) -> Result<(), BulkError> {
    let done_elsewhere = match &spec.skip_done_from {
        Some(other) => succeeded_identities(intake, spec, other).await?,
        None => DoneSet::default(),
    };
    let media = intake.media().as_ref();
    let (generation, checkpoint) = checkpoint::begin(media, &spec.tenant, &spec.batch_id).await?;
    let run = Run {
        intake,
        source: source.as_ref(),
        spec,
        done_elsewhere: &done_elsewhere,
        generation,
        checkpoint,
        counters,
        sequence: Mutex::default(),
        incomplete: AtomicBool::new(false),
    };
    let max = spec.filters.max_items.unwrap_or(u64::MAX);
    let admitted = source
        .list()
        .filter(|item| {
            let keep = item.as_ref().map_or(true, |o| spec.filters.admits(o));
            std::future::ready(keep)
        })
        .take(usize::try_from(max).unwrap_or(usize::MAX));
    let mut results = admitted
        .map(|item| run.one(item))
        .buffer_unordered(CONCURRENCY);
    while let Some(result) = results.next().await {
        result?;
    }
    // Only a run over the whole listing vouches for every job of the batch (see the checkpoint).
    if spec.filters.max_items.is_none() && !run.incomplete.load(Ordering::Relaxed) {
        checkpoint::complete(media, &spec.tenant, &spec.batch_id, generation).await?;
    }
    Ok(())
}

/// What every object of one run shares.
struct Run<'a> {
    intake: &'a Intake,
    source: &'a dyn Source,
    spec: &'a BatchSpec,
    done_elsewhere: &'a DoneSet,
    /// This run's generation, stamped on the jobs it creates.
    generation: u64,
    /// The checkpoint as this run found it (with this run's generation taken).
    checkpoint: Checkpoint,
    counters: &'a Counters,
    /// Sequence numbers handed out and not yet done with.
    sequence: Mutex<Sequence>,
    /// Set when a job was recorded and left unsent, or part of the listing could not be read.
    incomplete: AtomicBool,
}

/// How one object ended.
enum Done {
    /// Sent, or no queued job left behind (nothing recorded, or skipped): its number is closed.
    Closed,
    /// Its job is recorded and `queued` but the queue refused its message: its number stays
    /// open, so a later run over the batch sends it (see the checkpoint).
    Unsent,
}

/// The sequence numbers of one run's objects.
#[derive(Debug, Default)]
struct Sequence {
    /// The next number.
    next: u64,
    /// Numbers whose object may still have a recorded job without a sent message.
    open: BTreeSet<u64>,
    /// Objects done since progress was last recorded.
    since_record: u64,
}

impl Sequence {
    /// Every number below this is done with.
    fn sent_below(&self) -> u64 {
        self.open.first().copied().unwrap_or(self.next)
    }
}

impl Run<'_> {
    /// Enqueues one listed object, retrying transient storage failures (throttling, 5xx) with
    /// backoff; unreadable objects are counted and skipped, a store that keeps failing ends the
    /// run. Retrying is safe: the create is idempotent and a job of this run's generation that
    /// may be unsent is sent again.
    async fn one(&self, item: Result<SourceObject, BulkError>) -> Result<(), BulkError> {
        let object = match item {
            Ok(object) => object,
            // A sub-directory or entry that cannot be read (a root-owned lost+found, a file
            // removed mid-walk): the rest of the listing goes on.
            Err(e @ BulkError::Io { .. }) => {
                tracing::warn!(error = %e, "part of the listing skipped");
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.incomplete.store(true, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.counters.listed.fetch_add(1, Ordering::Relaxed);
        let seq = self.open_seq();
        match self.with_retries(&object, seq).await? {
            Done::Closed => self.close_seq(seq).await?,
            Done::Unsent => self.incomplete.store(true, Ordering::Relaxed),
        }
        Ok(())
    }

    async fn with_retries(&self, object: &SourceObject, seq: u64) -> Result<Done, BulkError> {
        let mut delay = RETRY_BASE;
        let mut attempt = 1;
        let failure = loop {
            match self.enqueue(object, seq).await {
                Ok(()) => return Ok(Done::Closed),
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tracing::debug!(key = object.key, attempt, error = %e, "retrying an object");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => break e,
            }
        };
        tracing::warn!(key = object.key, error = %failure, "object not enqueued");
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        match failure {
            BulkError::Intake(crate::intake::IntakeError::Enqueue { .. }) => Ok(Done::Unsent),
            BulkError::Io { .. } | BulkError::Intake(_) => Ok(Done::Closed),
            BulkError::Store(ref inner) if is_object_error(inner) => Ok(Done::Closed),
            other => Err(other),
        }
    }

    fn lock_sequence(&self) -> std::sync::MutexGuard<'_, Sequence> {
        self.sequence.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_seq(&self) -> u64 {
        let mut sequence = self.lock_sequence();
        let seq = sequence.next;
        sequence.next += 1;
        sequence.open.insert(seq);
        seq
    }

    /// Marks `seq` done with, and every [`PROGRESS_EVERY`] objects records the run's progress.
    async fn close_seq(&self, seq: u64) -> Result<(), BulkError> {
        let progress = {
            let mut sequence = self.lock_sequence();
            sequence.open.remove(&seq);
            sequence.since_record += 1;
            (sequence.since_record >= PROGRESS_EVERY).then(|| {
                sequence.since_record = 0;
                Progress {
                    generation: self.generation,
                    sent_below: sequence.sent_below(),
                }
            })
        };
        match progress {
            Some(progress) => {
                let spec = self.spec;
                let media = self.intake.media().as_ref();
                checkpoint::record_progress(
                    media,
                    &spec.tenant,
                    &spec.batch_id,
                    &self.checkpoint,
                    progress,
                )
                .await
            }
            None => Ok(()),
        }
    }

    async fn enqueue(&self, object: &SourceObject, seq: u64) -> Result<(), BulkError> {
        let (identity, bytes) = match &object.etag {
            Some(tag) => (self.identity(object, Content::Tag(tag)), None),
            None => {
                let bytes = self.fetch(object).await?;
                (self.identity(object, Content::Bytes(&bytes)), Some(bytes))
            }
        };
        if self.done_elsewhere.contains(&identity) {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => {
                // Identity known from the tag: a job this batch already has needs no download
                // (a resumed run over a large prefix would otherwise copy every object again).
                let key = idempotency_key(self.spec, &identity);
                let store = self.intake.store();
                if let Some(existing) = store.find_idempotent(&self.spec.tenant, &key).await? {
                    return self.existing(&existing).await;
                }
                self.fetch(object).await?
            }
        };
        let job = self.job(object, &identity, seq, bytes).await?;
        match self.intake.store().create(&job).await? {
            CreateOutcome::Created => {
                self.intake.enqueue(&job).await?;
                self.counters.enqueued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            CreateOutcome::Existing(existing) => self.existing(&existing).await,
        }
    }

    /// The object's bytes, from the source.
    async fn fetch(&self, object: &SourceObject) -> Result<bytes::Bytes, BulkError> {
        self.counters.read.fetch_add(1, Ordering::Relaxed);
        self.source.fetch(&object.key).await
    }

    /// A job the batch already has: counted, and sent again if it may lack its message.
    async fn existing(&self, existing: &Job) -> Result<(), BulkError> {
        self.counters.existing.fetch_add(1, Ordering::Relaxed);
        let stamp = &existing.options.metadata;
        let maybe_unsent = existing.status == Status::Queued
            && existing.attempts == 0
            && self
                .checkpoint
                .maybe_unsent(stamp[GENERATION].as_u64(), stamp[SEQ].as_u64());
        if maybe_unsent {
            self.intake.enqueue(existing).await?;
            self.counters.resent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The job of one object: `.txt` objects as inline text, others stored as media under a key
    /// derived from the identity (a re-run overwrites the same object, never leaving orphans).
    async fn job(
        &self,
        object: &SourceObject,
        identity: &str,
        seq: u64,
        bytes: bytes::Bytes,
    ) -> Result<Job, BulkError> {
        let spec = self.spec;
        let options = JobOptions {
            modalities: spec.modalities.clone(),
            fuse: spec.fuse,
            priority: Priority::Bulk,
            batch_id: Some(spec.batch_id.clone()),
            metadata: serde_json::json!({
                "source_key": object.key,
                GENERATION: self.generation,
                SEQ: seq,
            }),
            ..JobOptions::default()
        };
        let mut job = Job::new(spec.tenant.clone(), Vec::new(), options);
        job.idempotency_key = Some(idempotency_key(spec, identity));
        job.request_hash = Some(identity.to_owned());
        let filename = object.key.rsplit('/').next().map(str::to_owned);
        let is_text = super::extension(&object.key).is_some_and(|e| e.eq_ignore_ascii_case("txt"));
        let input = if is_text {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Input {
                kind: InputKind::Text,
                media_key: None,
                size: text.len() as u64,
                text: Some(text),
                filename,
            }
        } else {
            let key = MediaKey::parse(&format!(
                "{}/bulk/{}/{identity}",
                spec.tenant, spec.batch_id
            ))?;
            let kind = crate::sniff::kind_of(&bytes);
            let size = bytes.len() as u64;
            self.intake.media().put(&key, bytes, None).await?;
            Input {
                kind,
                media_key: Some(key),
                text: None,
                filename,
                size,
            }
        };
        job.inputs.push(input);
        Ok(job)
    }

    /// sha256 over (key, content, model versions): what makes two objects the same work.
    fn identity(&self, object: &SourceObject, content: Content<'_>) -> String {
        let content = match content {
            Content::Tag(tag) => format!("etag:{tag}"),
            Content::Bytes(bytes) => sha256_hex(bytes),
        };
        let versions = serde_json::to_string(&self.spec.model_versions).unwrap_or_default();
        sha256_hex(format!("{}\n{content}\n{versions}", object.key).as_bytes())
    }
}

/// Source errors about one object (missing since the listing, too large) that skip the object
/// instead of ending the run.
/// The idempotency key of the job of the object with `identity` in `spec`'s batch.
fn idempotency_key(spec: &BatchSpec, identity: &str) -> String {
    format!("bulk:{}:{identity}", spec.batch_id)
}

fn is_object_error(e: &soyl_jobs::Error) -> bool {
    matches!(
        e,
        soyl_jobs::Error::NotFound { .. } | soyl_jobs::Error::TooLarge { .. }
    )
}

/// Identities of the objects with a succeeded job in another batch, as the first 16 bytes of
/// each sha256 (16 bytes plus the set's overhead, about 40 MB per million objects; a collision
/// among 2^128 values is not a practical concern).
#[derive(Debug, Default)]
struct DoneSet(HashSet<[u8; 16]>);

impl DoneSet {
    fn digest(identity: &str) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(identity.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }

    fn insert(&mut self, identity: &str) {
        if let Some(digest) = Self::digest(identity) {
            self.0.insert(digest);
        }
    }

    fn contains(&self, identity: &str) -> bool {
        Self::digest(identity).is_some_and(|d| self.0.contains(&d))
    }
}

/// The [`DoneSet`] of batch `other`, read a page of 1,000 jobs at a time.
async fn succeeded_identities(
    intake: &Intake,
    spec: &BatchSpec,
    other: &str,
) -> Result<DoneSet, BulkError> {
    let mut done = DoneSet::default();
    let mut after = None;
    loop {
        let filter = ListFilter {
            status: Some(Status::Succeeded),
            batch_id: Some(other.to_owned()),
            limit: 1000,
            after,
        };
        let page = intake.store().list(&spec.tenant, &filter).await?;
        for job in &page.jobs {
            if let Some(identity) = &job.request_hash {
                done.insert(identity);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(done),
        }
    }
}
