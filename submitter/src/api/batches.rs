//! The batches resource: `POST /v1/batches` starts (or resumes) reprocessing a source in the
//! background and answers 202 at once; `GET /v1/batches/{id}` reports counts and progress. Both
//! are tenant-scoped like `/v1/jobs`: another tenant's batch answers exactly like an unknown one.
//!
//! Sources: `s3://bucket/prefix` on the AWS backend; a directory under `--bulk-root` on the
//! embedded backend (without `--bulk-root`, 403 `local_source_disabled`), so a request can never
//! make the server read files outside the tree its operator opened.

use super::auth::Caller;
use super::error::ApiError;
#[allow(unused_imports)] // used by the OpenAPI attributes
use super::schema::ErrorBody;
use super::schema::{BatchAccepted, BatchLinks, BatchRequest};
use super::AppState;
use crate::bulk::{self, BatchSpec, Runs, Sources};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::collections::BTreeMap;

/// What the batch routes need besides the intake.
#[derive(Debug, Clone)]
pub struct BulkApi {
    /// Which sources requests may name.
    pub sources: Sources,
    /// Enqueue runs of this process.
    pub runs: Runs,
    /// Model name -> version, part of every object's identity (and of the default batch id).
    pub model_versions: BTreeMap<String, String>,
}

/// Starts or resumes a batch: `202 {"batch_id", "started", "links"}` with a `Location` header.
/// The listing runs in the background; poll `links.self`. A batch whose listing is already
/// running is joined (`started: false`).
#[utoipa::path(post, path = "/v1/batches", tag = "batches", security(("bearer" = [])),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses((status = 202, description = "the batch's listing runs", body = BatchAccepted), (status = 400, description = "invalid body or source (`invalid_body`, `invalid_source`, `source_not_supported`)", body = ErrorBody), (status = 403, description = "a local directory that is not allowed (`local_source_disabled`, `source_outside_bulk_root`)", body = ErrorBody), (status = 422, description = "invalid batch settings (`invalid_batch`), or a source that cannot be listed: no such bucket, access denied (`source_unreadable`)", body = ErrorBody), (status = 503, description = "storage throttled or unavailable; retry", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit; see Retry-After", body = ErrorBody)))]
pub async fn create_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: BatchRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let bulk = &state.bulk;
    let source = bulk.sources.open(&request.source)?;
    source.probe().await?;
    let mut spec = BatchSpec {
        tenant: caller.tenant.clone(),
        batch_id: String::new(),
        filters: request.filters,
        modalities: request.modalities,
        fuse: request.fuse,
        model_versions: bulk.model_versions.clone(),
        skip_done_from: request.skip_done_from,
    };
    spec.batch_id = match request.batch_id {
        Some(id) => id,
        None => bulk::default_batch_id(&spec, source.as_ref()),
    };
    bulk::validate_batch_id(&spec.batch_id)?;
    if let Some(other) = &spec.skip_done_from {
        bulk::validate_batch_id(other)?;
    }
    let batch_id = spec.batch_id.clone();
    let (_, started) = bulk.runs.start(state.intake.clone(), source, spec);
    tracing::info!(tenant = %caller.tenant, batch_id, started, "batch accepted");
    let location = format!("/v1/batches/{batch_id}");
    let body = BatchAccepted {
        batch_id,
        started,
        links: BatchLinks {
            self_: location.clone(),
        },
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A batch's counts (queued, running, succeeded, failed, cancelled, total), items/s and ETA, and
/// the progress of its listing when it runs (or ran) in this process. One indexed count per call
/// on the embedded backend; on AWS a read of the batch's job records (see `JobStore::batch_counts`).
#[utoipa::path(get, path = "/v1/batches/{id}", tag = "batches", security(("bearer" = [])),
    params(("id" = String, Path, description = "batch id")),
    responses((status = 200, description = "counts and progress", body = bulk::BatchStatus), (status = 404, description = "unknown batch (or another tenant's): `batch_not_found`", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit; see Retry-After", body = ErrorBody)))]
pub async fn get_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<bulk::BatchStatus>, ApiError> {
    // A malformed id is as unknown as a well-formed one that does not exist.
    bulk::validate_batch_id(&id).map_err(|_| ApiError::batch_not_found())?;
    let run = state.bulk.runs.get(&caller.tenant, &id);
    let status =
        bulk::batch_status(state.store.as_ref(), &caller.tenant, &id, run.as_deref()).await?;
    if status.total == 0 && status.listing.is_none() {
        return Err(ApiError::batch_not_found());
    }
    Ok(Json(status))
}
