//! `model.toml`: everything soyl needs to know about a model besides its weights.
//!
//! A manifest names the model and its version (both reported in every result), the task it
//! serves, where its ONNX file is (relative paths are relative to the manifest's folder), its
//! input and output tensors, preprocessing parameters, labels with their valence/arousal
//! coordinates, and batching defaults. Read by [`crate::Repository`] at start.

use crate::ModelError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a model does; decides which pipeline uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Boxes and scores of faces in an RGB image.
    FaceDetection,
    /// Expression scores of one grayscale face crop.
    FaceEmotion,
    /// Emotion scores of one window of speech.
    VoiceEmotion,
    /// Sentiment of a token sequence.
    TextSentiment,
}

/// A tensor the model takes or gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// The graph's name for it.
    pub name: String,
    /// Its shape; `-1` marks the batch (or another dynamic) dimension.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// Elements per batch item (product of the fixed dimensions after the first).
    pub fn item_len(&self) -> usize {
        self.shape
            .iter()
            .skip(1)
            .map(|&d| usize::try_from(d).unwrap_or(1))
            .product()
    }
}

/// Colour layout of image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Three planes, R G B.
    Rgb,
    /// One luma plane.
    Gray,
}

/// Image preprocessing: resize to `width` x `height`, then `(px - mean) / std` per channel, NCHW.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePreprocess {
    /// Colour layout.
    pub color: Color,
    /// Model input width in pixels.
    pub width: u32,
    /// Model input height in pixels.
    pub height: u32,
    /// Subtracted from each 0..255 pixel value.
    pub mean: f32,
    /// Divides the centred value.
    pub std: f32,
}

/// How audio samples are scaled before the model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Raw samples in -1..1 (models trained on recording levels).
    #[default]
    None,
    /// Zero mean, unit variance over the window's real samples, padding left at 0 (the Hugging
    /// Face `Wav2Vec2FeatureExtractor` convention).
    Zscore,
}

/// Audio preprocessing: mono at `sample_rate`, cut into windows of `window_s` seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioPreprocess {
    /// Sample rate the model expects, in Hz; input is resampled to it.
    pub sample_rate: u32,
    /// Window length in seconds; `window_s * sample_rate` must equal the input's time dimension.
    pub window_s: f32,
    /// Sample scaling.
    #[serde(default)]
    pub normalize: Normalize,
    /// Name of an `i64` `[N, T]` input that marks real samples 1 and padding 0, if the model has one.
    #[serde(default)]
    pub attention_mask: Option<String>,
}

impl AudioPreprocess {
    /// Samples per window.
    pub fn window_samples(&self) -> usize {
        (f64::from(self.window_s) * f64::from(self.sample_rate)).round() as usize
    }
}

/// How raw outputs become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Already probabilities.
    #[default]
    None,
    /// Logits: apply softmax.
    Softmax,
}

/// Detector postprocessing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSettings {
    /// Output holding `[N, anchors, 2]` (background, face) scores.
    pub scores_output: String,
    /// Output holding `[N, anchors, 4]` corner boxes normalised to 0..1.
    pub boxes_output: String,
    /// Keep faces scoring above this.
    pub score_threshold: f32,
    /// Non-maximum suppression overlap threshold.
    pub iou_threshold: f32,
}

/// Classifier postprocessing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSettings {
    /// Output holding `[N, labels]` scores.
    pub scores_output: String,
    /// Whether the scores still need a softmax.
    #[serde(default)]
    pub activation: Activation,
    /// Class names, in output order.
    pub labels: Vec<String>,
}

/// Batching defaults for the model's lane (overridable on the command line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchingDefaults {
    /// Most items in one run.
    pub max_batch: usize,
    /// Longest wait after the first item for more to arrive, in milliseconds.
    pub max_delay_ms: u64,
    /// The same on the CPU. 0 for models whose CPU sessions gain little from batch size: a batch
    /// is then whatever waited while the lane was busy, and no item waits for company while a
    /// session is idle. Absent: `max_delay_ms`.
    #[serde(default)]
    pub cpu_max_delay_ms: Option<u64>,
    /// Most items in one run on the CPU, where a larger batch buys little and its activations
    /// stay resident in each replica's memory arena. Absent: `max_batch`.
    #[serde(default)]
    pub cpu_max_batch: Option<usize>,
    /// Token budget per run for text models, counted with padding (`items x longest`), as
    /// TEI's `max_batch_tokens`. Absent: only `max_batch` limits a run.
    #[serde(default)]
    pub max_batch_tokens: Option<usize>,
    /// Order waiting text items by length before cutting a batch, to cut padding (default on).
    #[serde(default = "yes")]
    pub sort_by_length: bool,
}

impl BatchingDefaults {
    /// Most items in one run on `device`.
    pub fn max_batch_on(&self, device: crate::Device) -> usize {
        match device {
            crate::Device::Cpu => self.cpu_max_batch.unwrap_or(self.max_batch),
            crate::Device::Cuda => self.max_batch,
        }
    }

    /// Batching delay on `device`.
    pub fn max_delay_on(&self, device: crate::Device) -> std::time::Duration {
        let ms = match device {
            crate::Device::Cpu => self.cpu_max_delay_ms.unwrap_or(self.max_delay_ms),
            crate::Device::Cuda => self.max_delay_ms,
        };
        std::time::Duration::from_millis(ms)
    }
}

fn yes() -> bool {
    true
}

/// The HF sequence-classification input names a text model may take, all i64 `[N, L]`.
pub const TEXT_INPUTS: [&str; 3] = ["input_ids", "attention_mask", "token_type_ids"];

/// Text models: tokenizer and sequence limits. The graph's inputs are `input_ids` and
/// `attention_mask`, plus `token_type_ids` when listed in `inputs` (see [`TEXT_INPUTS`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSettings {
    /// The `tokenizer.json` file (relative to the manifest's folder).
    pub tokenizer: PathBuf,
    /// Most tokens per sequence, special tokens included; longer spans are split into chunks.
    pub max_length: usize,
    /// Tokens shared by consecutive chunks of a split span.
    #[serde(default)]
    pub overlap: usize,
    /// Token id used to pad a batch to its longest member.
    #[serde(default)]
    pub pad_id: i64,
    /// Output holding `[N, 1]` valence in -1..1, used instead of the label-weighted valence.
    #[serde(default)]
    pub valence_output: Option<String>,
}

/// A parsed `model.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Model name, reported in results.
    pub name: String,
    /// Model version, reported in results.
    pub version: String,
    /// What it does.
    pub task: Task,
    /// The ONNX file (relative to the manifest's folder).
    pub file: PathBuf,
    /// One line on what it is and where it comes from.
    #[serde(default)]
    pub description: String,
    /// Input tensors.
    pub inputs: Vec<TensorSpec>,
    /// Output tensors.
    pub outputs: Vec<TensorSpec>,
    /// Image preprocessing, for image models.
    #[serde(default)]
    pub image: Option<ImagePreprocess>,
    /// Audio preprocessing, for voice models.
    #[serde(default)]
    pub audio: Option<AudioPreprocess>,
    /// Detector postprocessing, for detectors.
    #[serde(default)]
    pub detector: Option<DetectorSettings>,
    /// Classifier postprocessing, for classifiers.
    #[serde(default)]
    pub classifier: Option<ClassifierSettings>,
    /// Tokenizer and sequence limits, for text models.
    #[serde(default)]
    pub text: Option<TextSettings>,
    /// Label -> `[valence, arousal]`, each in -1..1.
    #[serde(default)]
    pub affect: BTreeMap<String, [f32; 2]>,
    /// Lane batching defaults.
    pub batching: BatchingDefaults,
    /// Whether the model may run on the CUDA provider (default yes). `false` keeps it on the CPU
    /// under `--device cuda` and `auto` too, for models the host's cores run faster than the
    /// CUDA provider does (operators it leaves on the CPU, with copies between the two).
    #[serde(default = "yes")]
    pub cuda: bool,
    /// Folder the manifest was read from (set on load).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Manifest {
    /// Reads and checks `dir/model.toml`.
    pub fn load(dir: &Path) -> Result<Manifest, ModelError> {
        let path = dir.join("model.toml");
        let bad = |message: String| ModelError::Manifest {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        manifest.dir = dir.to_path_buf();
        manifest.check().map_err(bad)?;
        Ok(manifest)
    }

    /// The ONNX file's resolved path.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// The classifier section, which classifier tasks must have.
    pub fn classifier(&self) -> &ClassifierSettings {
        self.classifier
            .as_ref()
            .expect("classifier section checked at load; this is a bug")
    }

    /// The image section, which image tasks must have.
    pub fn image(&self) -> &ImagePreprocess {
        self.image
            .as_ref()
            .expect("image section checked at load; this is a bug")
    }

    /// The audio section, which voice tasks must have.
    pub fn audio(&self) -> &AudioPreprocess {
        self.audio
            .as_ref()
            .expect("audio section checked at load; this is a bug")
    }

    /// The name of the attention-mask input, if the model takes one.
    pub fn mask_input(&self) -> Option<&str> {
        self.audio.as_ref()?.attention_mask.as_deref()
    }

    /// The input that carries the data: the first one that is not the attention mask.
    pub fn main_input(&self) -> &TensorSpec {
        self.inputs
            .iter()
            .find(|i| Some(i.name.as_str()) != self.mask_input())
            .expect("a data input checked at load; this is a bug")
    }

    /// Position of the classifier's scores among the outputs.
    pub fn scores_index(&self) -> Option<usize> {
        let name = &self.classifier.as_ref()?.scores_output;
        self.outputs.iter().position(|o| &o.name == name)
    }

    /// The text section, which text tasks must have.
    pub fn text(&self) -> &TextSettings {
        self.text
            .as_ref()
            .expect("text section checked at load; this is a bug")
    }

    /// The tokenizer file's resolved path (text models).
    pub fn tokenizer_path(&self) -> Option<PathBuf> {
        self.text.as_ref().map(|t| self.dir.join(&t.tokenizer))
    }

    /// False when every label's arousal is 0: such a model (e.g. a sentiment lexicon) does not
    /// measure arousal, and fusion must not read its zeros as "calm".
    pub fn measures_arousal(&self) -> bool {
        self.affect.values().any(|[_, arousal]| *arousal != 0.0)
    }

    /// `[valence, arousal]` for a label, if the manifest maps it.
    pub fn affect_of(&self, label: &str) -> Option<[f32; 2]> {
        self.affect.get(label).copied()
    }

    fn check(&self) -> Result<(), String> {
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err("needs at least one input and one output".into());
        }
        if !self.model_path().is_file() {
            return Err(format!(
                "model file {} not found",
                self.model_path().display()
            ));
        }
        if self.batching.max_batch == 0 {
            return Err("batching.max_batch must be at least 1".into());
        }
        let needs_image = matches!(self.task, Task::FaceDetection | Task::FaceEmotion);
        if needs_image && self.image.is_none() {
            return Err(format!("task {:?} needs an [image] section", self.task));
        }
        if self.task == Task::VoiceEmotion {
            self.check_audio()?;
        }
        if self.task == Task::TextSentiment {
            self.check_text()?;
        }
        if self.task == Task::FaceDetection && self.detector.is_none() {
            return Err("task face-detection needs a [detector] section".into());
        }
        if self.classifier.is_some() && self.scores_index().is_none() {
            return Err("classifier.scores_output is not listed in outputs".into());
        }
        if let Some(c) = &self.classifier {
            if let Some(missing) = c.labels.iter().find(|l| !self.affect.contains_key(*l)) {
                return Err(format!("label {missing:?} has no [affect] entry"));
            }
        } else if self.task != Task::FaceDetection {
            return Err(format!("task {:?} needs a [classifier] section", self.task));
        }
        Ok(())
    }

    fn check_audio(&self) -> Result<(), String> {
        let Some(audio) = &self.audio else {
            return Err("task voice-emotion needs an [audio] section".into());
        };
        if !(1_000..=384_000).contains(&audio.sample_rate) {
            return Err(format!(
                "audio.sample_rate {} is out of range",
                audio.sample_rate
            ));
        }
        if !(audio.window_s > 0.0 && audio.window_s <= 60.0) {
            return Err(format!(
                "audio.window_s {} must be in (0, 60]",
                audio.window_s
            ));
        }
        let samples = audio.window_samples() as i64;
        let mask = audio.attention_mask.as_deref();
        let data: Vec<&TensorSpec> = self
            .inputs
            .iter()
            .filter(|i| Some(i.name.as_str()) != mask)
            .collect();
        if data.len() != 1 {
            return Err("a voice model needs exactly one data input besides the mask".into());
        }
        for input in self.inputs.iter() {
            if input.shape.len() != 2 || input.shape[1] != samples {
                return Err(format!(
                    "input {} must have shape [-1, {samples}] (window_s * sample_rate)",
                    input.name
                ));
            }
        }
        if let Some(mask) = mask {
            if !self.inputs.iter().any(|i| i.name == mask) {
                return Err(format!(
                    "audio.attention_mask {mask:?} is not listed in inputs"
                ));
            }
        }
        Ok(())
    }

    fn check_text(&self) -> Result<(), String> {
        let text = self
            .text
            .as_ref()
            .ok_or("task text-sentiment needs a [text] section")?;
        if let Some(path) = self.tokenizer_path().filter(|p| !p.is_file()) {
            return Err(format!("tokenizer file {} not found", path.display()));
        }
        if let Some(bad) = self
            .inputs
            .iter()
            .find(|i| !TEXT_INPUTS.contains(&i.name.as_str()))
        {
            return Err(format!(
                "text input {:?} is not one of {TEXT_INPUTS:?}",
                bad.name
            ));
        }
        for required in &TEXT_INPUTS[..2] {
            if !self.inputs.iter().any(|i| i.name == *required) {
                return Err(format!("text models need an input named {required}"));
            }
        }
        if text.max_length < 2 || text.overlap * 2 >= text.max_length {
            return Err("text.max_length must be at least 2 and over twice text.overlap".into());
        }
        if let Some(v) = &text.valence_output {
            if !self.outputs.iter().any(|o| &o.name == v) {
                return Err(format!("text.valence_output {v} is not listed in outputs"));
            }
        }
        Ok(())
    }
}
