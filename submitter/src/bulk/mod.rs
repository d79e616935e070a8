//! Bulk reprocessing: a [`Source`] listing becomes one `bulk` priority job per object, all in one
//! batch (`options.batch_id`), idempotently, so a re-run or a resumed run adds no duplicates.
//! Used by `soyl reprocess`, `soyl export` and the `/v1/batches` routes.

pub mod checkpoint;
mod enqueue;
mod export;
pub mod listing_bench;
mod open;
mod runs;
#[cfg(feature = "aws")]
mod s3;
mod source;
mod status;
mod synthetic;

pub use enqueue::{enqueue_batch, Counters};
pub use export::{export, ExportFormat};
pub use open::{LocalPolicy, SourceSpec, Sources};
pub use runs::{Run, Runs};
#[cfg(feature = "aws")]
pub use s3::S3Prefix;
pub use source::{LocalDir, Source, SourceObject};
pub use status::{batch_status, BatchStatus, Listing};
pub use synthetic::Synthetic;

use serde::{Deserialize, Serialize};
use soyl_jobs::{Modality, Tenant};
use std::collections::BTreeMap;
use std::path::Path;
use time::OffsetDateTime;

/// Why a bulk operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// A file or directory could not be read.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A storage port failed.
    #[error(transparent)]
    Store(#[from] soyl_jobs::Error),
    /// Intake could not queue a job.
    #[error(transparent)]
    Intake(#[from] crate::intake::IntakeError),
    /// A request or argument is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The source is neither `s3://bucket/prefix` nor a path, or is malformed.
    #[error("invalid source {0}")]
    InvalidSource(String),
    /// The source is of a kind this backend or caller does not take.
    #[error("{0}")]
    UnsupportedSource(String),
    /// The source cannot be listed (no such bucket, access denied).
    #[error("the source cannot be read: {0}")]
    SourceUnreadable(String),
    /// A local directory was asked for over HTTP, and no `--bulk-root` is configured.
    #[error("local directory sources are disabled: start the server with --bulk-root DIR to allow directories under DIR")]
    LocalSourceDisabled,
    /// A local directory that is not an existing directory under `--bulk-root`.
    #[error("{0}: not a directory under the server's --bulk-root")]
    OutsideRoot(String),
}

impl BulkError {
    /// Whether the same operation may succeed later (storage throttled or briefly unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            BulkError::Store(e)
            | BulkError::Intake(crate::intake::IntakeError::Store(e))
            | BulkError::Intake(crate::intake::IntakeError::Enqueue { source: e, .. }) => {
                e.is_transient()
            }
            _ => false,
        }
    }

    fn io(path: &Path, what: &'static str, source: std::io::Error) -> Self {
        BulkError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Which objects of a source a batch takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    /// Only keys with these extensions (case-insensitive, without the dot); all when empty.
    pub ext: Vec<String>,
    /// Only objects modified at or after this instant (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub modified_since: Option<OffsetDateTime>,
    /// At most this many objects (after the other filters, in listing order).
    pub max_items: Option<u64>,
}

impl Filters {
    /// Whether the listing filters (not `max_items`) take this object.
    pub fn admits(&self, object: &SourceObject) -> bool {
        let ext_ok = self.ext.is_empty()
            || extension(&object.key)
                .is_some_and(|e| self.ext.iter().any(|x| x.eq_ignore_ascii_case(e)));
        ext_ok
            && self
                .modified_since
                .is_none_or(|since| object.modified >= since)
    }
}

/// The lowercase-insensitive extension of a key, if it has one.
pub(crate) fn extension(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|e| !e.is_empty())
}

/// Everything that defines a batch.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// Owner of the jobs.
    pub tenant: Tenant,
    /// The batch id (see [`default_batch_id`]).
    pub batch_id: String,
    /// Filters.
    pub filters: Filters,
    /// Analyses to run (all that apply when None).
    pub modalities: Option<Vec<Modality>>,
    /// Whether to fuse modalities.
    pub fuse: bool,
    /// Model name -> version: part of every object's identity, so a new model version reprocesses.
    pub model_versions: BTreeMap<String, String>,
    /// Objects with a succeeded job in this other batch are skipped.
    pub skip_done_from: Option<String>,
}

/// A batch id derived from what defines the batch, so re-running the same command resumes the
/// same batch: `b-` and 16 hex digits.
pub fn default_batch_id(spec: &BatchSpec, source: &dyn Source) -> String {
    let identity = serde_json::json!({
        "tenant": spec.tenant,
        "source": source.describe(),
        "filters": spec.filters,
        "modalities": spec.modalities,
        "fuse": spec.fuse,
        "models": spec.model_versions,
    });
    format!("b-{}", &sha256_hex(identity.to_string().as_bytes())[..16])
}

/// Checks a caller-given batch id: 1 to 64 of `A-Z a-z 0-9 _ -` (it becomes part of media keys).
pub fn validate_batch_id(id: &str) -> Result<(), BulkError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BulkError::Invalid(format!(
            "batch id {id:?}: must be 1 to 64 of A-Z a-z 0-9 _ -"
        )))
    }
}

/// Model name -> version of every model in a repository folder.
pub fn model_versions(repository: &Path) -> Result<BTreeMap<String, String>, BulkError> {
    let repo = soyl_models::Repository::load(repository).map_err(|e| {
        BulkError::Invalid(format!("model repository {}: {e}", repository.display()))
    })?;
    Ok(repo
        .models()
        .iter()
        .map(|m| (m.name.clone(), m.version.clone()))
        .collect())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
