//! The metrics the inference library records (names and labels in one place). Exported by the
//! binary's Prometheus recorder, which sets the histogram buckets (submitter/src/prometheus.rs).

use std::time::Duration;

/// Histogram: items per session run, by lane.
pub const LANE_BATCH_SIZE: &str = "soyl_lane_batch_size";
/// Histogram: seconds per session run, by lane.
pub const INFERENCE_SECONDS: &str = "soyl_inference_seconds";
/// Histogram: seconds an item waited in its lane before its batch ran, by lane.
pub const LANE_WAIT_SECONDS: &str = "soyl_lane_wait_seconds";
/// Histogram: seconds of preprocessing (decode, resize, resample, tokenize) per input, by modality.
pub const PREPROCESS_SECONDS: &str = "soyl_preprocess_seconds";

/// Records one lane run.
pub fn lane_run(lane: &str, batch_size: usize, took: Duration, oldest_wait: Duration) {
    metrics::histogram!(LANE_BATCH_SIZE, "lane" => lane.to_owned()).record(batch_size as f64);
    metrics::histogram!(INFERENCE_SECONDS, "lane" => lane.to_owned()).record(took.as_secs_f64());
    metrics::histogram!(LANE_WAIT_SECONDS, "lane" => lane.to_owned())
        .record(oldest_wait.as_secs_f64());
}

/// Records the preprocessing of one input.
pub fn preprocess(modality: &'static str, took: Duration) {
    metrics::histogram!(PREPROCESS_SECONDS, "modality" => modality).record(took.as_secs_f64());
}
