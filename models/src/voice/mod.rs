//! The voice pipeline: decode any accepted audio to mono (blocking pool) -> prosody frame track ->
//! resample to the model's rate -> model-length windows, silent ones dropped -> the voice-emotion
//! lane, which batches windows across every job in the process -> per-segment readings and an
//! utterance summary. Called by the worker once per audio input.
//!
//! Limits of the reference model (`voice-emotion`, a small 1-D CNN trained on acted studio speech):
//! it is over-confident, and louder recordings lean `angry`; its scores are a weak signal on
//! natural speech. The prosody and its arousal estimate do not depend on it.

pub mod arousal;
mod container;
pub mod decode;
mod flac_metadata;
mod mp4_boxes;
mod mp4_edit;
mod mp4_tables;
mod pitch;
pub mod prosody;
pub mod resample;
pub mod segment;
pub mod summary;
mod wav_header;
pub mod window;

pub use crate::tensor_lane::BatchOverrides;
pub use decode::AudioLimits;
pub use prosody::SegmentProsody;
pub use summary::Summary;

use crate::affect::{read_scores, Reading};
use crate::blocking::{unshare, Preprocess, DECODER_CRASHED};
use crate::lane::{CancelToken, Lane};
use crate::manifest::{AudioPreprocess, Manifest, Task};
use crate::tensor_lane::{spawn_tensor_lane, TensorBatcher};
use crate::{Device, InputError, ModelError, Repository, Runtime};
use futures::stream::{FuturesOrdered, StreamExt};
use prosody::{round3, Frame};
use segment::Window;
use serde::Serialize;
use std::sync::Arc;
use window::{model_window, ModelWindow};

/// Per-job voice settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct VoiceParams {
    /// Seconds between window starts; default (and maximum) the model's window length, minimum a
    /// quarter of it.
    pub hop_s: Option<f32>,
}

/// One analysed window.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    /// Start, seconds from the beginning of the recording.
    pub start: f64,
    /// End (of the real audio, not the padding), seconds.
    pub end: f64,
    /// The emotion model's reading of the window.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    /// Pitch, voicing and energy of the window.
    pub prosody: SegmentProsody,
}

/// The result for one recording.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceAnalysis {
    /// Windows with voice activity, in time order.
    pub segments: Vec<Segment>,
    /// Utterance-level summary.
    pub summary: Summary,
    /// Length of the decoded audio, seconds.
    pub duration_s: f64,
    /// The file's sample rate, Hz.
    pub sample_rate_in: u32,
    /// The file's channel count (downmixed to mono for analysis).
    pub channels_in: u32,
    /// Size of the lane batch each segment's window ran in.
    #[serde(skip)]
    pub batch_sizes: Vec<usize>,
}

/// The running voice pipeline: the voice-emotion lane and its manifest.
pub struct VoicePipeline {
    lane: Lane<TensorBatcher<ModelWindow>>,
    manifest: Arc<Manifest>,
    scores_index: usize,
    limits: AudioLimits,
    device: Device,
    preprocess: Preprocess,
}

/// What the blocking stage hands to the lane stage.
struct Prepared {
    signal: Vec<f32>,
    kept: Vec<(Window, SegmentProsody)>,
    frames: Vec<Frame>,
    threshold: f64,
    duration_s: f64,
    sample_rate_in: u32,
    channels_in: u32,
}

impl VoicePipeline {
    /// Loads the repository's voice-emotion model and starts its lane. `Ok(None)` when the
    /// repository has no voice model.
    pub fn start(
        runtime: &Runtime,
        repo: &Repository,
        overrides: BatchOverrides,
        limits: AudioLimits,
    ) -> Result<Option<VoicePipeline>, ModelError> {
        let Some(manifest) = repo.for_task(Task::VoiceEmotion) else {
            return Ok(None);
        };
        let scores_index = manifest
            .scores_index()
            .expect("scores output checked at load; this is a bug");
        let (lane, device) =
            spawn_tensor_lane(runtime, manifest, overrides.max_batch, overrides.max_delay)?;
        Ok(Some(VoicePipeline {
            lane,
            manifest: Arc::new(manifest.clone()),
            scores_index,
            limits,
            device,
            preprocess: runtime.preprocess().clone(),
        }))
    }

    /// `(name, version)` of the model this pipeline runs.
    pub fn models(&self) -> [(&str, &str); 1] {
        [(&self.manifest.name, &self.manifest.version)]
    }

    /// The device the model's session runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The lanes, for metrics.
    pub fn lanes(&self) -> [&Lane<TensorBatcher<ModelWindow>>; 1] {
        [&self.lane]
    }

    /// The accepted audio.
    pub fn limits(&self) -> &AudioLimits {
        &self.limits
    }

    /// Analyses one encoded recording.
    pub async fn analyze(
        &self,
        bytes: impl AsRef<[u8]> + Send + 'static,
        params: VoiceParams,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<VoiceAnalysis, ModelError> {
        let audio = self.manifest.audio().clone();
        let hop = hop_samples(params, &audio)?;
        let limits = self.limits.clone();
        let preprocess_started = std::time::Instant::now();
        let prepared = {
            let audio = audio.clone();
            self.preprocess
                .run(interactive, DECODER_CRASHED, move || {
                    prepare(bytes.as_ref(), &limits, &audio, hop)
                })
                .await?
        };
        crate::telemetry::preprocess("voice", preprocess_started.elapsed());
        if cancel.is_cancelled() {
            return Err(ModelError::Abandoned);
        }
        // A bounded number of windows in flight per recording: the lane's channel is shared by
        // every job, and model inputs are built only as they are sent.
        let in_flight = self.lane.config().max_batch.max(1);
        let signal = &prepared.signal;
        // A plain loop over `FuturesOrdered` rather than `stream::iter(..).buffered(..)`: a stream
        // holding a closure across the await makes the job future fail rustc's `Send` proof.
        let mut pending = FuturesOrdered::new();
        let mut windows = prepared.kept.iter();
        let mut answers = Vec::with_capacity(prepared.kept.len());
        loop {
            while pending.len() < in_flight {
                let Some((w, _)) = windows.next() else { break };
                pending.push_back(self.lane.infer(
                    model_window(signal, *w, &audio),
                    interactive,
                    cancel,
                ));
            }
            match pending.next().await {
                Some(answer) => answers.push(answer),
                None => break,
            }
        }

        let rate = f64::from(audio.sample_rate);
        let mut segments = Vec::with_capacity(answers.len());
        let mut batch_sizes = Vec::with_capacity(answers.len());
        for ((w, prosody), answer) in prepared.kept.into_iter().zip(answers) {
            // The lane drops the items of a cancelled job without answering them.
            let answer = answer.map_err(|e| {
                if cancel.is_cancelled() {
                    ModelError::Abandoned
                } else {
                    unshare(e)
                }
            })?;
            batch_sizes.push(answer.batch_size);
            segments.push(Segment {
                start: round3(w.start as f64 / rate),
                end: round3(w.end as f64 / rate),
                reading: Some(read_scores(
                    &self.manifest,
                    &answer.output[self.scores_index],
                )),
                prosody,
            });
        }
        let summary = summary::summarize(&prepared.frames, &segments, prepared.threshold);
        Ok(VoiceAnalysis {
            segments,
            summary,
            duration_s: round3(prepared.duration_s),
            sample_rate_in: prepared.sample_rate_in,
            channels_in: prepared.channels_in,
            batch_sizes,
        })
    }
}

/// The hop in model-rate samples, checked against the model's window.
fn hop_samples(params: VoiceParams, audio: &AudioPreprocess) -> Result<usize, InputError> {
    let Some(hop_s) = params.hop_s else {
        return Ok(audio.window_samples());
    };
    let (min, max) = (audio.window_s / 4.0, audio.window_s);
    if !(hop_s.is_finite() && hop_s >= min && hop_s <= max) {
        return Err(InputError::new(
            "voice_hop_invalid",
            format!("hop_s {hop_s} must be between {min} and {max} seconds"),
        ));
    }
    Ok((f64::from(hop_s) * f64::from(audio.sample_rate)).round() as usize)
}

/// Decode, prosody track, resample, cut and keep the active windows (the CPU-heavy part).
fn prepare(
    bytes: &[u8],
    limits: &AudioLimits,
    audio: &AudioPreprocess,
    hop: usize,
) -> Result<Prepared, InputError> {
    let decoded = decode::decode(bytes, limits)?;
    let rate_in = decoded.sample_rate;
    let duration_s = decoded.samples.len() as f64 / f64::from(rate_in);
    let frames = prosody::track(&decoded.samples, rate_in);
    let threshold = segment::activity_threshold(&frames);
    let signal = resample::resample(decoded.samples, rate_in, audio.sample_rate)?;
    let rate = f64::from(audio.sample_rate);
    let kept = segment::windows(signal.len(), audio.window_samples(), hop)
        .into_iter()
        .filter_map(|w| {
            let range =
                prosody::frame_range(frames.len(), w.start as f64 / rate, w.end as f64 / rate);
            let window_frames = &frames[range];
            segment::is_active(window_frames, threshold)
                .then(|| (w, prosody::segment(window_frames)))
        })
        .collect();
    Ok(Prepared {
        signal,
        kept,
        frames,
        threshold,
        duration_s,
        sample_rate_in: rate_in,
        channels_in: decoded.channels,
    })
}
