//! Errors of the inference library. [`InputError`] is the client's fault (bad media) and carries a
//! stable code that ends a job `failed` without retry; [`ModelError`] is ours or the runtime's.

/// Bad input: a stable code for the job record, and a sentence for a person. Codes are part of the
/// public API and listed in the README.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct InputError {
    /// Stable machine-readable code, e.g. `image_corrupt`.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl InputError {
    /// Builds an input error.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        InputError {
            code,
            message: message.into(),
        }
    }
}

/// Failures of the inference machinery.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The input cannot be analysed (never retried).
    #[error(transparent)]
    Input(#[from] InputError),
    /// ONNX Runtime shared library missing or unloadable.
    #[error("{0}")]
    RuntimeLibrary(String),
    /// ONNX Runtime failed while doing `operation` for `model`.
    #[error("onnxruntime failed to {operation} for model {model}: {message}")]
    Ort {
        /// The model name.
        model: String,
        /// What was being done ("load", "run", "read output").
        operation: &'static str,
        /// ORT's message.
        message: String,
    },
    /// A manifest that is missing, unreadable or inconsistent with its model.
    #[error("model manifest {path}: {message}")]
    Manifest {
        /// The manifest path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The lane is full: back off and retry (maps to 429 / redelivery).
    #[error("lane {lane} is overloaded")]
    Overloaded {
        /// The lane (model) name.
        lane: String,
    },
    /// The lane thread has stopped (shutdown or crash).
    #[error("lane {lane} has stopped")]
    LaneStopped {
        /// The lane (model) name.
        lane: String,
    },
    /// The item was skipped because its job was cancelled or its lease lost.
    #[error("work abandoned (job cancelled or lease lost)")]
    Abandoned,
    /// CUDA was asked for explicitly but cannot be used.
    #[error("device cuda requested but unavailable: {0}")]
    DeviceUnavailable(String),
}

impl ModelError {
    /// Builds an [`ModelError::Ort`] from any ORT error.
    pub fn ort(model: &str, operation: &'static str, err: impl std::fmt::Display) -> Self {
        ModelError::Ort {
            model: model.to_owned(),
            operation,
            message: err.to_string(),
        }
    }
}
