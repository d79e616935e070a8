//! Embedded adapters: the three storage ports on one machine, with the guarantees of the AWS
//! deployment (at-least-once delivery, visibility timeouts, dead letters, conditional job
//! transitions, atomic media writes, nothing lost on a crash).
//!
//! `soyl serve` and the tests open one [`SqliteDb`] (a single SQLite file in WAL mode) and build
//! the [`SqliteQueue`] and the [`SqliteJobStore`] on it, and a [`MediaDir`] for media.

mod arrivals;
mod db;
mod group_sync;
mod job_store;
mod keys;
mod media_dir;
mod queue;

pub use db::SqliteDb;
pub use job_store::SqliteJobStore;
pub use keys::SqliteKeyStore;
pub use media_dir::MediaDir;
pub use queue::{QueueConfig, SqliteQueue};
