//! `POST /v1/jobs` (submit) and `GET /v1/jobs/{id}` (poll).

use super::error::ApiError;
use super::{multipart, AppState};
use crate::intake::Submission;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use soyl_jobs::{Job, JobId};

/// Accepts a job: `202 {"job_id", "status", "links"}` with a `Location` header.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, ApiError> {
    let parts = multipart::read(form, state.limits.max_inputs).await?;
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
    Ok(Json(public_view(&job)))
}

/// A job as clients see it: the record without internal fields (lease, request hash).
pub fn public_view(job: &Job) -> Value {
    let mut value = serde_json::to_value(job).unwrap_or_else(|_| json!({"id": job.id}));
    if let Some(obj) = value.as_object_mut() {
        obj.remove("lease");
        obj.remove("request_hash");
    }
    value
}
