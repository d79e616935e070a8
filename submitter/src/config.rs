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
    Serve(Box<ServeArgs>),
    /// Run the HTTP API only (the submitter service): jobs wait in the queue for workers.
    Api(Box<ServeArgs>),
    /// Run a worker only (the fleet); `--listen` answers just /health and /ready.
    Worker(Box<ServeArgs>),
    /// Create the backend's resources (queue + dead-letter queue, bucket, table). Never implicit.
    Init(InitArgs),
    /// Submit files (images, audio) as one job; prints the job id, or the result with --wait.
    Submit(SubmitArgs),
    /// Print a job's record.
    Status(JobArgs),
    /// Wait for a job to finish and print its record.
    Wait(JobArgs),
    /// Manage API keys in a data directory (create prints the key once).
    Keys(KeysArgs),
    /// Reprocess a directory or an `s3://` prefix: one bulk job per object, in a resumable batch.
    Reprocess(ReprocessArgs),
    /// Write one line per job of a batch (JSON Lines or CSV) to stdout.
    Export(ExportArgs),
    /// Measure this machine: raw model ceilings, preprocessing stages, end-to-end load over HTTP.
    Bench(BenchArgs),
}

/// Whether the API requires keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Every request needs `Authorization: Bearer <key>` (the default).
    Enabled,
    /// No keys; every caller is tenant `default`. For local use only.
    Disabled,
}

/// `soyl keys`.
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// Folder of the embedded backends (the same as `soyl serve --data-dir`).
    #[arg(
        long,
        env = "SOYL_DATA_DIR",
        default_value = "soyl-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Key actions.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Create a key for a tenant and print it (it is not shown again).
    Create {
        /// Tenant the key acts for (a-z 0-9 _ -).
        #[arg(long)]
        tenant: String,
        /// A label for the key.
        #[arg(long, default_value = "")]
        name: String,
        /// Requests per second for this key (default: the server's --rate-limit-per-s).
        #[arg(long)]
        rate_per_s: Option<f64>,
        /// Most queued + running jobs through this key (default: --max-concurrent-jobs).
        #[arg(long)]
        max_concurrent_jobs: Option<u64>,
    },
    /// List keys (ids, tenants, limits, revocation), never secrets.
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id; it stops working on the next request.
    Revoke {
        /// The key id (from `list`).
        id: String,
    },
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
    #[command(flatten)]
    /// Webhook settings.
    pub webhooks: WebhookArgs,
    /// Embedded backend: `POST /v1/batches` may reprocess local directories under this one only
    /// (symbolic links and `..` resolved first). Unset: local directory sources are refused.
    #[arg(long, env = "SOYL_BULK_ROOT")]
    pub bulk_root: Option<PathBuf>,
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
    /// AWS: URL of the SQS bulk job queue (`bulk` priority jobs, batches); workers read it with
    /// the weights of --interactive-weight / --bulk-weight. Unset: bulk jobs share --queue-url.
    #[arg(long, env = "SOYL_BULK_QUEUE_URL")]
    pub bulk_queue_url: Option<String>,
    /// AWS: URL of the bulk queue's dead-letter queue; workers fail its jobs with `dead_lettered`.
    #[arg(long, env = "SOYL_BULK_DLQ_URL")]
    pub bulk_dlq_url: Option<String>,
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
    /// Name of the SQS bulk job queue to create (its dead-letter queue is `{name}-dlq`).
    #[arg(long, env = "SOYL_BULK_QUEUE_NAME", default_value = "soyl-jobs-bulk")]
    pub bulk_queue_name: String,
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
    /// Let idle ONNX Runtime intra-op threads spin before sleeping (ONNX Runtime's own default).
    /// Off by default: spinning threads take the cores that decode images and audio.
    #[arg(long, env = "SOYL_ORT_SPIN")]
    pub ort_spin: bool,
    /// Media decoding, resizing and tokenization steps run at once across all jobs (0: one per
    /// core). Jobs beyond it wait their turn, holding only their encoded bytes.
    #[arg(long, env = "SOYL_PREPROCESS_THREADS", default_value_t = 0)]
    pub preprocess_threads: usize,
    /// ONNX Runtime sessions per model on the CPU, each on its own lane thread with the cores
    /// shared out among them as intra-op threads (0: one per core, at most 4; CUDA: always one).
    #[arg(long, env = "SOYL_REPLICAS", default_value_t = 0)]
    pub replicas: usize,
    /// On CUDA, run the face and other fixed-shape models by replaying a captured CUDA graph from
    /// fixed device buffers (`--cuda-graph false`: launch every kernel on every run).
    #[arg(long, env = "SOYL_CUDA_GRAPH", default_value_t = true, action = clap::ArgAction::Set)]
    pub cuda_graph: bool,
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
    /// Seconds one attempt at a job may run (media reads and analysis) before it is abandoned
    /// and released for redelivery, as a transient failure (after `--max-receives` deliveries
    /// the job ends `dead_lettered`); 0: no limit.
    #[arg(long, env = "SOYL_JOB_TIMEOUT_S", default_value_t = 600)]
    pub job_timeout_s: u64,
    /// First retry delay after a transient failure, in milliseconds: doubles per attempt (per
    /// delivery for redeliveries, per try for store and queue calls), jittered within the upper
    /// half of each step.
    #[arg(long, env = "SOYL_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// Largest retry delay, in milliseconds.
    #[arg(long, env = "SOYL_RETRY_MAX_MS", default_value_t = 300_000)]
    pub retry_max_ms: u64,
    /// Seconds after which a `queued` job that no worker ever claimed is given its queue message
    /// again (a submit cut short between the record and the enqueue); 0 turns the reconciler off.
    #[arg(long, env = "SOYL_RECONCILE_AFTER_S", default_value_t = 900)]
    pub reconcile_after_s: u64,
    /// Seconds between reconciler passes.
    #[arg(long, env = "SOYL_RECONCILE_EVERY_S", default_value_t = 60)]
    pub reconcile_every_s: u64,
    /// Fusion weight per modality, as `face=1,voice=0.8,text=0.6` (other sources weigh 1).
    #[arg(long, env = "SOYL_FUSION_WEIGHTS", default_value = "face=1,voice=0.8,text=0.6", value_parser = parse_weights)]
    pub fusion_weights: soyl_models::fusion::Weights,
    /// Receive rounds (out of interactive + bulk weight) that take interactive messages first.
    #[arg(long, env = "SOYL_INTERACTIVE_WEIGHT", default_value_t = 4)]
    pub interactive_weight: u32,
    /// Receive rounds that take bulk messages first (0: bulk work only fills slots that
    /// interactive work leaves free).
    #[arg(long, env = "SOYL_BULK_WEIGHT", default_value_t = 1)]
    pub bulk_weight: u32,
    /// Most bulk jobs in flight at once (the rest of --max-in-flight stays free for interactive work).
    #[arg(long, env = "SOYL_MAX_BULK_IN_FLIGHT", default_value_t = 4)]
    pub max_bulk_in_flight: usize,
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
    /// How long `/analyzeFace`, `/analyzeVoice` and `/analyzeText` wait for the result before
    /// answering 202 with the job id, and the longest `GET /v1/jobs/{id}?wait_ms=` long poll, in
    /// milliseconds (keep under API Gateway's 29 s).
    #[arg(long, env = "SOYL_SYNC_DEADLINE_MS", default_value_t = 25_000)]
    pub sync_deadline_ms: u64,
    /// Require API keys (`enabled`) or not (`disabled`: every caller is tenant `default`; local use only).
    #[arg(long, env = "SOYL_AUTH", value_enum, default_value = "enabled")]
    pub auth: AuthMode,
    /// Requests per second per API key (token bucket), unless the key sets its own.
    #[arg(long, env = "SOYL_RATE_LIMIT_PER_S", default_value_t = 50.0)]
    pub rate_limit_per_s: f64,
    /// Requests a key may make in a burst.
    #[arg(long, env = "SOYL_RATE_LIMIT_BURST", default_value_t = 100.0)]
    pub rate_limit_burst: f64,
    /// Most queued + running jobs per tenant, unless the key sets its own; more get 429.
    #[arg(long, env = "SOYL_MAX_CONCURRENT_JOBS", default_value_t = 10_000)]
    pub max_concurrent_jobs: u64,
    /// Longest text input, in UTF-8 bytes; longer texts get 413 `text_too_long`.
    #[arg(long, env = "SOYL_MAX_TEXT_BYTES", default_value_t = 1024 * 1024)]
    pub max_text_bytes: usize,
}

/// Webhook signing, retries and SSRF policy.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Key of the `Soyl-Signature` HMAC. Unset: a random key per process (logged as a warning:
    /// receivers cannot verify signatures, least of all across restarts).
    #[arg(long, env = "SOYL_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Accept `http://` callback URLs (default: https only).
    #[arg(long, env = "SOYL_WEBHOOK_ALLOW_HTTP", default_value_t = false)]
    pub webhook_allow_http: bool,
    /// Hosts exempt from the SSRF address check, comma-separated exact names or addresses
    /// (e.g. `127.0.0.1,hooks.local`), for local testing.
    #[arg(long, env = "SOYL_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub webhook_allow_hosts: Vec<String>,
    /// Attempts per webhook, the first included.
    #[arg(long, env = "SOYL_WEBHOOK_MAX_ATTEMPTS", default_value_t = 5)]
    pub webhook_max_attempts: u32,
    /// Wait before the first retry, in milliseconds (doubles per retry, capped at 5 minutes).
    #[arg(long, env = "SOYL_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    pub webhook_retry_base_ms: u64,
    /// Limit on one webhook request, in milliseconds.
    #[arg(long, env = "SOYL_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
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

/// Parses `name=weight,name=weight`.
fn parse_weights(text: &str) -> Result<soyl_models::fusion::Weights, String> {
    let mut weights = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: expected name=weight"))?;
        let weight: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("{pair:?}: weight is not a number"))?;
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(format!("{pair:?}: weight must be >= 0"));
        }
        weights.insert(name.trim().to_owned(), weight);
    }
    Ok(soyl_models::fusion::Weights(weights))
}

/// Arguments of `soyl bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Measure a running server at this URL instead of starting `soyl serve` (no ablation then).
    #[arg(long, env = "SOYL_BENCH_URL")]
    pub url: Option<String>,
    /// API key for the server at `--url` (sent as `Authorization: Bearer`); the servers the
    /// benchmark starts itself run with `--auth disabled` on loopback.
    #[arg(long, env = "SOYL_API_KEY")]
    pub api_key: Option<String>,
    /// Seconds of load per end-to-end point (per workload and concurrency).
    #[arg(long, env = "SOYL_BENCH_DURATION_S", default_value_t = 3.0)]
    pub duration_s: f64,
    /// A short run: 1 s points, concurrency 1 and 16 only, shorter ceiling and stage timings.
    #[arg(long)]
    pub quick: bool,
    /// Concurrency levels (closed-loop clients) of the end-to-end runs.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub concurrency: Vec<usize>,
    /// Workloads of the end-to-end runs: face1, face6, gallery (30 faces per image), voice, text.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "face1,face6,gallery,voice,text"
    )]
    pub workloads: Vec<String>,
    /// Also start the Python peer baseline (bench/baseline/app.py) and measure it on face1.
    #[arg(long)]
    pub baseline: bool,
    /// Python interpreter for the baseline (needs bench/baseline/requirements.txt installed).
    #[arg(long, env = "SOYL_BENCH_PYTHON", default_value = "python3")]
    pub python: String,
    /// Skip the `--max-batch 1` ablation run.
    #[arg(long)]
    pub no_ablation: bool,
    /// Skip the raw-session ceiling and preprocessing stage measurements.
    #[arg(long)]
    pub no_ceiling: bool,
    /// Model repository (for the ceiling, the stages and the server it starts).
    #[arg(long, env = "SOYL_MODELS", default_value = "models/repository")]
    pub models: PathBuf,
    /// Folder of the sample media (`faces/`, `voice/`).
    #[arg(long, env = "SOYL_BENCH_MEDIA", default_value = "../shared/media")]
    pub media: PathBuf,
    /// Device for the ceiling and the server: auto, cpu or cuda.
    #[arg(long, env = "SOYL_DEVICE", default_value = "auto")]
    pub device: soyl_models::DeviceChoice,
    /// Extra arguments for every `soyl serve` the benchmark starts (repeatable), e.g.
    /// `--serve-arg=--intra-threads=1`.
    #[arg(long, allow_hyphen_values = true)]
    pub serve_arg: Vec<String>,
    /// Folder for the report (`bench.md`, `bench.svg`, `bench.json`).
    #[arg(long, env = "SOYL_BENCH_OUT", default_value = "bench-results")]
    pub out: PathBuf,
}

/// Arguments of `soyl reprocess`.
#[derive(Debug, Clone, Args)]
pub struct ReprocessArgs {
    /// What to reprocess: a directory, or `s3://bucket/prefix` (with `--backend aws`).
    pub source: String,
    /// Folder of the embedded backends (the same as `soyl serve --data-dir`).
    #[arg(long, env = "SOYL_DATA_DIR", default_value = "soyl-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    /// Storage backend (the same settings as `soyl serve`).
    pub backend: BackendArgs,
    /// Largest object read from a source (`s3://` or a directory), in bytes; larger ones are
    /// counted as errors and never read.
    #[arg(long, default_value_t = 20 * 1024 * 1024)]
    pub max_object_bytes: u64,
    /// Tenant that owns the jobs.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Resume or extend this batch (default: an id derived from the source, filters, options
    /// and model versions, so re-running the same command resumes the same batch).
    #[arg(long)]
    pub batch: Option<String>,
    /// Only files with these extensions, e.g. `jpg,png,wav,txt`.
    #[arg(long, value_delimiter = ',')]
    pub ext: Vec<String>,
    /// Only files modified at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_rfc3339)]
    pub modified_since: Option<time::OffsetDateTime>,
    /// At most this many files (after the other filters, in listing order).
    #[arg(long)]
    pub max_items: Option<u64>,
    /// Analyses to run, e.g. `face,voice` (default: all that apply).
    #[arg(long, value_delimiter = ',', value_parser = parse_modality)]
    pub modalities: Option<Vec<soyl_jobs::Modality>>,
    /// Fuse the modalities into one reading.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub fuse: bool,
    /// Skip files that have a succeeded job in this other batch.
    #[arg(long)]
    pub skip_done_from: Option<String>,
    /// Model repository (its versions are part of each file's identity).
    #[arg(long, env = "SOYL_MODELS", default_value = "models/repository")]
    pub models: PathBuf,
    /// After enqueueing, show the batch live until every job has finished.
    #[arg(long)]
    pub wait: bool,
    /// No progress bar (for scripts); the summary line is still printed.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `soyl export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The batch id.
    pub batch: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: crate::bulk::ExportFormat,
    /// Folder of the embedded backends.
    #[arg(long, env = "SOYL_DATA_DIR", default_value = "soyl-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    /// Storage backend (the same settings as `soyl serve`).
    pub backend: BackendArgs,
    /// Tenant that owns the batch.
    #[arg(long, default_value = "default")]
    pub tenant: String,
}

fn parse_rfc3339(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?}: not RFC 3339: {e}"))
}

fn parse_modality(text: &str) -> Result<soyl_jobs::Modality, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?}: one of face, voice, text"))
}
