//! Exponential backoff with a cap and jitter, for everything the worker retries: redelivery of a
//! job after a transient failure (attempt = deliveries so far), store and queue calls refused as
//! [`soyl_jobs::Error::Transient`] (retried in place a few times before the job is let go), and
//! receive loops whose queue keeps failing. Jitter ("equal jitter": a delay drawn from the upper
//! half of the step) keeps many workers throttled at the same moment from retrying in step.

use std::future::Future;
use std::time::Duration;

/// Tries of one store or queue call before the caller falls back (release for redelivery, or
/// leave the message to its visibility timeout).
pub const CALL_TRIES: u32 = 4;

/// Delays `base * 2^attempt`, capped at `max`, each drawn from the upper half of the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first step.
    pub base: Duration,
    /// The largest step.
    pub max: Duration,
}

impl Default for Backoff {
    /// The command line's defaults (`--retry-base-ms 1000`, `--retry-max-ms 300000`).
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The step before retry `attempt` (0: the first retry), without jitter.
    pub fn step(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt.min(30)))
            .min(self.max)
    }

    /// The delay before retry `attempt`: uniform in `[step / 2, step]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self.step(attempt);
        step / 2 + step.mul_f64(rand::random::<f64>() / 2.0)
    }

    /// Runs `call` up to [`CALL_TRIES`] times while it fails transiently, sleeping
    /// [`Backoff::delay`] between tries; returns the last answer. `what` names the call in logs.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut call: F) -> soyl_jobs::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = soyl_jobs::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(e) if e.is_transient() && attempt + 1 < CALL_TRIES => {
                    let delay = self.delay(attempt);
                    tracing::debug!(call = what, error = %e, ?delay, "transient error; retrying");
                    crate::telemetry::call_retried(what);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap_and_delays_stay_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let steps: Vec<u64> = (0..6).map(|a| b.step(a).as_millis() as u64).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        for attempt in 0..6 {
            for _ in 0..100 {
                let d = b.delay(attempt);
                assert!(d >= b.step(attempt) / 2 && d <= b.step(attempt), "{d:?}");
            }
        }
        assert_eq!(b.step(u32::MAX), b.max, "no overflow");
    }

    #[tokio::test]
    async fn retry_gives_up_after_call_tries_and_stops_at_the_first_other_answer() {
        let b = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let mut calls = 0;
        let r: soyl_jobs::Result<()> = b
            .retry("test", || {
                calls += 1;
                async {
                    Err(soyl_jobs::Error::Transient {
                        backend: "test",
                        operation: "test",
                        message: "busy".into(),
                    })
                }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, CALL_TRIES);
        let mut calls = 0;
        let r = b
            .retry("test", || {
                calls += 1;
                async { Ok::<_, soyl_jobs::Error>(7) }
            })
            .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls, 1);
    }
}
