//! A batch's checkpoint: the durable note its last complete enqueue run leaves, stored next to the
//! batch's media (`{tenant}/bulk/{batch}/checkpoint.json` in the media store, so both backends
//! and every process that runs the batch see it).
//!
//! Why: a job is recorded before its message is sent, so a run interrupted between the two leaves
//! `queued` jobs that no message names, and a later run must send those again. Without a note it
//! cannot tell them from the (many) jobs whose message is waiting in the queue, and re-sends
//! every never-attempted job. A run that went through the whole listing has sent (or re-sent)
//! the message of every job it listed, so every job created before it ended needs no re-send:
//! the checkpoint holds that instant, less [`CLOCK_MARGIN`] for clocks of other machines.

use super::BulkError;
use serde::{Deserialize, Serialize};
use soyl_jobs::{MediaKey, MediaStore, Tenant};
use time::OffsetDateTime;

/// Slack for the clocks of other machines that created jobs of the batch.
const CLOCK_MARGIN: time::Duration = time::Duration::seconds(60);

/// Largest checkpoint read.
const MAX_BYTES: u64 = 64 * 1024;

/// What a complete enqueue run leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every job of the batch created before this instant has had its message sent.
    #[serde(with = "time::serde::rfc3339")]
    pub sent_before: OffsetDateTime,
    /// When the run ended.
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    /// Objects the run listed (after filters).
    pub listed: u64,
}

impl Checkpoint {
    /// The checkpoint of a run that ends now, having listed `listed` objects.
    pub fn now(listed: u64) -> Checkpoint {
        let now = OffsetDateTime::now_utc();
        Checkpoint {
            sent_before: now - CLOCK_MARGIN,
            completed_at: now,
            listed,
        }
    }
}

fn key(tenant: &Tenant, batch_id: &str) -> Result<MediaKey, BulkError> {
    Ok(MediaKey::parse(&format!(
        "{tenant}/bulk/{batch_id}/checkpoint.json"
    ))?)
}

/// The batch's checkpoint, if a run ever completed.
pub async fn read(
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
pub async fn write(
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
