//! The `soyl` command line: every setting is a `--flag` with a `SOYL_*` environment variable, and
//! the doc comment on each field is its `--help` text. The only place the binary reads its
//! configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// soyl: asynchronous multimodal emotion inference.
#[derive(Debug, Parser)]
#[command(name = "soyl", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(
        long,
        env = "SOYL_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and a worker in one process (embedded or AWS backends).
    Serve(ServeArgs),
    /// Run the HTTP API only (the submitter service): jobs wait in the queue for workers.
    Api(ServeArgs),
    /// Run a worker only (the fleet); `--listen` answers just /health and /ready.
    Worker(ServeArgs),
    /// Create the backend's resources (queue + dead-letter queue, bucket, table). Never implicit.
    Init(InitArgs),
    /// Submit files (images, audio) as one job; prints the job id, or the result with --wait.
    Submit(SubmitArgs),
    /// Print a job's record.
    Status(JobArgs),
    /// Wait for a job to finish and print its record.
    Wait(JobArgs),
}

/// Settings of `soyl serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the HTTP API listens on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "SOYL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder for the embedded backend: `soyl.db` (queue and jobs) and `media/` (unused on AWS).
    #[arg(long, env = "SOYL_DATA_DIR", default_value = "soyl-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    /// Storage backend.
    pub backend: BackendArgs,
    #[command(flatten)]
    /// Model and inference settings.
    pub inference: InferenceArgs,
    #[command(flatten)]
    /// Worker settings.
    pub worker: WorkerArgs,
    #[command(flatten)]
    /// API limits.
    pub limits: ApiLimits,
}

/// Which implementation of the storage ports a process runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite (queue and jobs) and a media directory, under `--data-dir`.
    Embedded,
    /// SQS (queue + dead-letter queue), S3 (media, large records), DynamoDB (jobs).
    Aws,
}

/// Storage backend settings. AWS credentials, region and endpoint come from the SDK's standard
/// chain (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, roles), not from here.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Storage backend.
    #[arg(long, env = "SOYL_BACKEND", value_enum, default_value = "embedded")]
    pub backend: Backend,
    /// AWS: URL of the SQS job queue (printed by `soyl init --backend aws`).
    #[arg(long, env = "SOYL_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// AWS: URL of the SQS dead-letter queue; workers fail its jobs with `dead_lettered`.
    #[arg(long, env = "SOYL_DLQ_URL")]
    pub dlq_url: Option<String>,
    /// AWS: S3 bucket for media and for job records too large for DynamoDB.
    #[arg(long, env = "SOYL_BUCKET")]
    pub bucket: Option<String>,
    /// AWS: key prefix of media objects in the bucket.
    #[arg(long, env = "SOYL_MEDIA_PREFIX", default_value = "media/")]
    pub media_prefix: String,
    /// AWS: key prefix of job records too large for a DynamoDB item (over 350 KB).
    #[arg(long, env = "SOYL_RESULTS_PREFIX", default_value = "results/")]
    pub results_prefix: String,
    /// AWS: DynamoDB table of job records.
    #[arg(long, env = "SOYL_TABLE", default_value = "soyl-jobs")]
    pub table: String,
    /// AWS: days a job record is kept after its creation (DynamoDB TTL).
    #[arg(long, env = "SOYL_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,
    /// AWS: address S3 buckets in the URL path instead of the host name (local emulators).
    #[arg(long, env = "SOYL_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,
}

/// Arguments of `soyl init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Backend whose resources to create (the embedded backend creates its files on start).
    #[arg(long, env = "SOYL_BACKEND", value_enum)]
    pub backend: Backend,
    /// Name of the SQS job queue to create (its dead-letter queue is `{name}-dlq`).
    #[arg(long, env = "SOYL_QUEUE_NAME", default_value = "soyl-jobs")]
    pub queue_name: String,
    /// S3 bucket to create.
    #[arg(long, env = "SOYL_BUCKET", default_value = "soyl-media")]
    pub bucket: String,
    /// DynamoDB table to create.
    #[arg(long, env = "SOYL_TABLE", default_value = "soyl-jobs")]
    pub table: String,
    /// Receives of one message before the redrive policy moves it to the dead-letter queue.
    #[arg(long, env = "SOYL_MAX_RECEIVES", default_value_t = 5)]
    pub max_receives: u32,
    /// Default visibility timeout of the queue, in seconds.
    #[arg(long, env = "SOYL_VISIBILITY_TIMEOUT_S", default_value_t = 60)]
    pub visibility_timeout_s: u64,
    /// Address S3 buckets in the URL path instead of the host name (local emulators).
    #[arg(long, env = "SOYL_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,
}

/// Model and device settings.
#[derive(Debug, Clone, Args)]
pub struct InferenceArgs {
    /// Model repository: one folder per model, each with a model.toml.
    #[arg(long, env = "SOYL_MODELS", default_value = "models/repository")]
    pub models: PathBuf,
    /// Device: auto (CUDA when its provider loads, else CPU), cpu, or cuda (fail if unavailable).
    #[arg(long, env = "SOYL_DEVICE", default_value = "auto")]
    pub device: soyl_models::DeviceChoice,
    /// ONNX Runtime intra-op threads per model session (0: ONNX Runtime's default).
    #[arg(long, env = "SOYL_INTRA_THREADS", default_value_t = 0)]
    pub intra_threads: usize,
    /// Override every lane's maximum batch size (default: each model's manifest).
    #[arg(long, env = "SOYL_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Override every lane's batching delay in milliseconds (default: each model's manifest).
    #[arg(long, env = "SOYL_MAX_DELAY_MS")]
    pub max_delay_ms: Option<u64>,
    /// Largest accepted image side in pixels (checked from the header before decoding).
    #[arg(long, env = "SOYL_MAX_IMAGE_SIDE", default_value_t = 12_000)]
    pub max_image_side: u32,
    /// Largest accepted image area in pixels.
    #[arg(long, env = "SOYL_MAX_IMAGE_PIXELS", default_value_t = 40_000_000)]
    pub max_image_pixels: u64,
    /// Longest accepted audio, in seconds (refused from the container's header when it says so).
    #[arg(long, env = "SOYL_MAX_AUDIO_SECONDS", default_value_t = 600.0)]
    pub max_audio_seconds: f64,
    /// Most audio channels accepted (downmixed to mono for analysis).
    #[arg(long, env = "SOYL_MAX_AUDIO_CHANNELS", default_value_t = 8)]
    pub max_audio_channels: u32,
    /// Token budget of one text batch (padded tokens), overriding the text model's manifest.
    #[arg(long, env = "SOYL_MAX_BATCH_TOKENS")]
    pub max_batch_tokens: Option<usize>,
}

/// Queue consumer settings.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Jobs processed at once; the lanes batch across them.
    #[arg(long, env = "SOYL_MAX_IN_FLIGHT", default_value_t = 128)]
    pub max_in_flight: usize,
    /// Concurrent queue receive loops.
    #[arg(long, env = "SOYL_POLLERS", default_value_t = 2)]
    pub pollers: usize,
    /// Lease on a running job and visibility timeout of its message, in seconds (renewed every third).
    #[arg(long, env = "SOYL_VISIBILITY_TIMEOUT_S", default_value_t = 60)]
    pub visibility_timeout_s: u64,
    /// Deliveries of one message before it goes to the dead-letter queue and its job fails.
    #[arg(long, env = "SOYL_MAX_RECEIVES", default_value_t = 5)]
    pub max_receives: u32,
    /// Seconds in-flight jobs get to finish on SIGTERM before they are released for redelivery.
    #[arg(long, env = "SOYL_STOP_TIMEOUT_S", default_value_t = 30)]
    pub stop_timeout_s: u64,
    /// First redelivery delay after a transient failure, in milliseconds (doubles per attempt).
    #[arg(long, env = "SOYL_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// Run no worker in this process (API only; jobs wait in the queue).
    #[arg(long, env = "SOYL_NO_WORKER", default_value_t = false)]
    pub no_worker: bool,
}

/// Limits the API enforces at submit.
#[derive(Debug, Clone, Args)]
pub struct ApiLimits {
    /// Largest request body (all files of one job together), in bytes; larger requests get 413.
    #[arg(long, env = "SOYL_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Most inputs (files and texts) in one job.
    #[arg(long, env = "SOYL_MAX_INPUTS", default_value_t = 16)]
    pub max_inputs: usize,
    /// Longest text input, in UTF-8 bytes; longer texts get 413 `text_too_long`.
    #[arg(long, env = "SOYL_MAX_TEXT_BYTES", default_value_t = 1024 * 1024)]
    pub max_text_bytes: usize,
}

/// Where a client finds the server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of a running soyl API.
    #[arg(long, env = "SOYL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key, sent as `Authorization: Bearer`.
    #[arg(long, env = "SOYL_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Arguments of `soyl submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// Files to analyse (images; one job holds them all).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Job options as JSON (see the API's `options` part).
    #[arg(long)]
    pub options: Option<String>,
    /// Wait for the job to finish and print its record instead of its id.
    #[arg(long)]
    pub wait: bool,
    /// Longest wait, in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    #[command(flatten)]
    /// Server.
    pub server: ServerArgs,
}

/// Arguments of `soyl status` and `soyl wait`.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// The job id.
    pub id: String,
    /// Longest wait, in seconds (wait only).
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    #[command(flatten)]
    /// Server.
    pub server: ServerArgs,
}
