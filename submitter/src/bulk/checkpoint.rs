//! A batch's checkpoint: the durable note its last complete enqueue run leaves, stored next to the
//! batch's media (`{tenant}/bulk/{batch}/checkpoint.json` in the media store, so both backends
//! and every process that runs the batch see it).
//!
//! Why: a job is recorded before its message is sent, so a run interrupted between the two leaves
//! `queued` jobs that no message names, and a later run must send those again. Without a note it
//! cannot tell them from the (many) jobs whose message is waiting in the queue, and re-sends
//! every never-attempted job. So each run takes a generation number when it starts and stamps it
//! on the jobs it creates (`metadata.bulk_generation`); a run that went through the whole listing
//! has sent (or re-sent) the message of every job it listed, so when it ends, every job of its
//! generation or an earlier one needs no re-send: the checkpoint records that generation. No
//! clock is involved, so runs on machines with skewed clocks cannot fool it.
//!
//! Within a run, each job also gets a sequence number (`metadata.bulk_seq`), and every few hundred
//! objects the run records its [`Progress`]: the number below which every job of its generation
//! has been sent. After an interrupt, the next run re-sends only the jobs past that mark (a few
//! hundred at most), not every never-attempted job of the interrupted run.

use super::BulkError;
use serde::{Deserialize, Serialize};
use soyl_jobs::{MediaKey, MediaStore, Tenant};

/// Largest checkpoint read.
const MAX_BYTES: u64 = 64 * 1024;

/// The batch's run generations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The generation the next run takes.
    pub next_generation: u64,
    /// Every job stamped with this generation or an earlier one has had its message sent
    /// (None: no run has gone through the whole listing yet).
    pub sent_through: Option<u64>,
    /// How far the latest run that has not completed got.
    #[serde(default)]
    pub progress: Option<Progress>,
}

/// How far a run got: every job it created with a sequence number below `sent_below` has had its
/// message sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The run's generation.
    pub generation: u64,
    /// Jobs of that generation numbered below this were sent.
    pub sent_below: u64,
}

impl Checkpoint {
    /// Whether a job stamped `generation` and `seq` (None: not stamped, e.g. by an older soyl)
    /// may never have been sent.
    pub fn maybe_unsent(&self, generation: Option<u64>, seq: Option<u64>) -> bool {
        let Some(generation) = generation else {
            return true;
        };
        if self
            .sent_through
            .is_some_and(|through| generation <= through)
        {
            return false;
        }
        let sent = self.progress.is_some_and(|p| {
            p.generation == generation && seq.is_some_and(|seq| seq < p.sent_below)
        });
        !sent
    }
}

/// Takes the next generation of the batch for a run that starts now. Two runs of one batch
/// starting at the same instant may take the same generation (the media store has no
/// compare-and-swap): if one of them completes and the other was interrupted, the checkpoint
/// then covers jobs the interrupted run never sent. Those stay `queued` and never claimed until
/// the worker's reconciler sends their messages (`--reconcile-after-s`, 15 min by default).
pub async fn begin(
    media: &dyn MediaStore,
    tenant: &Tenant,
    batch_id: &str,
) -> Result<(u64, Checkpoint), BulkError> {
    let mut checkpoint = read(media, tenant, batch_id).await?.unwrap_or_default();
    let generation = checkpoint.next_generation;
    checkpoint.next_generation = generation + 1;
    write(media, tenant, batch_id, &checkpoint).await?;
    Ok((generation, checkpoint))
}

/// Records how far the run that began with `started` (the checkpoint [`begin`] returned) got.
pub async fn record_progress(
    media: &dyn MediaStore,
    tenant: &Tenant,
    batch_id: &str,
    started: &Checkpoint,
    progress: Progress,
) -> Result<(), BulkError> {
    let checkpoint = Checkpoint {
        progress: Some(progress),
        ..*started
    };
    write(media, tenant, batch_id, &checkpoint).await
}

/// Records that the run of `generation` went through the whole listing.
pub async fn complete(
    media: &dyn MediaStore,
    tenant: &Tenant,
    batch_id: &str,
    generation: u64,
) -> Result<(), BulkError> {
    let mut checkpoint = read(media, tenant, batch_id).await?.unwrap_or_default();
    checkpoint.next_generation = checkpoint.next_generation.max(generation + 1);
    checkpoint.sent_through = Some(
        checkpoint
            .sent_through
            .map_or(generation, |g| g.max(generation)),
    );
    checkpoint.progress = None;
    write(media, tenant, batch_id, &checkpoint).await
}

fn key(tenant: &Tenant, batch_id: &str) -> Result<MediaKey, BulkError> {
    Ok(MediaKey::parse(&format!(
        "{tenant}/bulk/{batch_id}/checkpoint.json"
    ))?)
}

/// The batch's checkpoint, if a run ever started.
async fn read(
    media: &dyn MediaStore,
    tenant: &Tenant,
    batch_id: &str,
) -> Result<Option<Checkpoint>, BulkError> {
    match media.get(&key(tenant, batch_id)?, MAX_BYTES).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            BulkError::Invalid(format!("checkpoint of batch {batch_id} is unreadable: {e}"))
        }),
        Err(soyl_jobs::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Stores the batch's checkpoint (replacing the previous one).
async fn write(
    media: &dyn MediaStore,
    tenant: &Tenant,
    batch_id: &str,
    checkpoint: &Checkpoint,
) -> Result<(), BulkError> {
    let bytes = serde_json::to_vec(checkpoint)
        .map_err(|e| BulkError::Invalid(format!("encoding a checkpoint: {e}")))?;
    media
        .put(
            &key(tenant, batch_id)?,
            bytes.into(),
            Some("application/json"),
        )
        .await?;
    Ok(())
}
