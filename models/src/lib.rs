//! soyl's model repository and inference library.
//!
//! - [`repository`]: model folders (`model.toml` manifest + `model.onnx`), loaded and checked at start.
//! - [`runtime`]: finding and loading the ONNX Runtime library, choosing the device, building sessions.
//! - [`lane`]: a dedicated OS thread per model that owns its session and batches work from many jobs.
//! - [`tensor_pool`]: recycled buffers for lanes with large inputs (the face detector's).
//! - [`face`]: the two-stage face pipeline (decode, detect, crop, classify) built on lanes.
//! - [`voice`]: the voice pipeline (decode, resample, segment, prosody, classify) on one lane.
//! - [`text`]: the text pipeline (spans, tokenization, token-budget batching) built on a lane.
//! - [`affect`]: labels to valence/arousal, and the per-reading summary every modality shares.
//!
//! This crate knows nothing about queues or job stores; the worker drives it.

pub mod affect;
mod blocking;
mod bound_run;
mod error;
pub mod face;
pub mod fusion;
pub mod image_input;
mod jpeg_end;
pub mod lane;
pub mod manifest;
mod permits;
pub mod repository;
pub mod runtime;
pub mod telemetry;
pub mod tensor_lane;
pub mod tensor_pool;
pub mod text;
pub mod voice;

pub use blocking::Preprocess;
pub use error::{InputError, ModelError};
pub use lane::{Batched, CancelToken, Lane, LaneConfig, LaneStats};
pub use repository::Repository;
pub use runtime::{Device, DeviceChoice, Runtime};
