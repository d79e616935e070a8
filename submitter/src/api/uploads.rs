//! Uploads ahead of a job: `POST /v1/uploads` hands out a media key and a URL to `PUT` the
//! bytes to, and a JSON job then names the key (`{"inputs": [{"media_key": "..."}]}`). On AWS the
//! URL is a presigned S3 `PUT`, so media never passes through API Gateway (whose bodies stop at
//! 10 MB); on the embedded backend it is this API's own `PUT /v1/uploads/{id}`. Keys live under
//! the caller's tenant (`{tenant}/uploads/{id}`) and only that tenant's jobs may name them.

use super::auth::Caller;
use super::error::ApiError;
#[allow(unused_imports)] // used by the OpenAPI attributes
use super::schema::*;
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use soyl_jobs::MediaKey;
use std::time::Duration;

/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);

/// Issues an upload: `201 {"media_key", "upload_url", "method": "PUT", "expires_in_s"}`. A
/// relative `upload_url` is on this API and needs the API key; an absolute one (S3) needs none.
#[utoipa::path(post, path = "/v1/uploads", tag = "jobs", security(("bearer" = [])),
    responses((status = 201, description = "where to PUT the media, and the key to name it by", body = UploadTicket), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit; see Retry-After", body = ErrorBody), (status = 503, description = "storage unavailable", body = ErrorBody)))]
pub async fn create_upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let id = uuid::Uuid::now_v7();
    let key = MediaKey::for_upload(caller.tenant.as_str(), &id);
    let presigned = state
        .intake
        .media()
        .presign_put(&key, UPLOAD_URL_TTL)
        .await?;
    let upload_url = presigned.unwrap_or_else(|| format!("/v1/uploads/{id}"));
    let body = json!({
        "media_key": key,
        "upload_url": upload_url,
        "method": "PUT",
        "expires_in_s": UPLOAD_URL_TTL.as_secs(),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Stores the body as the caller's upload `id` (the `upload_url` of a backend that cannot
/// presign, and usable on any backend): `200 {"media_key", "size"}`. At most
/// `--max-upload-bytes`. Uploading again replaces the bytes (do it before a job names the key).
#[utoipa::path(put, path = "/v1/uploads/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "the id of an upload (the last segment of its media key)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "stored", body = UploadStored), (status = 404, description = "not an upload id (`not_found`)", body = ErrorBody), (status = 413, description = "over --max-upload-bytes", body = ErrorBody), (status = 401, description = "missing, unknown or revoked API key", body = ErrorBody), (status = 429, description = "rate limit; see Retry-After", body = ErrorBody), (status = 503, description = "storage unavailable", body = ErrorBody)))]
pub async fn put_upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such upload id"))?;
    let key = MediaKey::for_upload(caller.tenant.as_str(), &id);
    let size = body.len();
    state.intake.media().put(&key, body, None).await?;
    Ok(Json(json!({"media_key": key, "size": size})))
}
