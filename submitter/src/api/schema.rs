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
#[serde(deny_unknown_fields)]
pub struct TextInput {
    /// The text (at most `--max-text-bytes`).
    pub text: String,
}

/// An input uploaded beforehand (`POST /v1/uploads`), named by its key.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaKeyInput {
    /// The `media_key` that `POST /v1/uploads` gave (an unknown or another tenant's key: 422
    /// `unknown_media_key`).
    #[schema(example = "default/uploads/01a21753-3d8c-7a11-9a55-6e0e2c6d1f0b")]
    pub media_key: String,
    /// The file's name, recorded with the input.
    #[schema(required = false)]
    pub filename: Option<String>,
}

/// One input of a JSON submission.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JsonInput {
    /// Inline text.
    Text(TextInput),
    /// Uploaded media.
    Media(MediaKeyInput),
}

/// JSON submission: texts and uploaded media named by key (the job's inputs are the media
/// first, then the texts, each in order); files can also go in multipart.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonSubmission {
    /// Inputs: 1 to `--max-inputs` (default 16).
    #[schema(min_items = 1, max_items = 16)]
    pub inputs: Vec<JsonInput>,
    /// Options.
    #[schema(required = false)]
    pub options: JobOptionsView,
}

/// Multipart submission: at least one `file` or `text` part (the document says so with `anyOf`,
/// see `openapi::AtLeastOneInput`); files and texts together at most `--max-inputs` (default 16).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MultipartSubmission {
    /// Media files (images, audio), one part each.
    #[schema(value_type = Vec<String>, format = Binary, max_items = 8, required = false)]
    pub file: Vec<String>,
    /// Inline texts, one part each.
    #[schema(max_items = 8, required = false)]
    pub text: Vec<String>,
    /// Options, as one part of JSON text.
    #[schema(required = false)]
    pub options: JobOptionsView,
}

/// Job options, every field optional; an unknown field is refused (422 `invalid_options`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOptionsView {
    /// Analyses to run; all that apply to the inputs when absent.
    pub modalities: Option<Vec<ModalityName>>,
    /// Fuse the modalities into one reading (default true).
    #[schema(required = false, default = true)]
    pub fuse: bool,
    /// Face settings.
    #[schema(required = false)]
    pub face: FaceOptionsView,
    /// Voice settings.
    #[schema(required = false)]
    pub voice: VoiceOptionsView,
    /// Text settings.
    #[schema(required = false)]
    pub text: TextOptionsView,
    /// Scheduling class (default `interactive`).
    #[schema(required = false)]
    pub priority: PriorityName,
    /// Where to POST the record when the job ends: `https://` to a public host (`--allow-http-callbacks` for `http://`; ports and IP addresses of public hosts are accepted too, beyond this pattern's safe subset; at most 2048 bytes once normalised, e.g. with the `/` an empty path gets).
    #[schema(
        max_length = 2047,
        pattern = "^https://[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}(/[a-zA-Z0-9/._~-]*)?(\\?[a-zA-Z0-9=&._~-]*)?$"
    )]
    pub callback_url: Option<String>,
    /// The bulk batch this job belongs to: 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub batch_id: Option<String>,
    /// Client data, returned as given.
    #[schema(value_type = Object, required = false)]
    pub metadata: serde_json::Value,
}

/// An analysis.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModalityName {
    /// Faces in images.
    Face,
    /// Speech in audio.
    Voice,
    /// Text.
    Text,
}

/// Scheduling class.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriorityName {
    /// A client is waiting.
    Interactive,
    /// Reprocessing and backfills.
    Bulk,
}

/// Face settings of a job.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaceOptionsView {
    /// Faces whose shorter side is under this many pixels are dropped (default 20).
    #[schema(required = false)]
    pub min_face_px: u32,
    /// At most this many faces, most confident first (default 32).
    #[schema(required = false)]
    pub max_faces: u32,
}

/// Voice settings of a job.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceOptionsView {
    /// Seconds between window starts: a quarter of the model's window up to the window (the default).
    #[schema(required = false)]
    pub hop_s: f32,
}

/// Text settings of a job.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextOptionsView {
    /// `document` (one span, the default) or `sentence`.
    #[schema(required = false)]
    pub granularity: GranularityName,
}

/// What one text reading covers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GranularityName {
    /// The whole text.
    Document,
    /// Each sentence.
    Sentence,
}

/// One reading for `/getEmotionState`.
#[derive(Serialize, ToSchema)]
pub struct Module {
    /// -1..1, required.
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub valence: f64,
    /// -1..1, optional.
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub arousal: Option<f64>,
    /// 0..1, default 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// `face`, `voice`, `text` (weighted by modality) or any name (weight 1).
    #[schema(min_length = 1, max_length = 64)]
    pub source: Option<String>,
}

/// `/getEmotionState` body.
#[derive(Serialize, ToSchema)]
pub struct EmotionStateRequest {
    /// 1 to 64 readings.
    #[schema(min_items = 1, max_items = 64)]
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
#[serde(deny_unknown_fields)]
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

/// Where to upload media ahead of a job (`POST /v1/uploads`).
#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    /// The key a JSON job names the media by (`{"media_key": ...}`).
    #[schema(example = "default/uploads/01a21753-3d8c-7a11-9a55-6e0e2c6d1f0b")]
    pub media_key: String,
    /// Where to send the bytes: absolute (a presigned S3 URL: no API key) or a path on this API
    /// (send the API key).
    pub upload_url: String,
    /// `PUT`.
    pub method: String,
    /// Seconds the URL stays valid.
    pub expires_in_s: u64,
}

/// An upload stored (`PUT /v1/uploads/{id}`).
#[derive(Serialize, ToSchema)]
pub struct UploadStored {
    /// The key a JSON job names the media by.
    pub media_key: String,
    /// Bytes stored.
    pub size: u64,
}
