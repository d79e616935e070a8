//! The jobs resource: `POST /v1/jobs` (submit), `GET /v1/jobs/{id}` (poll), `DELETE /v1/jobs/{id}`
//! (cancel), `GET /v1/jobs` (list).

use super::auth::{check_quota, Caller};
use super::error::ApiError;
#[allow(unused_imports)] // used by the OpenAPI attributes
use super::schema::*;
use super::wait::until_terminal;
use super::{json_body, multipart, AppState};
use crate::intake::Submission;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use soyl_jobs::{CancelOutcome, Job, JobId, ListFilter, Status};
use std::time::Duration;

/// Accepts a job, as multipart form data (files, texts, options) or JSON (texts, options):
/// `202 {"job_id", "status", "links"}` with a `Location` header.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])),
    request_body(content((MultipartSubmission = "multipart/form-data", encoding(("options" = (content_type = "application/json")))), (JsonSubmission = "application/json"))),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^([!-~]([ -~]*[!-~])?)?$", description = "1 to 255 visible ASCII characters (empty: no key); same key + same body: same job; different body: 409")),
    responses((status = 202, description = "accepted", body = Accepted), (status = 400, description = "malformed submission", body = ErrorBody), (status = 409, description = "idempotency key reused with another body", body = ErrorBody), (status = 413, description = "too large: body, text or input count", body = ErrorBody), (status = 415, description = "unsupported content type", body = ErrorBody), (status = 422, description = "invalid options", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody), (status = 503, description = "storage unavailable", body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Result<Response, ApiError> {
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
    if parts.files.is_empty() && parts.stored.is_empty() && parts.texts.is_empty() {
        return Err(ApiError::bad_request(
            "no_inputs",
            "send at least one file or text part",
        ));
    }
    let idempotency_key = headers
        .get("idempotency-key")
        // An empty header is no key (as if absent), not a bad one.
        .filter(|v| !v.is_empty())
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
        tenant: caller.tenant.clone(),
        files: parts.files,
        stored: parts.stored,
        texts: parts.texts,
        options: parts.options.unwrap_or_default(),
        idempotency_key,
    };
    // A replay answers with its job before the quota is counted or any media stored again.
    let prepared = state.intake.prepare(submission)?;
    let (job, created) = match state.intake.replay(&prepared).await? {
        Some(job) => (job, false),
        None => {
            check_quota(&state, &caller).await?;
            state.intake.create(prepared).await?
        }
    };
    let mut response = accepted(&job.id, job.status);
    if !created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `202 {"job_id", "status", "links": {"self"}}` with a `Location` header: where to poll a job
/// that has not ended.
pub fn accepted(id: &JobId, status: Status) -> Response {
    let location = format!("/v1/jobs/{id}");
    let body = json!({"job_id": id, "status": status, "links": {"self": location}});
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Query of `GET /v1/jobs/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    /// Long poll: wait up to this many milliseconds for the job to end before answering
    /// (capped at the server's `--sync-deadline-ms`); 0 or absent answers at once.
    #[serde(default)]
    pub wait_ms: u64,
}

/// The job record: status, timestamps, attempts, and `result` or `error` once finished. Headers
/// `Soyl-Queue-Seconds` (accepted -> started) and `Soyl-Processing-Seconds` (started -> finished)
/// are set once known. With `wait_ms` it answers as soon as the job ends, or with the record as
/// it is when the wait runs out.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id"), ("wait_ms" = Option<u64>, Query, description = "long poll: wait up to this many ms for the job to end (capped by the server's sync deadline, default 25000)")),
    responses((status = 200, description = "the job record", body = JobRecord), (status = 400, description = "invalid query", body = ErrorBody), (status = 404, description = "unknown job (or another tenant's)", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn get_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    query: Result<Query<GetQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    // A malformed id is as unknown as a well-formed one that does not exist.
    let id: JobId = id.parse().map_err(|_| ApiError::job_not_found())?;
    let budget = Duration::from_millis(query.wait_ms.min(state.limits.sync_deadline_ms));
    let job = until_terminal(&state, &caller.tenant, &id, budget)
        .await?
        .ok_or_else(ApiError::job_not_found)?;
    Ok(with_timing_headers(
        &job,
        Json(job.public_json()).into_response(),
    ))
}

/// Adds the queue and processing time headers of `job` to `response`.
pub fn with_timing_headers(job: &Job, mut response: Response) -> Response {
    let seconds = |a: time::OffsetDateTime, b: time::OffsetDateTime| {
        format!("{:.3}", (b - a).as_seconds_f64())
    };
    let headers = response.headers_mut();
    if let Some(started) = job.started_at {
        if let Ok(v) = HeaderValue::from_str(&seconds(job.created_at, started)) {
            headers.insert("soyl-queue-seconds", v);
        }
        if let Some(finished) = job.finished_at {
            if let Ok(v) = HeaderValue::from_str(&seconds(started, finished)) {
                headers.insert("soyl-processing-seconds", v);
            }
        }
    }
    response
}

/// `DELETE /v1/jobs/{id}`: cancels a queued or running job (a running job's remaining lane work
/// is skipped). 200 with the record; 409 `already_finished` if it had ended; 404 if unknown.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "cancelled", body = JobRecord), (status = 404, description = "unknown job", body = ErrorBody), (status = 409, description = "already finished", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: JobId = id.parse().map_err(|_| ApiError::job_not_found())?;
    match state.store.cancel(&caller.tenant, &id).await? {
        CancelOutcome::Cancelled(job) => {
            if let Some(in_flight) = &state.in_flight {
                in_flight.cancel(&id);
            }
            tracing::info!(job_id = %id, "job cancelled");
            Ok(Json(job.public_json()).into_response())
        }
        CancelOutcome::AlreadyTerminal(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!("the job already ended: {}", status.as_str()),
        )),
        CancelOutcome::NotFound => Err(ApiError::job_not_found()),
    }
}

/// Query of `GET /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only jobs in this status.
    status: Option<String>,
    /// Only jobs of this bulk batch.
    batch_id: Option<String>,
    /// Page size: 1 to 1000, default 100.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/jobs?status=&batch_id=&limit=&cursor=`: the caller's jobs, oldest first, paged.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])),
    params(("status" = Option<JobStatus>, Query, description = "only jobs in this status"), ("batch_id" = Option<String>, Query, description = "bulk batch"), ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "page size, default 100"), ("cursor" = Option<String>, Query, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "next_cursor of the previous page")),
    responses((status = 200, description = "a page of jobs", body = JobList), (status = 400, description = "bad query", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit or job quota; see Retry-After", body = ErrorBody)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let after = q
        .cursor
        .as_deref()
        .map(str::parse::<JobId>)
        .transpose()
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                "cursor is not a cursor from a previous page",
            )
        })?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit is {limit}; a page holds 1 to 1000 jobs"),
        ));
    }
    let filter = ListFilter {
        status,
        batch_id: q.batch_id,
        limit,
        after,
    };
    let page = state.store.list(&caller.tenant, &filter).await?;
    let jobs: Vec<Value> = page.jobs.iter().map(Job::public_json).collect();
    Ok(Json(json!({"jobs": jobs, "next_cursor": page.next})))
}
