//! `POST /v1/jobs` (submit) and `GET /v1/jobs/{id}` (poll).

use super::error::ApiError;
use super::{json_body, multipart, AppState};
use crate::intake::Submission;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use soyl_jobs::JobId;

/// Accepts a job, as multipart form data (files, texts, options) or JSON (texts, options):
/// `202 {"job_id", "status", "links"}` with a `Location` header.
pub async fn submit(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let limits = &state.limits;
    let parts = if content_type.starts_with("multipart/form-data") {
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
        multipart::read(form, limits.max_inputs, limits.max_text_bytes).await?
    } else if content_type.starts_with("application/json") {
        let bytes = Bytes::from_request(request, &state)
            .await
            .map_err(|e| ApiError::new(e.status(), "payload_too_large", e.body_text()))?;
        json_body::read(&bytes, limits.max_inputs, limits.max_text_bytes)?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "send multipart/form-data (file, text and options parts) or application/json \
             ({\"inputs\": [{\"text\": \"...\"}], \"options\": {...}})",
        ));
    };
    if parts.files.is_empty() && parts.texts.is_empty() {
        return Err(ApiError::bad_request(
            "no_inputs",
            "send at least one file or text part",
        ));
    }
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "1 to 255 visible ASCII characters",
                    )
                })
        })
        .transpose()?;
    let submission = Submission {
        tenant: state.tenant(),
        files: parts.files,
        texts: parts.texts,
        options: parts.options.unwrap_or_default(),
        idempotency_key,
    };
    let (job, created) = state.intake.submit(submission).await?;
    let location = format!("/v1/jobs/{}", job.id);
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"job_id": job.id, "status": job.status, "links": {"self": location}})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if !created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The job record: status, timestamps, attempts, and `result` or `error` once finished.
pub async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // A malformed id is as unknown as a well-formed one that does not exist.
    let id: JobId = id.parse().map_err(|_| ApiError::job_not_found())?;
    let job = state
        .store
        .get(&state.tenant(), &id)
        .await?
        .ok_or_else(ApiError::job_not_found)?;
    Ok(Json(job.public_json()))
}
