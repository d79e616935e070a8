//! Enqueue runs started by the HTTP API, by (tenant, batch id): `POST /v1/batches` answers at once
//! and the listing goes on in a task here; `GET /v1/batches/{id}` reads its live counters. At
//! most one run per batch at a time: a second POST while one runs joins it.
//!
//! A run is not stopped on shutdown: it is resumable, and the next POST of the same batch picks
//! up where it ended (its checkpoint keeps re-sends to the jobs of the interrupted stretch).
//! Finished runs stay here for their counters (a few hundred bytes each) until the process ends.

use super::{enqueue_batch, BatchSpec, Counters, Source};
use crate::intake::Intake;
use soyl_jobs::Tenant;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// One enqueue run.
#[derive(Debug, Default)]
pub struct Run {
    /// `describe()` of its source.
    pub source: String,
    /// Live counts.
    pub counters: Counters,
    /// Why the run ended early, if it did.
    pub error: Mutex<Option<String>>,
}

impl Run {
    /// Whether the run has ended.
    pub fn finished(&self) -> bool {
        self.counters.finished.load(Ordering::Acquire)
    }

    /// Why it ended early, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A batch of a tenant.
type BatchKey = (Tenant, String);

/// The runs of this process. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    runs: Arc<Mutex<HashMap<BatchKey, Arc<Run>>>>,
}

impl Runs {
    /// Starts a run of `spec` over `source`, unless one of the same batch is still going: returns
    /// the run and whether it was started by this call.
    pub fn start(
        &self,
        intake: Intake,
        source: Arc<dyn Source>,
        spec: BatchSpec,
    ) -> (Arc<Run>, bool) {
        let key = (spec.tenant.clone(), spec.batch_id.clone());
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = runs.get(&key).filter(|r| !r.finished()) {
            return (run.clone(), false);
        }
        let run = Arc::new(Run {
            source: source.describe(),
            ..Run::default()
        });
        runs.insert(key, run.clone());
        let task_run = run.clone();
        tokio::spawn(async move {
            let outcome = enqueue_batch(&intake, source, &spec, &task_run.counters).await;
            if let Err(e) = outcome {
                tracing::error!(batch_id = spec.batch_id, error = %e, "batch enqueue ended early");
                *task_run.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
            task_run.counters.finished.store(true, Ordering::Release);
        });
        (run, true)
    }

    /// The latest run of the tenant's batch in this process.
    pub fn get(&self, tenant: &Tenant, batch_id: &str) -> Option<Arc<Run>> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(&(tenant.clone(), batch_id.to_owned())).cloned()
    }
}
