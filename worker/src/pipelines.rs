//! The model pipelines one worker process runs, started once at boot from the model repository.
//! A modality whose models are absent is reported as unavailable in results, never faked.

use soyl_models::face::{BatchOverrides, FacePipeline};
use soyl_models::image_input::ImageLimits;
use soyl_models::{Device, ModelError, Repository, Runtime};
use std::collections::BTreeMap;

/// Settings for starting the pipelines.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Lane batching overrides (`--max-batch`, `--max-delay-ms`).
    pub batching: BatchOverrides,
    /// Image limits.
    pub image_limits: ImageLimits,
}

/// Every pipeline this process can run.
pub struct Pipelines {
    /// Face detection + expression, when both models are in the repository.
    pub face: Option<FacePipeline>,
    device: Device,
}

impl Pipelines {
    /// Loads the models found in `repo` and starts their lanes.
    pub fn start(
        runtime: &Runtime,
        repo: &Repository,
        config: &PipelineConfig,
    ) -> Result<Self, ModelError> {
        let face =
            FacePipeline::start(runtime, repo, config.batching, config.image_limits.clone())?;
        let device = face.as_ref().map_or(Device::Cpu, FacePipeline::device);
        Ok(Pipelines { face, device })
    }

    /// Name -> version of every loaded model.
    pub fn models(&self) -> BTreeMap<String, String> {
        let mut models = BTreeMap::new();
        if let Some(face) = &self.face {
            for (name, version) in face.models() {
                models.insert(name.to_owned(), version.to_owned());
            }
        }
        models
    }

    /// The device the sessions run on.
    pub fn device(&self) -> Device {
        self.device
    }
}
