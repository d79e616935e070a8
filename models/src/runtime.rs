//! ONNX Runtime: finding the shared library, choosing the device, building sessions.
//!
//! `ort` is linked with `load-dynamic`, so the library is found at run time, in this order:
//! `ORT_DYLIB_PATH`; `libonnxruntime.so*` next to the executable or in its `lib/` folder; a `.ort/`
//! folder in the current directory or any parent (where `scripts/setup-ort.sh` installs it); the
//! `.ort/` folder of the source checkout this binary was built from. If none exists, start-up fails
//! with a message that says how to install it.
//!
//! Built once per process by the binary; lanes ask it for sessions.

use crate::ModelError;
use ort::session::Session;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the operator asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when its provider loads, else CPU (and say so).
    #[default]
    Auto,
    /// CPU only.
    Cpu,
    /// CUDA or fail: never a silent fallback.
    Cuda,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda),
            other => Err(format!("unknown device {other:?}: use auto, cpu or cuda")),
        }
    }
}

/// The device sessions actually run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// ONNX Runtime's CUDA provider.
    Cuda,
}

/// Session settings shared by every lane.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Device policy.
    pub device: DeviceChoice,
    /// Intra-op threads per session (0: ONNX Runtime's default).
    pub intra_threads: usize,
    /// Whether idle intra-op threads spin before sleeping (ONNX Runtime's default is yes). Off,
    /// they leave the cores to image and audio decoding between batches.
    pub spinning: bool,
    /// CPU preprocessing steps (decode, resize, tokenize) that run at once across every pipeline
    /// (0: one per available core).
    pub preprocess_threads: usize,
    /// Sessions per model on the CPU, each run by its own lane thread on batches from the same
    /// queue (0: one per core, at most 4). CUDA models always get one.
    pub replicas: usize,
    /// Whether tensor lanes on CUDA capture their model as a CUDA graph and replay it from fixed
    /// device buffers (falling back to plain runs for a model it cannot capture).
    pub cuda_graph: bool,
}

/// Most CPU replicas per model under `replicas: 0`.
const MAX_AUTO_REPLICAS: usize = 4;

/// The loaded ONNX Runtime: its environment, the library path, and the device policy. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    env: ort::environment::Environment,
    library: PathBuf,
    options: RuntimeOptions,
    preprocess: crate::Preprocess,
    /// Set once a session under `auto` failed to get CUDA, so later sessions go straight to CPU.
    cuda_failed: AtomicBool,
}

impl Runtime {
    /// Finds and loads the ONNX Runtime library and builds the environment.
    pub fn init(options: RuntimeOptions) -> Result<Runtime, ModelError> {
        let library = find_library().ok_or_else(|| {
            ModelError::RuntimeLibrary(
                "ONNX Runtime library not found. Run `scripts/setup-ort.sh` in the soyl checkout \
                 (installs it into .ort/ from the onnxruntime PyPI wheel), or set ORT_DYLIB_PATH \
                 to a libonnxruntime.so (1.22 or newer)."
                    .to_owned(),
            )
        })?;
        let env = ort::init_from(&library)
            .map_err(|e| {
                ModelError::RuntimeLibrary(format!(
                    "cannot load ONNX Runtime from {}: {e}",
                    library.display()
                ))
            })?
            .with_name("soyl")
            .build()
            .map_err(|e| {
                ModelError::RuntimeLibrary(format!("cannot start ONNX Runtime environment: {e}"))
            })?;
        tracing::info!(library = %library.display(), "onnxruntime loaded");
        Ok(Runtime {
            inner: Arc::new(Inner {
                env,
                library,
                preprocess: crate::Preprocess::new(options.preprocess_threads),
                options,
                cuda_failed: AtomicBool::new(false),
            }),
        })
    }

    /// The preprocessing capacity every pipeline on this runtime shares.
    pub fn preprocess(&self) -> &crate::Preprocess {
        &self.inner.preprocess
    }

    /// Sessions (and lane threads) per model on `device`: several small sessions of one
    /// intra-op thread each use CPU cores better than one session spread over them, since these
    /// models' operators are too small to split well (face detector, 2 cores: 855 images/s from
    /// two 1-thread sessions against 385-560 from one 2-thread session).
    pub fn replicas(&self, device: Device) -> usize {
        match (device, self.inner.options.replicas) {
            (Device::Cuda, _) => 1,
            (Device::Cpu, 0) => cores().min(MAX_AUTO_REPLICAS),
            (Device::Cpu, n) => n,
        }
    }

    /// Intra-op threads of a CPU session: as configured, else the cores shared out among the
    /// replicas (0 would let every replica's session start a thread per core).
    fn cpu_intra_threads(&self) -> usize {
        match self.inner.options.intra_threads {
            0 => (cores() / self.replicas(Device::Cpu)).max(1),
            n => n,
        }
    }

    /// Whether CUDA tensor lanes should try a CUDA graph session ([`Runtime::graph_session`]).
    pub fn cuda_graph(&self) -> bool {
        self.inner.options.cuda_graph
    }

    /// A CUDA session that captures its first runs as a CUDA graph and replays it: only for runs
    /// through I/O binding on fixed device buffers of one shape (`crate::bound_run`).
    pub fn graph_session(&self, model: &str, path: &Path) -> Result<Session, ModelError> {
        self.build_with(
            model,
            path,
            Some(Cuda::Graph),
            self.inner.options.intra_threads,
        )
    }

    /// Path of the library in use.
    pub fn library(&self) -> &Path {
        &self.inner.library
    }

    /// Builds a session for `model` from `path` on the chosen device, and says which device it got.
    /// `cuda_allowed: false` (the manifest's `cuda = false`) keeps it on the CPU whatever the
    /// device policy.
    pub fn session(
        &self,
        model: &str,
        path: &Path,
        cuda_allowed: bool,
    ) -> Result<(Session, Device), ModelError> {
        let opts = &self.inner.options;
        if !cuda_allowed && opts.device != DeviceChoice::Cpu {
            tracing::info!(
                model,
                "manifest says cuda = false: this model runs on the CPU"
            );
            return Ok((self.build(model, path, false)?, Device::Cpu));
        }
        let want_cuda = match opts.device {
            DeviceChoice::Cpu => false,
            DeviceChoice::Cuda => true,
            DeviceChoice::Auto => !self.inner.cuda_failed.load(Ordering::Relaxed),
        };
        if want_cuda {
            match self.build(model, path, true) {
                Ok(session) => return Ok((session, Device::Cuda)),
                Err(e) if opts.device == DeviceChoice::Cuda => {
                    return Err(ModelError::DeviceUnavailable(e.to_string()))
                }
                Err(e) => {
                    self.inner.cuda_failed.store(true, Ordering::Relaxed);
                    tracing::info!(model, reason = %e, "device auto: CUDA unavailable, using CPU");
                }
            }
        }
        Ok((self.build(model, path, false)?, Device::Cpu))
    }

    /// A CPU session with `intra_threads` intra-op threads (0: ONNX Runtime's default), whatever
    /// the replica settings: for measuring sessions shaped other ways (`soyl bench`'s ceiling).
    pub fn cpu_session(
        &self,
        model: &str,
        path: &Path,
        intra_threads: usize,
    ) -> Result<Session, ModelError> {
        self.build_with(model, path, None, intra_threads)
    }

    fn build(&self, model: &str, path: &Path, cuda: bool) -> Result<Session, ModelError> {
        if cuda {
            self.build_with(
                model,
                path,
                Some(Cuda::Plain),
                self.inner.options.intra_threads,
            )
        } else {
            self.build_with(model, path, None, self.cpu_intra_threads())
        }
    }

    fn build_with(
        &self,
        model: &str,
        path: &Path,
        cuda: Option<Cuda>,
        intra_threads: usize,
    ) -> Result<Session, ModelError> {
        let load = |e: ort::Error<_>| ModelError::ort(model, "load", e);
        let mut builder = Session::builder(&self.inner.env).map_err(load)?;
        if let Some(cuda) = cuda {
            builder = builder
                // Heuristic, not ONNX Runtime's exhaustive default: the exhaustive search
                // benchmarks every cuDNN algorithm on the first run of each new input shape,
                // which cost seconds per batch size end to end (see docs/performance.md).
                .with_execution_providers([ort::ep::CUDA::default()
                    .with_conv_algorithm_search(ort::ep::cuda::ConvAlgorithmSearch::Heuristic)
                    .with_cuda_graph(cuda == Cuda::Graph)
                    .build()
                    .error_on_failure()])
                .map_err(|e| ModelError::ort(model, "enable CUDA", ort::Error::<()>::from(e)))?;
        }
        builder = builder
            .with_intra_op_spinning(self.inner.options.spinning)
            .map_err(|e| ModelError::ort(model, "configure", ort::Error::<()>::from(e)))?;
        if intra_threads > 0 {
            builder = builder
                .with_intra_threads(intra_threads)
                .map_err(|e| ModelError::ort(model, "configure", ort::Error::<()>::from(e)))?;
        }
        builder
            .commit_from_file(path)
            .map_err(|e| ModelError::ort(model, "load", e))
    }
}

/// How a session uses the CUDA provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cuda {
    /// Kernels launched one by one on every run.
    Plain,
    /// The first runs captured as a CUDA graph and replayed after.
    Graph,
}

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Looks for the ONNX Runtime shared library in the documented places.
fn find_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("lib"));
        dirs.push(exe_dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        dirs.extend(cwd.ancestors().map(|d| d.join(".ort")));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ort"));
    dirs.iter().find_map(|d| library_in(d))
}

fn library_in(dir: &Path) -> Option<PathBuf> {
    let plain = dir.join("libonnxruntime.so");
    if plain.is_file() {
        return Some(plain);
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so."))
        })
}
