//! The Prometheus recorder: installed once by the binary, with the histogram buckets for every
//! `soyl_` metric (names live in models/src/telemetry.rs and worker/src/telemetry.rs), and the
//! `GET /metrics` handler, which also samples the queue depth at scrape time.

use crate::api::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Gauge: messages waiting or in flight in the job queue, sampled at scrape.
pub const QUEUE_DEPTH: &str = "soyl_queue_depth";
/// Counter: jobs accepted by the API.
pub const JOBS_ACCEPTED: &str = "soyl_jobs_accepted_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global recorder (idempotent). Without it, metrics calls are no-ops.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ];
            let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(soyl_models::telemetry::LANE_BATCH_SIZE.into()),
                        &sizes,
                    )
                })
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(depth) = state.queue.depth().await {
        metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
    }
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
