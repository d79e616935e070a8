//! The decisions of the job status machine, shared by every [`crate::JobStore`] adapter.
//!
//! Each function looks at a job as it is (`None`: no such job, or not this tenant's, or expired)
//! and answers what to write back (`Some(job)`, or nothing) and what to tell the caller. Adapters
//! wrap them in their own atomic read-decide-write: an `IMMEDIATE` SQLite transaction (embedded),
//! a conditional `PutItem` retried on conflict (DynamoDB). Keeping the decisions here is what
//! makes the two backends agree on every transition.

use crate::{CancelOutcome, ClaimOutcome, Job, JobError, Lease, Status};
use time::OffsetDateTime;

/// What to write back (if anything) and what to answer.
pub(crate) type Decision<T> = (Option<Job>, T);

/// True when `job` is running under `holder`'s lease (lapsed or not: only a new claim ends it).
fn held_by(job: &Job, holder: &str) -> bool {
    job.status == Status::Running && job.lease.as_ref().is_some_and(|l| l.holder == holder)
}

/// Ends `job` in terminal `status` now.
fn finish(job: &mut Job, status: Status, now: OffsetDateTime) {
    job.status = status;
    job.finished_at = Some(now);
    job.lease = None;
}

/// `queued -> running` under `lease`, or a takeover of a running job whose lease lapsed. A claim
/// by the job's current holder (the same lease, retried) answers `Claimed` and writes nothing.
pub(crate) fn claim(
    job: Option<Job>,
    lease: &Lease,
    now: OffsetDateTime,
) -> Decision<ClaimOutcome> {
    let Some(mut job) = job else {
        return (None, ClaimOutcome::Missing);
    };
    match (job.status, &job.lease) {
        (status, _) if status.is_terminal() => (None, ClaimOutcome::Terminal(status)),
        // The holder's claim retried after its reply was lost: the claim it already made.
        (Status::Running, Some(live)) if live.holder == lease.holder => {
            (None, ClaimOutcome::Claimed(Box::new(job)))
        }
        (Status::Running, Some(live)) if live.expires_at > now => {
            (None, ClaimOutcome::Busy(live.expires_at))
        }
        _ => {
            job.status = Status::Running;
            job.lease = Some(lease.clone());
            job.attempts = job.attempts.saturating_add(1);
            job.started_at = Some(now);
            (Some(job.clone()), ClaimOutcome::Claimed(Box::new(job)))
        }
    }
}

/// Moves the lease of `holder` to `expires_at`.
pub(crate) fn renew(job: Option<Job>, holder: &str, expires_at: OffsetDateTime) -> Decision<bool> {
    match job {
        Some(mut job) if held_by(&job, holder) => {
            job.lease = Some(Lease {
                holder: holder.to_owned(),
                expires_at,
            });
            (Some(job), true)
        }
        _ => (None, false),
    }
}

/// `running -> queued`, by the holder.
pub(crate) fn requeue(job: Option<Job>, holder: &str) -> Decision<bool> {
    match job {
        Some(mut job) if held_by(&job, holder) => {
            job.status = Status::Queued;
            job.lease = None;
            (Some(job), true)
        }
        _ => (None, false),
    }
}

/// `running -> succeeded` with `result`, by the holder.
pub(crate) fn complete(
    job: Option<Job>,
    holder: &str,
    result: &serde_json::Value,
    now: OffsetDateTime,
) -> Decision<bool> {
    match job {
        Some(mut job) if held_by(&job, holder) => {
            job.result = Some(result.clone());
            finish(&mut job, Status::Succeeded, now);
            (Some(job), true)
        }
        _ => (None, false),
    }
}

/// `-> failed`: by the holder from `running`, or (no holder) from any non-terminal state.
pub(crate) fn fail(
    job: Option<Job>,
    holder: Option<&str>,
    error: &JobError,
    now: OffsetDateTime,
) -> Decision<bool> {
    let allowed = |job: &Job| match holder {
        Some(holder) => held_by(job, holder),
        None => !job.status.is_terminal(),
    };
    match job {
        Some(mut job) if allowed(&job) => {
            job.error = Some(error.clone());
            finish(&mut job, Status::Failed, now);
            (Some(job), true)
        }
        _ => (None, false),
    }
}

/// `queued | running -> cancelled`.
pub(crate) fn cancel(job: Option<Job>, now: OffsetDateTime) -> Decision<CancelOutcome> {
    match job {
        None => (None, CancelOutcome::NotFound),
        Some(job) if job.status.is_terminal() => (None, CancelOutcome::AlreadyTerminal(job.status)),
        Some(mut job) => {
            finish(&mut job, Status::Cancelled, now);
            (Some(job.clone()), CancelOutcome::Cancelled(Box::new(job)))
        }
    }
}

/// Stores a webhook outcome on any existing job, changing nothing else; false if there is none.
pub(crate) fn record_webhook(job: Option<Job>, outcome: &crate::WebhookOutcome) -> Decision<bool> {
    match job {
        Some(mut job) => {
            job.webhook = Some(outcome.clone());
            (Some(job), true)
        }
        None => (None, false),
    }
}
