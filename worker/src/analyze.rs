//! One claimed job -> its result JSON (shape in ARCHITECTURE.md, `version` 1), or a classified
//! [`Failure`]. Inputs run concurrently, so the images of one job share lane batches too.
//! Called by the consumer for each claimed job.

use crate::{Failure, Pipelines};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use soyl_jobs::{Input, InputKind, Job, JobError, MediaStore, Modality};
use soyl_models::face::FaceParams;
use soyl_models::CancelToken;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Version of the result shape; bumped on any incompatible change.
pub const RESULT_VERSION: u32 = 1;

/// Runs jobs through the pipelines.
pub struct Analyzer {
    pipelines: Arc<Pipelines>,
    media: Arc<dyn MediaStore>,
    max_media_bytes: u64,
}

/// What one input produced.
enum Part {
    Face {
        input: usize,
        body: Value,
        batches: Vec<(String, usize)>,
    },
    Unavailable {
        input: usize,
        modality: &'static str,
        reason: String,
    },
    Skipped,
}

impl Analyzer {
    /// An analyzer reading media from `media`, refusing objects over `max_media_bytes`.
    pub fn new(
        pipelines: Arc<Pipelines>,
        media: Arc<dyn MediaStore>,
        max_media_bytes: u64,
    ) -> Self {
        Analyzer {
            pipelines,
            media,
            max_media_bytes,
        }
    }

    /// Analyses every input of `job`. Any input that cannot be analysed fails the whole job, with
    /// the input's index in the message.
    pub async fn analyze(&self, job: &Job, cancel: &CancelToken) -> Result<Value, Failure> {
        let interactive = job.options.priority == soyl_jobs::Priority::Interactive;
        let parts = join_all(
            job.inputs
                .iter()
                .enumerate()
                .map(|(i, input)| self.analyze_input(job, i, input, interactive, cancel)),
        )
        .await;
        let mut face = Vec::new();
        let mut unavailable = Vec::new();
        let mut batch_sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for part in parts {
            match part? {
                Part::Face {
                    input,
                    mut body,
                    batches,
                } => {
                    body["input"] = json!(input);
                    face.push(body);
                    for (model, size) in batches {
                        batch_sizes.entry(model).or_default().push(size);
                    }
                }
                Part::Unavailable {
                    input,
                    modality,
                    reason,
                } => unavailable
                    .push(json!({"input": input, "modality": modality, "reason": reason})),
                Part::Skipped => {}
            }
        }
        if face.is_empty() && !unavailable.is_empty() {
            return Err(Failure::Permanent(JobError::new(
                "modality_unavailable",
                format!(
                    "no model is configured for any input of this job: {}",
                    Value::from(unavailable)
                ),
            )));
        }
        if face.is_empty() {
            return Err(Failure::Permanent(JobError::new(
                "nothing_to_analyze",
                "no input matches the requested modalities",
            )));
        }
        let mut result = Map::new();
        result.insert("version".into(), json!(RESULT_VERSION));
        result.insert("face".into(), Value::from(face));
        if !unavailable.is_empty() {
            result.insert("unavailable".into(), Value::from(unavailable));
        }
        result.insert("models".into(), json!(self.pipelines.models()));
        result.insert("stats".into(), json!({ "batch_sizes": batch_sizes }));
        Ok(Value::Object(result))
    }

    async fn analyze_input(
        &self,
        job: &Job,
        index: usize,
        input: &Input,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<Part, Failure> {
        let wanted = |m: Modality| {
            job.options
                .modalities
                .as_ref()
                .is_none_or(|ms| ms.contains(&m))
        };
        let in_input = |e: JobError| JobError::new(e.code, format!("input {index}: {}", e.message));
        match input.kind {
            InputKind::Image if wanted(Modality::Face) => {
                let Some(pipeline) = &self.pipelines.face else {
                    return Ok(Part::Unavailable {
                        input: index,
                        modality: "face",
                        reason: "no face models are configured in the model repository".into(),
                    });
                };
                let key = input.media_key.as_ref().ok_or_else(|| {
                    Failure::Permanent(JobError::new(
                        "input_invalid",
                        format!("input {index} has no media key"),
                    ))
                })?;
                let bytes =
                    self.media.get(key, self.max_media_bytes).await.map_err(
                        |e| match Failure::from(e) {
                            Failure::Permanent(e) => Failure::Permanent(in_input(e)),
                            other => other,
                        },
                    )?;
                let params = FaceParams {
                    min_face_px: job.options.face.min_face_px,
                    max_faces: job.options.face.max_faces,
                };
                let analysis = pipeline
                    .analyze(bytes, params, interactive, cancel)
                    .await
                    .map_err(|e| match Failure::from(e) {
                        Failure::Permanent(e) => Failure::Permanent(in_input(e)),
                        other => other,
                    })?;
                let [(detector, _), (emotion, _)] = pipeline.models();
                let mut batches = vec![(detector.to_owned(), analysis.detector_batch)];
                batches.extend(
                    analysis
                        .emotion_batches
                        .iter()
                        .map(|&b| (emotion.to_owned(), b)),
                );
                Ok(Part::Face {
                    input: index,
                    body: json!({
                        "width": analysis.width,
                        "height": analysis.height,
                        "faces": analysis.faces,
                    }),
                    batches,
                })
            }
            InputKind::Audio if wanted(Modality::Voice) => Ok(Part::Unavailable {
                input: index,
                modality: "voice",
                reason: "no voice emotion model is configured in this build".into(),
            }),
            InputKind::Text if wanted(Modality::Text) => Ok(Part::Unavailable {
                input: index,
                modality: "text",
                reason: "no text model is configured in this build".into(),
            }),
            _ => Ok(Part::Skipped),
        }
    }
}
