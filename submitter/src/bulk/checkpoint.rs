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
}

impl Checkpoint {
    /// Whether a job stamped `generation` (None: stamped by no run, e.g. by an older soyl) may
    /// never have been sent.
    pub fn maybe_unsent(&self, generation: Option<u64>) -> bool {
        match (generation, self.sent_through) {
            (Some(generation), Some(through)) => generation > through,
            _ => true,
        }
    }
}

/// Takes the next generation of the batch for a run that starts now. (Two runs of one batch
/// starting at the same instant may take the same generation; that only costs re-sends.)
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
