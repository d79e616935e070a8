//! The jobs this process is running, by id, with their cancel tokens, so that a cancel accepted
//! by the API of the same process stops the lanes' work at once. (Across processes the heartbeat
//! notices the cancelled record within a third of the lease.) Shared by the consumer, which
//! registers each claimed job, and the API's cancel handler.

use soyl_jobs::JobId;
use soyl_models::CancelToken;
use std::collections::HashMap;
use std::sync::Mutex;

/// Running jobs and their cancel tokens.
#[derive(Debug, Default)]
pub struct InFlight {
    tokens: Mutex<HashMap<JobId, CancelToken>>,
}

impl InFlight {
    /// Registers a running job; the returned guard unregisters it when dropped.
    pub fn register(&self, id: JobId, token: CancelToken) -> Registration<'_> {
        self.lock().insert(id, token);
        Registration {
            in_flight: self,
            id,
        }
    }

    /// Cancels the job's work if it runs in this process; true if it did.
    pub fn cancel(&self, id: &JobId) -> bool {
        match self.lock().get(id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Number of jobs running in this process.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no job runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, CancelToken>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Unregisters a job from [`InFlight`] when dropped.
pub struct Registration<'a> {
    in_flight: &'a InFlight,
    id: JobId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.in_flight.lock().remove(&self.id);
    }
}
