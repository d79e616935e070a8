//! One claimed job -> its result JSON (shape in ARCHITECTURE.md, `version` 1), or a classified
//! [`Failure`]. Inputs run concurrently, so the inputs of one job share lane batches too.
//! Called by the consumer for each claimed job.

use crate::{Failure, Pipelines};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use soyl_jobs::{Input, InputKind, Job, JobError, MediaStore, Modality, TextGranularity};
use soyl_models::affect::{round4, Reading};
use soyl_models::face::FaceParams;
use soyl_models::fusion::{fuse, Source, Weights};
use soyl_models::text::{Granularity, TextParams};
use soyl_models::voice::VoiceParams;
use soyl_models::{CancelToken, ModelError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Version of the result shape; bumped on any incompatible change.
pub const RESULT_VERSION: u32 = 1;

/// Runs jobs through the pipelines.
pub struct Analyzer {
    pipelines: Arc<Pipelines>,
    weights: Weights,
    media: Arc<dyn MediaStore>,
    max_media_bytes: u64,
}

/// What one input produced.
enum Part {
    /// A reading: `body` goes to `result[modality][]`; `batches` are (model, batch size) pairs;
    /// `source` is what this input contributes to fusion (None: nothing to fuse, e.g. no face).
    Done {
        modality: &'static str,
        body: Value,
        batches: Vec<(String, usize)>,
        source: Option<Source>,
    },
    /// The input's modality has no model configured.
    Unavailable {
        modality: &'static str,
        reason: String,
    },
    /// Not asked for by `options.modalities`.
    Skipped,
}

/// Everything `analyze_input` needs to know about the job besides the input.
struct Context<'a> {
    job: &'a Job,
    interactive: bool,
    cancel: &'a CancelToken,
}

impl Analyzer {
    /// An analyzer reading media from `media`, refusing objects over `max_media_bytes`.
    pub fn new(
        pipelines: Arc<Pipelines>,
        weights: Weights,
        media: Arc<dyn MediaStore>,
        max_media_bytes: u64,
    ) -> Self {
        Analyzer {
            pipelines,
            weights,
            media,
            max_media_bytes,
        }
    }

    /// Analyses every input of `job`. Any input that cannot be analysed fails the whole job, with
    /// the input's index in the message.
    pub async fn analyze(&self, job: &Job, cancel: &CancelToken) -> Result<Value, Failure> {
        let ctx = Context {
            job,
            interactive: job.options.priority == soyl_jobs::Priority::Interactive,
            cancel,
        };
        let parts = join_all(
            job.inputs
                .iter()
                .enumerate()
                .map(|(i, input)| self.analyze_indexed(&ctx, i, input)),
        )
        .await;
        let mut readings: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        let mut unavailable = Vec::new();
        let mut batch_sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut sources: BTreeMap<&'static str, Vec<Source>> = BTreeMap::new();
        for part in parts {
            match part? {
                (
                    input,
                    Part::Done {
                        modality,
                        mut body,
                        batches,
                        source,
                    },
                ) => {
                    body["input"] = json!(input);
                    sources.entry(modality).or_default().extend(source);
                    readings.entry(modality).or_default().push(body);
                    for (model, size) in batches {
                        batch_sizes.entry(model).or_default().push(size);
                    }
                }
                (input, Part::Unavailable { modality, reason }) => unavailable
                    .push(json!({"input": input, "modality": modality, "reason": reason})),
                (_, Part::Skipped) => {}
            }
        }
        if readings.is_empty() {
            if unavailable.is_empty() {
                if let Some(e) = self.unrecognised_input(job).await? {
                    return Err(Failure::Permanent(e));
                }
            }
            return Err(Failure::Permanent(if unavailable.is_empty() {
                JobError::new(
                    "nothing_to_analyze",
                    "no input matches the requested modalities",
                )
            } else {
                JobError::new(
                    "modality_unavailable",
                    format!(
                        "no model is configured for any input of this job: {}",
                        Value::from(unavailable)
                    ),
                )
            }));
        }
        let mut result = Map::new();
        result.insert("version".into(), json!(RESULT_VERSION));
        for (modality, items) in readings {
            result.insert(modality.into(), Value::from(items));
        }
        if !unavailable.is_empty() {
            result.insert("unavailable".into(), Value::from(unavailable));
        }
        if job.options.fuse {
            let per_modality: Vec<Source> = sources
                .iter()
                .filter_map(|(m, s)| mean_source(m, s))
                .collect();
            result.insert("fused".into(), json!(fuse(&per_modality, &self.weights)));
        }
        // Only the models that produced this result, with their versions.
        let mut models = self.pipelines.models();
        models.retain(|name, _| batch_sizes.contains_key(name));
        result.insert("models".into(), json!(models));
        result.insert("stats".into(), json!({ "batch_sizes": batch_sizes }));
        Ok(Value::Object(result))
    }

    /// One input, its index, and its index in any error message.
    async fn analyze_indexed(
        &self,
        ctx: &Context<'_>,
        index: usize,
        input: &Input,
    ) -> Result<(usize, Part), Failure> {
        match self.analyze_input(ctx, input).await {
            Ok(part) => Ok((index, part)),
            Err(Failure::Permanent(e)) => Err(Failure::Permanent(JobError::new(
                e.code,
                format!("input {index}: {}", e.message),
            ))),
            Err(other) => Err(other),
        }
    }

    async fn analyze_input(&self, ctx: &Context<'_>, input: &Input) -> Result<Part, Failure> {
        let options = &ctx.job.options;
        let wanted = |m: Modality| options.modalities.as_ref().is_none_or(|ms| ms.contains(&m));
        match input.kind {
            InputKind::Image if wanted(Modality::Face) => {
                let Some(pipeline) = &self.pipelines.face else {
                    return Ok(unavailable("face"));
                };
                let bytes = self.media(input).await?;
                let params = FaceParams {
                    min_face_px: options.face.min_face_px,
                    max_faces: options.face.max_faces,
                };
                let a = pipeline
                    .analyze(bytes, params, ctx.interactive, ctx.cancel)
                    .await
                    .map_err(Failure::from)?;
                let [(detector, _), (emotion, _)] = pipeline.models();
                let mut batches = vec![(detector.to_owned(), a.detector_batch)];
                batches.extend(a.emotion_batches.iter().map(|&b| (emotion.to_owned(), b)));
                let readings: Vec<Source> = a
                    .faces
                    .iter()
                    .map(|f| reading_source("face", &f.reading, true))
                    .collect();
                let source = mean_source("face", &readings);
                let body = json!({"width": a.width, "height": a.height, "faces": a.faces});
                Ok(Part::Done {
                    modality: "face",
                    body,
                    batches,
                    source,
                })
            }
            InputKind::Audio if wanted(Modality::Voice) => {
                let Some(pipeline) = &self.pipelines.voice else {
                    return Ok(unavailable("voice"));
                };
                let bytes = self.media(input).await?;
                let params = VoiceParams {
                    hop_s: options.voice.hop_s,
                };
                let a = pipeline
                    .analyze(bytes, params, ctx.interactive, ctx.cancel)
                    .await
                    .map_err(Failure::from)?;
                let batches = tagged(pipeline.models()[0].0, &a.batch_sizes);
                let source = match (&a.summary.reading, a.summary.no_speech) {
                    (Some(r), false) => Some(reading_source("voice", r, true)),
                    _ => None,
                };
                let body = serde_json::to_value(&a).map_err(internal)?;
                Ok(Part::Done {
                    modality: "voice",
                    body,
                    batches,
                    source,
                })
            }
            InputKind::Text if wanted(Modality::Text) => {
                let Some(pipeline) = &self.pipelines.text else {
                    return Ok(unavailable("text"));
                };
                let text = input.text.clone().unwrap_or_default();
                let granularity = match options.text.granularity {
                    TextGranularity::Document => Granularity::Document,
                    TextGranularity::Sentence => Granularity::Sentence,
                };
                let a = pipeline
                    .analyze(
                        text,
                        TextParams { granularity },
                        ctx.interactive,
                        ctx.cancel,
                    )
                    .await
                    .map_err(Failure::from)?;
                let batches = tagged(pipeline.models()[0].0, &a.batch_sizes);
                let with_arousal = pipeline.measures_arousal();
                let source = Some(reading_source("text", &a.summary, with_arousal));
                let mut body = json!({"spans": a.spans, "summary": a.summary});
                if !with_arousal {
                    // The model does not measure arousal: say so (null) rather than print zeros.
                    body["summary"]["arousal"] = Value::Null;
                    for span in body["spans"].as_array_mut().into_iter().flatten() {
                        span["arousal"] = Value::Null;
                    }
                }
                Ok(Part::Done {
                    modality: "text",
                    body,
                    batches,
                    source,
                })
            }
            _ => Ok(Part::Skipped),
        }
    }

    /// Of a job none of whose inputs was analysed: the first media input that is empty or no
    /// known format, as the error it gets when its modality is asked for. Bytes the submitter
    /// did not recognise as audio are sent as images, so a voice-only job would otherwise call
    /// them "nothing to analyze"; only their first bytes are read.
    async fn unrecognised_input(&self, job: &Job) -> Result<Option<JobError>, Failure> {
        for (index, input) in job.inputs.iter().enumerate() {
            let (InputKind::Image, Some(key)) = (input.kind, &input.media_key) else {
                continue;
            };
            let (head, size) = self.media.head(key, 64).await?;
            let (code, what) = if size == 0 {
                ("input_empty", "the file is empty (0 bytes)")
            } else if soyl_models::image_input::sniff(&head).is_none() {
                (
                    "media_unrecognized",
                    "not a recognised image or audio format",
                )
            } else {
                continue;
            };
            return Ok(Some(JobError::new(code, format!("input {index}: {what}"))));
        }
        Ok(None)
    }

    async fn media(&self, input: &Input) -> Result<bytes::Bytes, Failure> {
        let key = input.media_key.as_ref().ok_or_else(|| {
            Failure::Permanent(JobError::new("input_invalid", "the input has no media key"))
        })?;
        Ok(self.media.get(key, self.max_media_bytes).await?)
    }
}

/// A model reading as a fusion source: its confidence is the probability of its top label.
fn reading_source(modality: &str, r: &Reading, with_arousal: bool) -> Source {
    Source {
        source: modality.to_owned(),
        valence: r.valence,
        arousal: with_arousal.then_some(r.arousal),
        confidence: r.emotions.get(&r.top).copied().unwrap_or(0.0),
    }
}

/// Several readings of one modality (faces of an image, inputs of a job) as one source: means of
/// valence, arousal (where measured) and confidence.
fn mean_source(modality: &str, sources: &[Source]) -> Option<Source> {
    if sources.is_empty() {
        return None;
    }
    let n = sources.len() as f64;
    let arousals: Vec<f64> = sources.iter().filter_map(|s| s.arousal).collect();
    Some(Source {
        source: modality.to_owned(),
        valence: round4(sources.iter().map(|s| s.valence).sum::<f64>() / n),
        arousal: (!arousals.is_empty())
            .then(|| round4(arousals.iter().sum::<f64>() / arousals.len() as f64)),
        confidence: round4(sources.iter().map(|s| s.confidence).sum::<f64>() / n),
    })
}

fn unavailable(modality: &'static str) -> Part {
    Part::Unavailable {
        modality,
        reason: format!("no {modality} model is configured in the model repository"),
    }
}

fn tagged(model: &str, sizes: &[usize]) -> Vec<(String, usize)> {
    sizes.iter().map(|&s| (model.to_owned(), s)).collect()
}

fn internal(e: serde_json::Error) -> Failure {
    Failure::from(ModelError::Ort {
        model: "result".into(),
        operation: "serialise",
        message: e.to_string(),
    })
}
