//! The metrics the worker records (names and labels in one place): job outcomes, error codes and
//! the job's timeline. Exported by the binary's Prometheus recorder (submitter/src/prometheus.rs).

use soyl_jobs::Job;
use time::OffsetDateTime;

/// Counter: jobs that reached a terminal state through this worker, by status.
pub const JOBS_FINISHED: &str = "soyl_jobs_finished_total";
/// Counter: failed jobs by error code.
pub const JOB_ERRORS: &str = "soyl_job_errors_total";
/// Histogram: seconds from acceptance to the claim that ran the job.
pub const QUEUE_WAIT_SECONDS: &str = "soyl_queue_wait_seconds";
/// Histogram: seconds from claim to result.
pub const PROCESSING_SECONDS: &str = "soyl_job_processing_seconds";
/// Histogram: seconds from acceptance to result.
pub const END_TO_END_SECONDS: &str = "soyl_job_end_to_end_seconds";
/// Counter: transient failures that sent a job back to the queue.
pub const RETRIES: &str = "soyl_job_retries_total";

/// Records a job that just succeeded or failed (`code` for failures).
pub fn finished(job: &Job, status: &'static str, code: Option<&str>) {
    let now = OffsetDateTime::now_utc();
    metrics::counter!(JOBS_FINISHED, "status" => status).increment(1);
    if let Some(code) = code {
        metrics::counter!(JOB_ERRORS, "code" => code.to_owned()).increment(1);
    }
    if let Some(started) = job.started_at {
        metrics::histogram!(QUEUE_WAIT_SECONDS).record((started - job.created_at).as_seconds_f64());
        metrics::histogram!(PROCESSING_SECONDS).record((now - started).as_seconds_f64());
    }
    metrics::histogram!(END_TO_END_SECONDS).record((now - job.created_at).as_seconds_f64());
}

/// Records a transient failure.
pub fn retried() {
    metrics::counter!(RETRIES).increment(1);
}

/// Counter: store or queue calls retried in place after a transient error, by call.
pub const CALL_RETRIES: &str = "soyl_storage_call_retries_total";

/// Records one in-place retry of a store or queue call.
pub fn call_retried(call: &str) {
    metrics::counter!(CALL_RETRIES, "call" => call.to_owned()).increment(1);
}
