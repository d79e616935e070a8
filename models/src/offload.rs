//! Helpers every pipeline uses between the async side and the threads that do the work:
//! [`blocking`] moves CPU-heavy decoding onto tokio's blocking pool, [`unshare`] turns a lane's
//! shared batch error into an owned one. Called by the face and voice pipelines.

use crate::{InputError, ModelError};
use std::sync::Arc;

/// Runs CPU-heavy work on tokio's blocking pool; a panic there (a decoder bug on hostile input)
/// becomes an input error instead of taking the worker down.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, InputError> + Send + 'static,
) -> Result<T, ModelError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ModelError::Input),
        Err(e) => Err(ModelError::Input(InputError::new(
            "media_decoder_crashed",
            format!("the decoder failed on this input: {e}"),
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
