//! Helpers every pipeline shares for leaving the async runtime and coming back: CPU-heavy steps
//! (image decoding, cropping, tokenization) run on tokio's blocking pool, and lane errors shared
//! across a batch become owned errors again. Used by every pipeline.

use crate::{InputError, ModelError};
use std::sync::Arc;

/// Code for a media decoder (image or audio) that panicked on an input.
pub(crate) const DECODER_CRASHED: &str = "media_decoder_crashed";

/// Runs CPU-heavy work on tokio's blocking pool; a panic there (a decoder or tokenizer bug on
/// hostile input) becomes an input error with `crash_code` instead of taking the worker down.
pub(crate) async fn blocking<T: Send + 'static>(
    crash_code: &'static str,
    f: impl FnOnce() -> Result<T, InputError> + Send + 'static,
) -> Result<T, ModelError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ModelError::Input),
        Err(e) => Err(ModelError::Input(InputError::new(
            crash_code,
            format!("processing this input failed: {e}"),
        ))),
    }
}

/// Lane errors are shared between the items of a batch; callers want an owned error.
pub(crate) fn unshare(e: Arc<ModelError>) -> ModelError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| match &*shared {
        ModelError::Input(i) => ModelError::Input(i.clone()),
        ModelError::Overloaded { lane } => ModelError::Overloaded { lane: lane.clone() },
        ModelError::LaneStopped { lane } => ModelError::LaneStopped { lane: lane.clone() },
        ModelError::Abandoned => ModelError::Abandoned,
        other => ModelError::Ort {
            model: "lane".into(),
            operation: "run batch",
            message: other.to_string(),
        },
    })
}
