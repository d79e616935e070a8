//! The API's documented shapes, for the OpenAPI document only: handlers build JSON from the job
//! model directly, and `tests/tests/openapi.rs` checks that served answers match these.

use serde::Serialize;
use utoipa::ToSchema;

/// The one error shape.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a sentence.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (see the README's tables).
    #[schema(example = "not_found")]
    pub code: String,
    /// For a person.
    pub message: String,
}

/// Links of a job.
#[derive(Serialize, ToSchema)]
pub struct Links {
    /// The job's URL.
    #[serde(rename = "self")]
    #[schema(example = "/v1/jobs/01a21753-3d8c-7a11-9a55-6e0e2c6d1f0b")]
    pub self_: String,
}

/// Answer to an accepted submission (also `/analyze*` past the deadline).
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// The job id (UUIDv7).
    pub job_id: String,
    /// `queued`.
    pub status: String,
    /// Where to poll.
    pub links: Links,
}

/// Job status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting in the queue.
    Queued,
    /// A worker holds it.
    Running,
    /// Done, with `result`.
    Succeeded,
    /// Done, with `error`.
    Failed,
    /// Cancelled by its tenant.
    Cancelled,
}

/// One input of a job.
#[derive(Serialize, ToSchema)]
pub struct InputView {
    /// `image`, `audio` or `text` (sniffed from the bytes).
    pub kind: String,
    /// Stored media key, for media.
    pub media_key: Option<String>,
    /// The text, for text inputs.
    pub text: Option<String>,
    /// The client's file name.
    pub filename: Option<String>,
    /// Bytes.
    pub size: u64,
}

/// A job record.
#[derive(Serialize, ToSchema)]
pub struct JobRecord {
    /// Job id.
    pub id: String,
    /// Owning tenant.
    pub tenant: String,
    /// Status.
    pub status: JobStatus,
    /// Inputs in submission order.
    pub inputs: Vec<InputView>,
    /// Options as submitted (with defaults).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once claimed.
    pub started_at: Option<String>,
    /// RFC 3339, once terminal.
    pub finished_at: Option<String>,
    /// Claims so far.
    pub attempts: u32,
    /// The result (version 1: `face`, `voice`, `text`, `fused`, `models`, `stats`), once succeeded.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The error, once failed.
    pub error: Option<ErrorDetail>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
}

/// A page of jobs.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    /// Jobs, oldest first.
    pub jobs: Vec<JobRecord>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A text input.
#[derive(Serialize, ToSchema)]
pub struct TextInput {
    /// The text (at most `--max-text-bytes`).
    pub text: String,
}

/// JSON submission (texts only; media goes in multipart).
#[derive(Serialize, ToSchema)]
pub struct JsonSubmission {
    /// Inputs.
    pub inputs: Vec<TextInput>,
    /// `{"modalities", "fuse", "face": {"min_face_px", "max_faces"}, "voice": {"hop_s"},
    /// "text": {"granularity": "document"|"sentence"}, "priority", "callback_url", "batch_id", "metadata"}`.
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
}

/// Multipart submission.
#[derive(Serialize, ToSchema)]
pub struct MultipartSubmission {
    /// Media files (images, audio), one part each.
    #[schema(value_type = Vec<String>, format = Binary)]
    pub file: Vec<String>,
    /// Inline texts, one part each.
    pub text: Vec<String>,
    /// Options as JSON text.
    pub options: Option<String>,
}

/// One reading for `/getEmotionState`.
#[derive(Serialize, ToSchema)]
pub struct Module {
    /// -1..1, required.
    pub valence: f64,
    /// -1..1, optional.
    pub arousal: Option<f64>,
    /// 0..1, default 1.
    pub confidence: Option<f64>,
    /// `face`, `voice`, `text` (weighted by modality) or any name (weight 1).
    pub source: Option<String>,
}

/// `/getEmotionState` body.
#[derive(Serialize, ToSchema)]
pub struct EmotionStateRequest {
    /// 1 to 64 readings.
    pub modules: Vec<Module>,
}

/// A fused source.
#[derive(Serialize, ToSchema)]
pub struct FusedSource {
    /// Source name.
    pub modality: String,
    /// Share of the fused point (sums to 1).
    pub weight: f64,
    /// Its valence.
    pub valence: f64,
    /// Its arousal.
    pub arousal: Option<f64>,
    /// Its confidence.
    pub confidence: f64,
}

/// A fused emotional state.
#[derive(Serialize, ToSchema)]
pub struct FusedState {
    /// -1..1 (null without weighted sources).
    pub valence: Option<f64>,
    /// -1..1 (null when no source measures arousal).
    pub arousal: Option<f64>,
    /// 0..1.
    pub confidence: f64,
    /// 0..1.
    pub agreement: f64,
    /// Circumplex octant or `neutral` / `unknown`.
    pub label: String,
    /// Sources with weights.
    pub sources: Vec<FusedSource>,
}

/// `/analyzeText` body.
#[derive(Serialize, ToSchema)]
pub struct AnalyzeTextRequest {
    /// The text.
    pub text: String,
}

/// `/analyzeFace`, `/analyzeVoice` body.
#[derive(Serialize, ToSchema)]
pub struct FileUpload {
    /// The image or audio file.
    #[schema(value_type = String, format = Binary)]
    pub file: String,
}

/// Body of `POST /v1/batches`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// `s3://bucket/prefix` (AWS backend), or a directory under the server's `--bulk-root`
    /// (embedded backend; a relative path is taken under the root).
    #[schema(example = "s3://media-archive/2024/")]
    pub source: String,
    /// Which objects to take: `ext` (e.g. `["jpg", "wav"]`), `modified_since` (RFC 3339),
    /// `max_items`.
    #[serde(default)]
    pub filters: crate::bulk::Filters,
    /// Analyses to run (`face`, `voice`, `text`; default: all that apply).
    #[schema(value_type = Option<Vec<String>>)]
    pub modalities: Option<Vec<soyl_jobs::Modality>>,
    /// Fuse the modalities into one reading (default true).
    #[serde(default = "yes")]
    pub fuse: bool,
    /// Resume or extend this batch (default: an id derived from the tenant, source, filters,
    /// options and model versions, so the same request resumes the same batch).
    pub batch_id: Option<String>,
    /// Skip objects that have a succeeded job in this other batch.
    pub skip_done_from: Option<String>,
}

fn yes() -> bool {
    true
}

/// Links of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchLinks {
    /// The batch's URL.
    #[serde(rename = "self")]
    #[schema(example = "/v1/batches/b-3f9a0c1d2e4b5a69")]
    pub self_: String,
}

/// Answer to `POST /v1/batches`.
#[derive(Serialize, ToSchema)]
pub struct BatchAccepted {
    /// The batch id.
    pub batch_id: String,
    /// Whether this request started a listing (false: one of this batch was already running).
    pub started: bool,
    /// Where to poll.
    pub links: BatchLinks,
}
