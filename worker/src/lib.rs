//! The soyl worker: pulls job messages from the queue, claims each job under a lease, runs its
//! inputs through the model lanes (batched across every job in flight), writes the result as the
//! lease holder, and only then acks the message.
//!
//! - [`pipelines`]: the model pipelines this process runs, started once.
//! - [`analyze`]: one claimed job -> result JSON, or a classified failure.
//! - [`consumer`]: pollers, per-job tasks, heartbeats, drain on shutdown.
//! - [`dead_letters`]: marks jobs whose messages were dead-lettered as failed.
//! - [`backoff`]: exponential, capped, jittered retry delays.
//! - [`reconciler`]: re-sends the messages of jobs that never got one (a submit cut short).
//! - [`webhook`]: signed, retried, SSRF-guarded callbacks when a job ends.

pub mod analyze;
pub mod backoff;
pub mod consumer;
pub mod dead_letters;
mod failure;
pub mod in_flight;
pub mod pipelines;
pub mod reconciler;
pub mod telemetry;
pub mod webhook;

pub use backoff::Backoff;
pub use consumer::{run, BulkQueue, QueueWeights, WorkerConfig, WorkerPorts};
pub use failure::Failure;
pub use in_flight::InFlight;
pub use pipelines::{PipelineConfig, Pipelines};
pub use reconciler::{ReconcileConfig, Reconciler};
