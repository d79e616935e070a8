//! The job model and the three storage ports of soyl, with their adapters.
//!
//! Everything that moves a job through its life lives here: identifiers, the status machine, the
//! record a client polls, and the ports the submitter and the worker talk to:
//!
//! - [`JobQueue`]: at-least-once delivery with visibility timeouts, receive counts and dead letters;
//! - [`MediaStore`]: uploaded media by safe, generated key;
//! - [`JobStore`]: job records whose every transition is a conditional write.
//!
//! The embedded adapters ([`embedded`]) keep the same guarantees on one machine (SQLite in WAL mode
//! and a media directory); the AWS adapters (`aws`, the cargo feature of that name, on by default)
//! keep them on SQS, S3 and DynamoDB. This crate knows nothing about inference: a result is
//! opaque JSON.

#[cfg(feature = "aws")]
pub mod aws;
pub mod conformance;
pub mod embedded;
mod error;
pub mod faults;
pub mod finished;
pub mod keys;
mod media_key;
mod model;
mod ports;
mod transitions;

pub use error::{Error, Result};
pub use keys::{ApiKey, KeyStore};
pub use media_key::MediaKey;
pub use model::{
    FaceOptions, Input, InputKind, Job, JobError, JobId, JobOptions, Lease, Modality, Priority,
    Status, Tenant, TextGranularity, TextOptions, VoiceOptions, WebhookOutcome,
};
pub use ports::{
    BatchCounts, CancelOutcome, ClaimOutcome, CreateOutcome, Delivery, JobQueue, JobStore,
    ListFilter, MediaStore, Page, QueueMessage, Receipt,
};
