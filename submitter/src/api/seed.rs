//! The original API's endpoints, kept for existing clients: `POST /getEmotionState` fuses readings
//! the caller already has (the same fusion code as jobs), and `POST /analyzeFace`,
//! `/analyzeVoice`, `/analyzeText` submit a job restricted to one modality, wait up to the
//! synchronous deadline (default 25 s, under API Gateway's 29 s), then answer `200` with the
//! record or `202` with the job id and its polling URL.

use super::auth::{check_quota, Caller};
use super::error::ApiError;
use super::jobs::{accepted, with_timing_headers};
#[allow(unused_imports)] // used by the OpenAPI attributes
use super::schema::*;
use super::wait::until_terminal;
use super::{multipart, AppState};
use crate::intake::Submission;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use soyl_jobs::{JobOptions, Modality};
use soyl_models::fusion::{fuse, Source};
use std::time::Duration;

/// `POST /getEmotionState`: `{"modules": [{"valence", "arousal", "confidence", "source"}]}`.
#[utoipa::path(post, path = "/getEmotionState", tag = "seed", security(("bearer" = [])),
    request_body(content = EmotionStateRequest, content_type = "application/json"),
    responses((status = 200, description = "fused state", body = FusedState), (status = 400, description = "not JSON", body = ErrorBody), (status = 422, description = "invalid field (named in the message)", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn get_emotion_state(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("body is not JSON: {e}")))?;
    let sources = modules(&value)?;
    Ok(Json(json!(fuse(&sources, &state.fusion_weights))))
}

fn invalid(field: String, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        format!("{field} {what}"),
    )
}

/// Validates the modules, naming the first bad field.
fn modules(body: &Value) -> Result<Vec<Source>, ApiError> {
    let list = body
        .get("modules")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("modules".into(), "must be an array of readings"))?;
    if list.is_empty() || list.len() > 64 {
        return Err(invalid("modules".into(), "must hold 1 to 64 readings"));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let field = |name: &str| format!("modules[{i}].{name}");
            let number = |name: &str, lo: f64, hi: f64| -> Result<Option<f64>, ApiError> {
                match m.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v
                        .as_f64()
                        .filter(|x| (lo..=hi).contains(x))
                        .map(Some)
                        .ok_or_else(|| {
                            invalid(field(name), &format!("must be a number from {lo} to {hi}"))
                        }),
                }
            };
            let valence = number("valence", -1.0, 1.0)?
                .ok_or_else(|| invalid(field("valence"), "is required"))?;
            let arousal = number("arousal", -1.0, 1.0)?;
            let confidence = number("confidence", 0.0, 1.0)?.unwrap_or(1.0);
            let source = match m.get("source") {
                None | Some(Value::Null) => format!("module{i}"),
                // Characters, as the OpenAPI maxLength counts them (not UTF-8 bytes).
                Some(Value::String(s)) if (1..=64).contains(&s.chars().count()) => s.clone(),
                Some(_) => {
                    return Err(invalid(
                        field("source"),
                        "must be a string of 1 to 64 characters",
                    ))
                }
            };
            Ok(Source {
                source,
                valence,
                arousal,
                confidence,
            })
        })
        .collect()
}

/// `POST /analyzeFace`: a multipart image.
#[utoipa::path(post, path = "/analyzeFace", tag = "seed", security(("bearer" = [])),
    request_body(content = FileUpload, content_type = "multipart/form-data", description = "an image"),
    responses((status = 200, description = "finished within the deadline", body = JobRecord), (status = 202, description = "still running: poll the job", body = Accepted), (status = 400, description = "no file", body = ErrorBody), (status = 413, description = "too large", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn analyze_face(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    analyze_file(&state, &caller, form?, Modality::Face).await
}

/// `POST /analyzeVoice`: a multipart audio file (WAV, MP3, FLAC, OGG, M4A).
#[utoipa::path(post, path = "/analyzeVoice", tag = "seed", security(("bearer" = [])),
    request_body(content = FileUpload, content_type = "multipart/form-data", description = "an audio file"),
    responses((status = 200, description = "finished within the deadline", body = JobRecord), (status = 202, description = "still running: poll the job", body = Accepted), (status = 400, description = "no file", body = ErrorBody), (status = 413, description = "too large", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn analyze_voice(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    analyze_file(&state, &caller, form?, Modality::Voice).await
}

/// `POST /analyzeText`: `{"text": "..."}`.
#[utoipa::path(post, path = "/analyzeText", tag = "seed", security(("bearer" = [])),
    request_body(content = AnalyzeTextRequest, content_type = "application/json"),
    responses((status = 200, description = "finished within the deadline", body = JobRecord), (status = 202, description = "still running: poll the job", body = Accepted), (status = 400, description = "not JSON", body = ErrorBody), (status = 413, description = "text too long", body = ErrorBody), (status = 422, description = "no text", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn analyze_text(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("body is not JSON: {e}")))?;
    let text = value
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("text".into(), "must be a string"))?
        .to_owned();
    multipart::check_text(&text, state.limits.max_text_bytes)?;
    submit_and_wait(&state, &caller, Vec::new(), vec![text], Modality::Text).await
}

/// The file of an `/analyzeFace` or `/analyzeVoice` request, as a job of that modality.
async fn analyze_file(
    state: &AppState,
    caller: &Caller,
    form: Multipart,
    modality: Modality,
) -> Result<Response, ApiError> {
    let parts = multipart::read(form, state.limits.max_inputs, state.limits.max_text_bytes).await?;
    if parts.files.is_empty() {
        return Err(ApiError::bad_request(
            "no_inputs",
            "send the file as a multipart file part",
        ));
    }
    submit_and_wait(state, caller, parts.files, Vec::new(), modality).await
}

async fn submit_and_wait(
    state: &AppState,
    caller: &Caller,
    files: Vec<crate::intake::Upload>,
    texts: Vec<String>,
    modality: Modality,
) -> Result<Response, ApiError> {
    let options = JobOptions {
        modalities: Some(vec![modality]),
        fuse: false,
        ..JobOptions::default()
    };
    let submission = Submission {
        tenant: caller.tenant.clone(),
        files,
        stored: Vec::new(),
        texts,
        options,
        idempotency_key: None,
    };
    check_quota(state, caller).await?;
    let (job, _) = state.intake.submit(submission).await?;
    let budget = Duration::from_millis(state.limits.sync_deadline_ms);
    match until_terminal(state, &job.tenant, &job.id, budget).await? {
        Some(current) if current.status.is_terminal() => {
            let response = (StatusCode::OK, Json(current.public_json())).into_response();
            Ok(with_timing_headers(&current, response))
        }
        // Still queued or running when the deadline passed: where to poll, as POST /v1/jobs.
        current => Ok(accepted(&job.id, current.map_or(job.status, |c| c.status))),
    }
}
