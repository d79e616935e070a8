//! Helpers every pipeline shares for leaving the async runtime and coming back: CPU-heavy steps
//! (image decoding, cropping, tokenization) run on tokio's blocking pool, at most one per core at
//! a time ([`Preprocess`]), and lane errors shared across a batch become owned errors again. Used
//! by every pipeline.

use crate::permits::PriorityPermits;
use crate::{InputError, ModelError};
use std::sync::Arc;

/// Code for a media decoder (image or audio) that panicked on an input.
pub(crate) const DECODER_CRASHED: &str = "media_decoder_crashed";

/// The process's preprocessing capacity: CPU-heavy steps of every pipeline run on tokio's
/// blocking pool, at most `threads` at once, interactive jobs' steps first, then bulk ones, each
/// in arrival order ([`PriorityPermits`]). Without the bound, every
/// job in flight decodes at once (tokio's pool grows to 512 threads): the cores thrash between
/// decoders, and each holds its whole decoded image (9.4 MB of RGB for a 2048x1536 photo) until
/// all of them finish. Cheap to clone; one per [`crate::Runtime`].
#[derive(Debug, Clone)]
pub struct Preprocess {
    permits: PriorityPermits,
    threads: usize,
}

impl Preprocess {
    /// At most `threads` steps at once (0: one per available core).
    pub fn new(threads: usize) -> Self {
        let threads = if threads == 0 {
            crate::runtime::cores()
        } else {
            threads
        };
        Preprocess {
            permits: PriorityPermits::new(threads),
            threads,
        }
    }

    /// Steps that may run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on the blocking pool once a thread is free for it (see [`blocking`]): ahead of
    /// bulk work when `interactive`.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        interactive: bool,
        crash_code: &'static str,
        f: impl FnOnce() -> Result<T, InputError> + Send + 'static,
    ) -> Result<T, ModelError> {
        let _permit = self.permits.acquire(interactive).await;
        blocking(crash_code, f).await
    }
}

/// Runs CPU-heavy work on tokio's blocking pool; a panic there (a decoder or tokenizer bug on
/// hostile input) becomes an input error with `crash_code` instead of taking the worker down.
/// [`Preprocess::run`] bounds how many run at once; short steps that free memory call this
/// directly, so that they do not queue behind new decodes.
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
