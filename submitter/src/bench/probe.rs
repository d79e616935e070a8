//! The face1 ceiling measured again right after each end-to-end face1 point of soyl: the
//! pipeline's CPU share on every core at once, and the detector and expression sessions at the
//! rows that were best at the start of the run. A host that slows under sustained load (a shared
//! or power-capped VM) runs the isolated stages measured at the start faster than the same
//! stages minutes later; the pipeline efficiency compares each point with the ceiling measured
//! beside it. Called from [`super::sweep`]; read by [`super::targets`].

use super::ceiling::{self, CeilingRow};
use super::stages;
use super::workloads::{Payload, Workload};
use soyl_models::{Repository, Runtime};
use std::sync::Arc;
use std::time::Duration;

/// The face1 ceiling at one moment of the run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeRow {
    /// The concurrency of the soyl face1 point this was measured right after.
    pub after_concurrency: usize,
    /// Decode, detector input and one face crop on every core at once, images/s.
    pub cpu_share: f64,
    /// The detector at its best starting row, items/s.
    pub detector: f64,
    /// The expression model at its best starting row, items/s.
    pub emotion: f64,
}

/// What a probe needs, kept from the start of the run.
#[derive(Clone)]
pub struct FaceProbe {
    runtime: Runtime,
    repo: Repository,
    image: Arc<Vec<u8>>,
    detector: CeilingRow,
    emotion: CeilingRow,
    budget: Duration,
    cores: usize,
}

impl FaceProbe {
    /// None without a face1 workload or without both face models in `ceiling`.
    pub fn new(
        runtime: Runtime,
        repo: Repository,
        workloads: &[Workload],
        ceiling: &[CeilingRow],
        budget: Duration,
        cores: usize,
    ) -> Option<FaceProbe> {
        let image = workloads
            .iter()
            .find(|w| w.name == "face1")
            .and_then(|w| w.payloads.first())
            .and_then(|p| match p {
                Payload::File { bytes, .. } => Some(bytes.to_vec()),
                Payload::Text(_) => None,
            })?;
        Some(FaceProbe {
            runtime,
            repo,
            image: Arc::new(image),
            detector: ceiling::best_row(ceiling, "face-detector")?.clone(),
            emotion: ceiling::best_row(ceiling, "face-emotion")?.clone(),
            budget,
            cores,
        })
    }

    /// Measures the three stages now, off the async threads.
    pub async fn measure(&self, after_concurrency: usize) -> anyhow::Result<ProbeRow> {
        let probe = self.clone();
        tokio::task::spawn_blocking(move || {
            let cpu_share = stages::face_share_on_all_cores(
                &probe.repo,
                &probe.image,
                probe.budget,
                probe.cores,
            )?
            .ok_or_else(|| anyhow::anyhow!("the face models are not in the repository"))?;
            let detector =
                ceiling::remeasure(&probe.runtime, &probe.repo, &probe.detector, probe.budget)?;
            let emotion =
                ceiling::remeasure(&probe.runtime, &probe.repo, &probe.emotion, probe.budget)?;
            Ok(ProbeRow {
                after_concurrency,
                cpu_share,
                detector,
                emotion,
            })
        })
        .await?
    }
}
