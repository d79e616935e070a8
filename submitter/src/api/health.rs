//! `GET /health` (liveness: the process answers) and `GET /ready` (models loaded, device, and the
//! queue backend reachable; 503 otherwise).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "probes", responses((status = 200, description = "the process answers", body = Object)))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness.
#[utoipa::path(get, path = "/ready", tag = "probes", responses((status = 200, description = "models loaded, backend reachable", body = Object), (status = 503, description = "not ready", body = Object)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (backend_ok, depth, backend_error) = match state.queue.depth().await {
        Ok(depth) => (true, Some(depth), None),
        Err(e) => (false, None, Some(e.to_string())),
    };
    let models_ok = !state.ready.worker || !state.ready.models.is_empty();
    let ready = backend_ok && models_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "worker": state.ready.worker,
            "device": state.ready.device,
            "models": state.ready.models,
            "backend": {"reachable": backend_ok, "queue_depth": depth, "error": backend_error},
        })),
    )
}
