//! The one error type of the `jobs` crate. Every variant carries the context a reader of a log
//! needs (which job, which key, which operation).

/// Errors from the storage ports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A media key or tenant name that is not in the safe alphabet.
    #[error("invalid {what}: {value:?}: {reason}")]
    Invalid {
        /// What was being validated ("media key", "tenant", ...).
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The object asked for does not exist.
    #[error("{what} not found: {key}")]
    NotFound {
        /// What kind of object ("media", "job").
        what: &'static str,
        /// Its key or id.
        key: String,
    },
    /// A stored object is larger than the caller allows.
    #[error("media {key} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The media key.
        key: String,
        /// Its size in bytes.
        size: u64,
        /// The caller's limit in bytes.
        limit: u64,
    },
    /// A receipt that no longer names an in-flight delivery (acked, released, or redelivered since).
    #[error("stale receipt for queue {queue}")]
    StaleReceipt {
        /// The queue name.
        queue: String,
    },
    /// The backend refused for now (throttled, busy, unreachable): retry with backoff.
    #[error("{backend} temporarily unavailable during {operation}: {message}")]
    Transient {
        /// Which backend ("sqlite", "sqs", ...).
        backend: &'static str,
        /// What was being done.
        operation: &'static str,
        /// The backend's words.
        message: String,
    },
    /// Any other backend failure, with the operation it happened in.
    #[error("{backend} failed during {operation}: {message}")]
    Backend {
        /// Which backend ("sqlite", "media-dir", ...).
        backend: &'static str,
        /// What was being done.
        operation: &'static str,
        /// The backend's words.
        message: String,
    },
    /// A stored record that does not decode: corruption or a version mismatch.
    #[error("corrupt record {key}: {message}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    /// True when the operation may succeed if retried later (with backoff).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }
}

/// Result alias for the `jobs` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
