//! The job model: ids, tenants, the status machine, inputs, options and the record clients poll.

use crate::{Error, MediaKey, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// A job id: a 128-bit UUIDv7, time-ordered and unguessable (74 random bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh id.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }

    /// When the id was generated (the millisecond timestamp of the UUIDv7), which is when its job
    /// was created.
    pub fn created_at(&self) -> Option<time::OffsetDateTime> {
        let (seconds, nanos) = self.0.get_timestamp()?.to_unix();
        let seconds = i64::try_from(seconds).ok()?;
        let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
        Some(at + time::Duration::nanoseconds(i64::from(nanos)))
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s).map(JobId).map_err(|_| Error::Invalid {
            what: "job id",
            value: s.chars().take(64).collect(),
            reason: "not a UUID",
        })
    }
}

/// A tenant name: `[a-z0-9_-]{1,64}`. Every read of a job is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tenant(String);

impl Tenant {
    /// Validates a tenant name.
    pub fn parse(value: &str) -> Result<Self> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Tenant(value.to_owned()))
        } else {
            Err(Error::Invalid {
                what: "tenant",
                value: value.chars().take(64).collect(),
                reason: "must be 1 to 64 of a-z 0-9 _ -",
            })
        }
    }

    /// The tenant used when authentication is disabled.
    pub fn default_tenant() -> Self {
        Tenant("default".to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Tenant {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Tenant::parse(&value)
    }
}

impl From<Tenant> for String {
    fn from(t: Tenant) -> String {
        t.0
    }
}

/// Where a job is in its life. `queued -> running -> succeeded | failed`, and
/// `queued | running -> cancelled`; a running job whose lease lapsed may be claimed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted and waiting in the queue.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error `{code, message}`.
    Failed,
    /// Cancelled by its tenant.
    Cancelled,
}

impl Status {
    /// True for the states nothing may leave.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }

    /// The stable lowercase name, as stored and as shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

impl FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => {
                return Err(Error::Invalid {
                    what: "status",
                    value: s.chars().take(32).collect(),
                    reason: "one of queued, running, succeeded, failed, cancelled",
                })
            }
        })
    }
}

/// Scheduling class: interactive work goes before bulk work in every lane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// A client is waiting (the default).
    #[default]
    Interactive,
    /// Reprocessing and backfills.
    Bulk,
}

/// What kind of media an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A still image (faces).
    Image,
    /// A sound recording (voice).
    Audio,
    /// Text, inline.
    Text,
}

/// An analysis a job may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Face detection and facial expression.
    Face,
    /// Speech emotion and prosody.
    Voice,
    /// Text sentiment.
    Text,
}

/// One input of a job: stored media by key, or inline text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// What the input is (sniffed from the bytes at submit when it is media).
    pub kind: InputKind,
    /// Where the bytes are, for media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_key: Option<MediaKey>,
    /// The text, for text inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The client's file name, for the record only (never used as a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Size in bytes of the media or text.
    #[serde(default)]
    pub size: u64,
}

/// Face-pipeline settings of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceOptions {
    /// Faces smaller than this many pixels on their shorter side are dropped.
    #[serde(deserialize_with = "whole_number")]
    pub min_face_px: u32,
    /// At most this many faces per image are analysed (the most confident first).
    #[serde(deserialize_with = "whole_number")]
    pub max_faces: u32,
}

/// A `u32` written as any JSON number with no fraction (`20` or `20.0`): JSON Schema, and so the
/// OpenAPI document, counts both as integers.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u32, D::Error> {
    let x = f64::deserialize(d)?;
    if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
        Ok(x as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {}, got {x}",
            u32::MAX
        )))
    }
}

impl Default for FaceOptions {
    fn default() -> Self {
        FaceOptions {
            min_face_px: 20,
            max_faces: 32,
        }
    }
}

/// Voice-pipeline settings of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceOptions {
    /// Seconds between window starts (default: the model's window length, i.e. no overlap).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "finite_f32"
    )]
    pub hop_s: Option<f32>,
}

/// An optional `f32` that must be finite: a JSON number beyond `f32`'s range would become
/// infinity, which would be stored as `null` and silently read back as "not set".
fn finite_f32<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<f32>, D::Error> {
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(value) if (value as f32).is_finite() => Ok(Some(value as f32)),
        Some(value) => Err(serde::de::Error::custom(format!(
            "{value} is out of range for a number of seconds"
        ))),
    }
}

/// How text is cut into spans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextGranularity {
    /// One span for the whole text.
    #[default]
    Document,
    /// One span per sentence (Unicode sentence boundaries).
    Sentence,
}

/// Text-pipeline settings of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextOptions {
    /// Span granularity.
    pub granularity: TextGranularity,
}

/// What a client asked for beyond the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobOptions {
    /// Analyses to run; all that apply to the inputs when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modalities: Option<Vec<Modality>>,
    /// Whether to fuse the modalities into one valence/arousal reading (default true).
    pub fuse: bool,
    /// Face-pipeline settings.
    pub face: FaceOptions,
    /// Voice-pipeline settings.
    pub voice: VoiceOptions,
    /// Text-pipeline settings.
    pub text: TextOptions,
    /// Scheduling class.
    pub priority: Priority,
    /// Where to POST the record when the job ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The bulk batch this job belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// Client data, returned as given.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            modalities: None,
            fuse: true,
            face: FaceOptions::default(),
            voice: VoiceOptions::default(),
            text: TextOptions::default(),
            priority: Priority::default(),
            callback_url: None,
            batch_id: None,
            metadata: serde_json::Value::Null,
        }
    }
}

/// Why a job failed: a stable machine-readable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// Stable code (documented in the README), e.g. `image_undecodable`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

impl JobError {
    /// Builds an error from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Who holds a running job, and until when. Only the holder may finish the job; a lease that
/// lapsed may be taken over by the next claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// An id unique to one claim (worker id plus a fresh suffix).
    pub holder: String,
    /// When the lease lapses unless renewed.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// How the webhook of a finished job went: written once the delivery (all its attempts) is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// The host of the callback URL (the full URL may carry secrets and stays in the options).
    pub url_host: String,
    /// HTTP requests made, retries included (redirect hops count within one attempt).
    pub attempts: u32,
    /// True when a receiver answered 2xx.
    pub delivered: bool,
    /// The HTTP status of the last answer, if any answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Why the last attempt failed (transport error, refused target, status), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the delivery ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
}

/// A job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job id.
    pub id: JobId,
    /// The owning tenant.
    pub tenant: Tenant,
    /// Where the job is in its life.
    pub status: Status,
    /// The inputs, in submission order (`input` indices in the result refer to these).
    pub inputs: Vec<Input>,
    /// What the client asked for.
    pub options: JobOptions,
    /// When the job was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a worker last claimed it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it reached a terminal state.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// How many times a worker has claimed it.
    pub attempts: u32,
    /// The result, once succeeded (shape: see ARCHITECTURE.md, versioned by `result.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The error, once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
    /// The client's idempotency key, if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Hash of the request body that went with the idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    /// The current lease, while running (internal: the API does not show it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// How the webhook went, once its delivery ended (only for jobs with a `callback_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookOutcome>,
}

impl Job {
    /// A new queued job.
    pub fn new(tenant: Tenant, inputs: Vec<Input>, options: JobOptions) -> Self {
        Job {
            id: JobId::new(),
            tenant,
            status: Status::Queued,
            inputs,
            options,
            created_at: OffsetDateTime::now_utc(),
            started_at: None,
            finished_at: None,
            attempts: 0,
            result: None,
            error: None,
            idempotency_key: None,
            request_hash: None,
            lease: None,
            webhook: None,
        }
    }

    /// The record as clients see it, in `GET /v1/jobs/{id}` and in webhook bodies: everything
    /// but the internal fields (lease, request hash).
    pub fn public_json(&self) -> serde_json::Value {
        // Serialising a Job cannot fail (string keys, no custom serialisers that error); the
        // fallback keeps the id visible should that ever change.
        let mut value =
            serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({ "id": self.id }));
        if let Some(object) = value.as_object_mut() {
            object.remove("lease");
            object.remove("request_hash");
        }
        value
    }
}
