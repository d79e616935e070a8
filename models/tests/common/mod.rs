//! Shared set-up for the model tests: the process's ONNX Runtime on CPU, and a text pipeline
//! over a model repository folder (the project's `models/repository`, or `models/testdata`).
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use soyl_models::face::BatchOverrides;
use soyl_models::runtime::RuntimeOptions;
use soyl_models::text::{TextOptions, TextParams, TextPipeline};
use soyl_models::{CancelToken, DeviceChoice, ModelError, Repository, Runtime};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `models/` of this checkout.
pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The process's ONNX Runtime (it allows one environment per process, and tests share a process).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::init(RuntimeOptions {
            device: DeviceChoice::Cpu,
            intra_threads: 0,
            spinning: false,
            preprocess_threads: 0,
            replicas: 0,
            cuda_graph: true,
        })
        .expect("ONNX Runtime (run scripts/setup-ort.sh)")
    })
}

/// The text pipeline of the repository folder `models/<folder>`.
pub fn pipeline(folder: &str, options: TextOptions) -> TextPipeline {
    pipeline_with(folder, BatchOverrides::default(), options)
}

/// The same with batching overrides.
pub fn pipeline_with(
    folder: &str,
    overrides: BatchOverrides,
    options: TextOptions,
) -> TextPipeline {
    let runtime = runtime();
    let repo = Repository::load(&models_dir().join(folder)).expect("model repository");
    TextPipeline::start_with(runtime, &repo, overrides, options)
        .expect("text lane")
        .expect("a text model in the repository")
}

/// The stable code of an input error, or a panic naming what came instead.
pub fn input_code<T: std::fmt::Debug>(result: Result<T, ModelError>) -> &'static str {
    match result {
        Err(ModelError::Input(e)) => e.code,
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// Analyses one text interactively, with a live cancel token.
pub async fn analyze(
    text: &TextPipeline,
    input: &str,
    params: TextParams,
) -> Result<soyl_models::text::TextAnalysis, ModelError> {
    text.analyze(input.to_owned(), params, true, &CancelToken::new())
        .await
}

/// The characters `begin..end` of `text` (offsets are Unicode scalar indices).
pub fn slice_chars(text: &str, begin: usize, end: usize) -> String {
    text.chars().skip(begin).take(end - begin).collect()
}
