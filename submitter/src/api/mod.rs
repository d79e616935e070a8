//! The HTTP API: routes and shared state. Handlers live one concept per file; errors go through
//! [`error::ApiError`], the only place statuses are chosen.

pub mod error;
mod health;
mod jobs;
mod json_body;
mod multipart;

use crate::intake::Intake;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use soyl_jobs::{JobQueue, JobStore, Tenant};
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
}

impl AppState {
    /// The caller's tenant. Authentication is not configured yet, so every caller is `default`.
    pub fn tenant(&self) -> Tenant {
        Tenant::default_tenant()
    }
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_upload_bytes;
    Router::new()
        .route("/v1/jobs", post(jobs::submit))
        .route("/v1/jobs/{id}", get(jobs::get_job))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The router of a worker-only process: `/health` and `/ready`, nothing else.
pub fn health_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .with_state(state)
}
