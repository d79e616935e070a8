//! The model pipelines one worker process runs, started once at boot from the model repository.
//! A modality whose models are absent is reported as unavailable in results, never faked.

use soyl_models::face::{BatchOverrides, FacePipeline};
use soyl_models::image_input::ImageLimits;
use soyl_models::text::{TextOptions, TextPipeline};
use soyl_models::voice::{AudioLimits, VoicePipeline};
use soyl_models::{Device, ModelError, Repository, Runtime};
use std::collections::BTreeMap;

/// Settings for starting the pipelines.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Lane batching overrides (`--max-batch`, `--max-delay-ms`).
    pub batching: BatchOverrides,
    /// Image limits.
    pub image_limits: ImageLimits,
    /// Audio limits.
    pub audio_limits: AudioLimits,
    /// Text limits and token budget.
    pub text: TextOptions,
}

/// Every pipeline this process can run.
pub struct Pipelines {
    /// Face detection + expression, when both models are in the repository.
    pub face: Option<FacePipeline>,
    /// Speech emotion + prosody, when a voice model is in the repository.
    pub voice: Option<VoicePipeline>,
    /// Text sentiment, when a text model is in the repository.
    pub text: Option<TextPipeline>,
}

impl Pipelines {
    /// Loads the models found in `repo` and starts their lanes.
    pub fn start(
        runtime: &Runtime,
        repo: &Repository,
        config: &PipelineConfig,
    ) -> Result<Self, ModelError> {
        Ok(Pipelines {
            face: FacePipeline::start(runtime, repo, config.batching, config.image_limits.clone())?,
            voice: VoicePipeline::start(
                runtime,
                repo,
                config.batching,
                config.audio_limits.clone(),
            )?,
            text: TextPipeline::start_with(runtime, repo, config.batching, config.text)?,
        })
    }

    /// Name -> version of every loaded model.
    pub fn models(&self) -> BTreeMap<String, String> {
        let face = self.face.iter().flat_map(|p| p.models());
        let voice = self.voice.iter().flat_map(|p| p.models());
        let text = self.text.iter().flat_map(|p| p.models());
        face.chain(voice)
            .chain(text)
            .map(|(name, version)| (name.to_owned(), version.to_owned()))
            .collect()
    }

    /// The device the sessions run on (CUDA if any pipeline got it).
    pub fn device(&self) -> Device {
        let devices = [
            self.face.as_ref().map(FacePipeline::device),
            self.voice.as_ref().map(VoicePipeline::device),
            self.text.as_ref().map(TextPipeline::device),
        ];
        if devices.contains(&Some(Device::Cuda)) {
            Device::Cuda
        } else {
            Device::Cpu
        }
    }
}
