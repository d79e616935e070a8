//! The API's one error shape, `{"error": {"code", "message"}}`, and the one place where failures
//! become HTTP statuses.

use crate::bulk::BulkError;
use crate::intake::IntakeError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// For a person.
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Builds an error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 429 with a `Retry-After` of at least one second.
    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after_s: f64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        e.retry_after = Some(retry_after_s.ceil().max(1.0) as u64);
        e
    }

    /// 404 for a job that does not exist or belongs to another tenant (indistinguishable).
    pub fn job_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such job")
    }

    /// 404 for a batch that does not exist or belongs to another tenant (indistinguishable).
    pub fn batch_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "batch_not_found", "no such batch")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<soyl_jobs::Error> for ApiError {
    fn from(e: soyl_jobs::Error) -> Self {
        use soyl_jobs::Error as E;
        match e {
            E::Invalid { .. } => ApiError::bad_request("invalid_request", e.to_string()),
            E::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            E::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
            ),
            E::Transient { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "backend_unavailable",
                e.to_string(),
            ),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Store(inner) => inner.into(),
            IntakeError::IdempotencyConflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", e.to_string())
            }
            IntakeError::Enqueue { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "enqueue_failed",
                e.to_string(),
            ),
            IntakeError::UnknownMedia(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_media_key",
                e.to_string(),
            ),
            IntakeError::BatchId(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_options",
                e.to_string(),
            ),
            IntakeError::CallbackUrl(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_callback_url",
                e.to_string(),
            ),
        }
    }
}

impl From<BulkError> for ApiError {
    fn from(e: BulkError) -> Self {
        let message = e.to_string();
        match e {
            BulkError::Store(inner) => inner.into(),
            BulkError::Intake(inner) => inner.into(),
            BulkError::Io { .. } | BulkError::InvalidSource(_) => {
                ApiError::bad_request("invalid_source", message)
            }
            BulkError::UnsupportedSource(_) => {
                ApiError::bad_request("source_not_supported", message)
            }
            BulkError::LocalSourceDisabled => {
                ApiError::new(StatusCode::FORBIDDEN, "local_source_disabled", message)
            }
            BulkError::OutsideRoot(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "source_outside_bulk_root", message)
            }
            BulkError::Invalid(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch", message)
            }
            BulkError::SourceUnreadable(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "source_unreadable",
                message,
            ),
        }
    }
}

/// A request that is not multipart form data at all (no or a bad content type or boundary).
impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(e: axum::extract::multipart::MultipartRejection) -> Self {
        ApiError::bad_request("invalid_multipart", e.body_text())
    }
}

/// A query string that does not parse into the endpoint's parameters.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", e.body_text())
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.body_text(),
            )
        } else {
            ApiError::bad_request("invalid_multipart", e.body_text())
        }
    }
}
