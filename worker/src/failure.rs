//! How a job attempt can fail, and what the consumer does about each class (ARCHITECTURE.md,
//! "Failure classes"): bad input ends the job `failed` at once; transient trouble releases the
//! message for redelivery with backoff; abandoned work (cancelled, lease lost, draining) is let go.

use soyl_jobs::JobError;
use soyl_models::ModelError;

/// Why an attempt did not produce a result.
#[derive(Debug)]
pub enum Failure {
    /// The input cannot be analysed: fail the job with this error, never retry.
    Permanent(JobError),
    /// Something that may work later (store throttled, lane overloaded, model run failed).
    Transient(String),
    /// The work was abandoned on purpose (job cancelled, lease lost, worker draining).
    Abandoned,
}

impl From<ModelError> for Failure {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Input(input) => {
                Failure::Permanent(JobError::new(input.code, input.message))
            }
            ModelError::Abandoned => Failure::Abandoned,
            other => Failure::Transient(other.to_string()),
        }
    }
}

impl From<soyl_jobs::Error> for Failure {
    fn from(e: soyl_jobs::Error) -> Self {
        match e {
            soyl_jobs::Error::TooLarge { size, limit, .. } => Failure::Permanent(JobError::new(
                "media_too_large",
                format!("the media is {size} bytes, over the worker's limit of {limit}"),
            )),
            soyl_jobs::Error::NotFound { key, .. } => Failure::Permanent(JobError::new(
                "media_missing",
                format!("the media {key} is not in the media store"),
            )),
            other => Failure::Transient(other.to_string()),
        }
    }
}
