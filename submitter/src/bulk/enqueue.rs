//! The enqueue loop of a batch: list, filter, fetch, store, record, queue, a few objects at a
//! time. Each object's identity is sha256(key, content hash, model versions); its job's
//! idempotency key is `bulk:{batch}:{identity}`, so the job store's idempotent create makes a
//! re-run add nothing. A job found `queued` and never attempted may have been recorded just
//! before an interrupt and never sent: it is sent again (a duplicate message of a job already
//! claimed or finished is dropped by the worker).

use super::{sha256_hex, BatchSpec, BulkError, Source, SourceObject};
use crate::intake::Intake;
use futures::StreamExt;
use serde::Serialize;
use soyl_jobs::{
    CreateOutcome, Input, InputKind, Job, JobOptions, ListFilter, MediaKey, Priority, Status,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Objects fetched and recorded at once.
const CONCURRENCY: usize = 8;

/// Live counts of one enqueue run, shared with whoever shows progress.
#[derive(Debug, Default, Serialize)]
pub struct Counters {
    /// Objects listed that passed the filters.
    pub listed: AtomicU64,
    /// New jobs created and queued.
    pub enqueued: AtomicU64,
    /// Jobs that already existed in the batch (re-run or resume).
    pub existing: AtomicU64,
    /// Of those, jobs sent again because they may never have been queued.
    pub resent: AtomicU64,
    /// Objects skipped because `skip_done_from` has them succeeded.
    pub skipped: AtomicU64,
    /// Objects that could not be read or queued.
    pub errors: AtomicU64,
    /// Set when the run ended.
    pub finished: std::sync::atomic::AtomicBool,
}

impl Counters {
    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Enqueues every admitted object of `source` as a job of `spec`'s batch. Per-object failures are
/// logged and counted; listing and store failures end the run.
pub async fn enqueue_batch(
    intake: &Intake,
    source: Arc<dyn Source>,
    spec: &BatchSpec,
    counters: &Counters,
) -> Result<(), BulkError> {
    let done_elsewhere = match &spec.skip_done_from {
        Some(other) => succeeded_identities(intake, spec, other).await?,
        None => HashSet::new(),
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
        .map(|item| {
            let source = source.clone();
            let done_elsewhere = &done_elsewhere;
            async move {
                let object = item?;
                counters.listed.fetch_add(1, Ordering::Relaxed);
                let key = object.key.clone();
                enqueue_one(
                    intake,
                    source.as_ref(),
                    spec,
                    &object,
                    done_elsewhere,
                    counters,
                )
                .await
                .map_err(|e| (key, e))
                .map_err(|(key, e)| {
                    tracing::warn!(key, error = %e, "object not enqueued");
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    e
                })
                .or_else(|e| match e {
                    // Unreadable objects are counted and skipped; a failing store ends the run.
                    BulkError::Io { .. } | BulkError::Intake(_) => Ok(()),
                    other => Err(other),
                })
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(result) = results.next().await {
        result?;
    }
    Ok(())
}

async fn enqueue_one(
    intake: &Intake,
    source: &dyn Source,
    spec: &BatchSpec,
    object: &SourceObject,
    done_elsewhere: &HashSet<String>,
    counters: &Counters,
) -> Result<(), BulkError> {
    let bytes = source.fetch(&object.key).await?;
    let identity = object_identity(&object.key, &bytes, spec);
    if done_elsewhere.contains(&identity) {
        counters.skipped.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let options = JobOptions {
        modalities: spec.modalities.clone(),
        fuse: spec.fuse,
        priority: Priority::Bulk,
        batch_id: Some(spec.batch_id.clone()),
        metadata: serde_json::json!({ "source_key": object.key }),
        ..JobOptions::default()
    };
    let mut job = Job::new(spec.tenant.clone(), Vec::new(), options);
    job.idempotency_key = Some(format!("bulk:{}:{identity}", spec.batch_id));
    job.request_hash = Some(identity.clone());
    let filename = object.key.rsplit('/').next().map(str::to_owned);
    let input = if super::extension(&object.key).is_some_and(|e| e.eq_ignore_ascii_case("txt")) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Input {
            kind: InputKind::Text,
            media_key: None,
            size: text.len() as u64,
            text: Some(text),
            filename,
        }
    } else {
        // Content-addressed within the batch: a re-run overwrites the same object, never
        // leaving orphans behind.
        let key = MediaKey::parse(&format!(
            "{}/bulk/{}/{identity}",
            spec.tenant, spec.batch_id
        ))?;
        let kind = crate::sniff::kind_of(&bytes);
        let size = bytes.len() as u64;
        intake.media().put(&key, bytes, None).await?;
        Input {
            kind,
            media_key: Some(key),
            text: None,
            filename,
            size,
        }
    };
    job.inputs.push(input);
    match intake.store().create(&job).await? {
        CreateOutcome::Created => {
            intake.enqueue(&job).await?;
            counters.enqueued.fetch_add(1, Ordering::Relaxed);
        }
        CreateOutcome::Existing(existing) => {
            counters.existing.fetch_add(1, Ordering::Relaxed);
            if existing.status == Status::Queued && existing.attempts == 0 {
                intake.enqueue(&existing).await?;
                counters.resent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// sha256 over (key, content hash, model versions): what makes two objects the same work.
fn object_identity(key: &str, bytes: &[u8], spec: &BatchSpec) -> String {
    let content = sha256_hex(bytes);
    let versions = serde_json::to_string(&spec.model_versions).unwrap_or_default();
    sha256_hex(format!("{key}\n{content}\n{versions}").as_bytes())
}

/// Identities of the objects with a succeeded job in batch `other` (32 bytes of hex each: about
/// 100 MB per million objects).
async fn succeeded_identities(
    intake: &Intake,
    spec: &BatchSpec,
    other: &str,
) -> Result<HashSet<String>, BulkError> {
    let mut done = HashSet::new();
    let mut after = None;
    loop {
        let filter = ListFilter {
            status: Some(Status::Succeeded),
            batch_id: Some(other.to_owned()),
            limit: 1000,
            after,
        };
        let page = intake.store().list(&spec.tenant, &filter).await?;
        done.extend(page.jobs.into_iter().filter_map(|j| j.request_hash));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(done),
        }
    }
}
