//! The two-stage face pipeline: decode (blocking pool) -> detector lane -> NMS -> square grayscale
//! crops from the decoded image (inline when small) -> expression lane -> readings. Both lanes
//! batch across every job in the process. Called by the worker once per image input.

pub mod crop;
pub mod detect;
pub mod luma;
pub mod normalise;
pub mod resize;

use crate::affect::{read_scores, round4, Reading};
use crate::blocking::{blocking, unshare, Preprocess, DECODER_CRASHED};
use crate::image_input::{self, ImageLimits};
use crate::lane::{CancelToken, Lane};
use crate::manifest::{Manifest, Task};
pub use crate::tensor_lane::BatchOverrides;
use crate::tensor_lane::{spawn_tensor_lane, TensorBatcher};
use crate::tensor_pool::{PooledTensor, TensorPool};
use crate::{Device, ModelError, Repository, Runtime};
use detect::BoundingBox;
use serde::Serialize;
use std::sync::Arc;

/// Per-job face settings.
#[derive(Debug, Clone, Copy)]
pub struct FaceParams {
    /// Faces whose shorter side is under this many pixels are dropped.
    pub min_face_px: u32,
    /// At most this many faces, most confident first.
    pub max_faces: u32,
}

/// One analysed face.
#[derive(Debug, Clone, Serialize)]
pub struct Face {
    /// Where the face is, in pixels of the upright image.
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    /// Detector confidence.
    pub detection: f64,
    /// Expression reading.
    #[serde(flatten)]
    pub reading: Reading,
}

/// The faces of one image and how they were batched.
#[derive(Debug, Clone)]
pub struct FaceAnalysis {
    /// Upright image width.
    pub width: u32,
    /// Upright image height.
    pub height: u32,
    /// The faces, most confident first.
    pub faces: Vec<Face>,
    /// Size of the detector batch this image ran in.
    pub detector_batch: usize,
    /// Size of the expression batch each face ran in.
    pub emotion_batches: Vec<usize>,
}

/// The running face pipeline: two lanes and their manifests.
pub struct FacePipeline {
    detector: Lane<TensorBatcher<PooledTensor>>,
    emotion: Lane<TensorBatcher>,
    /// Detector input buffers, back from the lane for the next images.
    detector_inputs: Arc<TensorPool>,
    detector_manifest: Arc<Manifest>,
    emotion_manifest: Arc<Manifest>,
    scores_index: usize,
    boxes_index: usize,
    limits: ImageLimits,
    device: Device,
    preprocess: Preprocess,
}

impl FacePipeline {
    /// Loads the repository's face-detection and face-emotion models and starts their lanes.
    /// `Ok(None)` when the repository has no face models.
    pub fn start(
        runtime: &Runtime,
        repo: &Repository,
        overrides: BatchOverrides,
        limits: ImageLimits,
    ) -> Result<Option<FacePipeline>, ModelError> {
        let (Some(det), Some(emo)) = (
            repo.for_task(Task::FaceDetection),
            repo.for_task(Task::FaceEmotion),
        ) else {
            return Ok(None);
        };
        let settings = det
            .detector
            .as_ref()
            .expect("checked at load; this is a bug");
        let index_of = |name: &str| {
            det.outputs
                .iter()
                .position(|o| o.name == name)
                .ok_or_else(|| ModelError::Manifest {
                    path: det.dir.display().to_string(),
                    message: format!("detector output {name} is not listed in outputs"),
                })
        };
        let scores_index = index_of(&settings.scores_output)?;
        let boxes_index = index_of(&settings.boxes_output)?;
        let (detector, device) =
            spawn_tensor_lane(runtime, det, overrides.max_batch, overrides.max_delay)?;
        let (emotion, _) =
            spawn_tensor_lane(runtime, emo, overrides.max_batch, overrides.max_delay)?;
        // A full batch on each replica, and the next batch being decoded.
        let max_batch = detector.config().max_batch;
        let keep = max_batch * (runtime.replicas(device) + 1);
        Ok(Some(FacePipeline {
            detector,
            emotion,
            detector_inputs: TensorPool::new(keep),
            detector_manifest: Arc::new(det.clone()),
            emotion_manifest: Arc::new(emo.clone()),
            scores_index,
            boxes_index,
            limits,
            device,
            preprocess: runtime.preprocess().clone(),
        }))
    }

    /// `(name, version)` of the models this pipeline runs.
    pub fn models(&self) -> [(&str, &str); 2] {
        [
            (
                &self.detector_manifest.name,
                &self.detector_manifest.version,
            ),
            (&self.emotion_manifest.name, &self.emotion_manifest.version),
        ]
    }

    /// The device the detector session runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The detector's and the expression model's lanes, for metrics.
    pub fn lanes(&self) -> (&Lane<TensorBatcher<PooledTensor>>, &Lane<TensorBatcher>) {
        (&self.detector, &self.emotion)
    }

    /// Finds and reads the faces in one encoded image.
    pub async fn analyze(
        &self,
        bytes: impl AsRef<[u8]> + Send + 'static,
        params: FaceParams,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<FaceAnalysis, ModelError> {
        let det = self.detector_manifest.clone();
        let limits = self.limits.clone();
        let mut tensor = self.detector_inputs.take();
        let preprocess_started = std::time::Instant::now();
        let (width, height, tensor, img) = self
            .preprocess
            .run(interactive, DECODER_CRASHED, move || {
                let img = image_input::decode(bytes.as_ref(), &limits)?;
                detect::to_tensor_into(&img, det.image(), tensor.values_mut());
                Ok((img.width(), img.height(), tensor, img))
            })
            .await?;
        crate::telemetry::preprocess("face", preprocess_started.elapsed());

        let detected = self
            .detector
            .infer(tensor, interactive, cancel)
            .await
            .map_err(unshare)?;
        let settings = self
            .detector_manifest
            .detector
            .as_ref()
            .expect("checked at load; this is a bug");
        let mut detections = detect::postprocess(
            &detected.output[self.scores_index],
            &detected.output[self.boxes_index],
            settings,
            width,
            height,
        );
        let min = params.min_face_px as f32;
        detections.retain(|d| d.bbox.w.min(d.bbox.h) >= min);
        detections.truncate(params.max_faces as usize);

        // The decoded image is freed as soon as its faces are cut (never queued behind decodes).
        let emo = self.emotion_manifest.clone();
        let boxes: Vec<BoundingBox> = detections.iter().map(|d| d.bbox).collect();
        let inline = crop::source_pixels(&boxes) <= crop::INLINE_PIXELS;
        let cut = move || {
            Ok(boxes
                .iter()
                .map(|b| crop::to_tensor(&img, b, emo.image()))
                .collect::<Vec<_>>())
        };
        let crops = if inline {
            cut().map_err(ModelError::Input)?
        } else {
            blocking(DECODER_CRASHED, cut).await?
        };
        let answers = self.emotion.infer_all(crops, interactive, cancel).await?;
        let mut faces = Vec::with_capacity(detections.len());
        let mut emotion_batches = Vec::with_capacity(detections.len());
        for (d, answer) in detections.iter().zip(answers) {
            emotion_batches.push(answer.batch_size);
            faces.push(Face {
                bbox: d.bbox,
                detection: round4(f64::from(d.score)),
                reading: read_scores(&self.emotion_manifest, &answer.output[0]),
            });
        }
        Ok(FaceAnalysis {
            width,
            height,
            faces,
            detector_batch: detected.batch_size,
            emotion_batches,
        })
    }
}
