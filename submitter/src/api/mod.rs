//! The HTTP API: routes and shared state. Handlers live one concept per file; errors go through
//! [`error::ApiError`], the only place statuses are chosen.

pub mod auth;
mod batches;
pub mod error;
mod health;
mod jobs;
pub mod json_body;
pub mod multipart;
pub mod openapi;
mod plain_errors;
pub mod schema;
mod seed;
mod uploads;
mod wait;

pub use batches::BulkApi;

use crate::intake::Intake;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use soyl_jobs::{JobQueue, JobStore};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the API reports in `/ready` about the inference side of this process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadyInfo {
    /// Name -> version of every loaded model (empty when this process runs no worker).
    pub models: BTreeMap<String, String>,
    /// Device the sessions run on (`cpu`, `cuda`), or `none` without a worker.
    pub device: String,
    /// Whether a worker runs in this process.
    pub worker: bool,
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Submission path.
    pub intake: Intake,
    /// Job records.
    pub store: Arc<dyn JobStore>,
    /// The queue (for readiness and depth).
    pub queue: Arc<dyn JobQueue>,
    /// Limits.
    pub limits: crate::config::ApiLimits,
    /// Inference side, for `/ready`.
    pub ready: ReadyInfo,
    /// Jobs running in this process (None without a worker), for immediate cancellation.
    pub in_flight: Option<Arc<soyl_worker::InFlight>>,
    /// Authentication and rate limits.
    pub auth: Arc<auth::Auth>,
    /// Fusion weights for `/getEmotionState` (the worker uses the same).
    pub fusion_weights: soyl_models::fusion::Weights,
    /// Wakes requests waiting on a job when this process's worker finishes it.
    pub finished: Arc<soyl_jobs::finished::Finished>,
    /// Sources, enqueue runs and model versions of `/v1/batches`.
    pub bulk: BulkApi,
}

/// Builds the router: protected routes behind [`auth::authenticate`], probes open.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_upload_bytes;
    let protected = Router::new()
        .route("/v1/jobs", post(jobs::submit).get(jobs::list_jobs))
        .route("/v1/jobs/{id}", get(jobs::get_job).delete(jobs::cancel_job))
        .route("/v1/uploads", post(uploads::create_upload))
        .route("/v1/uploads/{id}", put(uploads::put_upload))
        .route("/v1/batches", post(batches::create_batch))
        .route("/v1/batches/{id}", get(batches::get_batch))
        .route("/getEmotionState", post(seed::get_emotion_state))
        .route("/analyzeFace", post(seed::analyze_face))
        .route("/analyzeVoice", post(seed::analyze_voice))
        .route("/analyzeText", post(seed::analyze_text))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    Router::new()
        .merge(protected)
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(crate::prometheus::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs))
        .fallback(plain_errors::unknown_route)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(plain_errors::as_json))
        .with_state(state)
}

/// The router of a worker-only process: `/health` and `/ready`, nothing else.
pub fn health_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .with_state(state)
}
