//! The text lane's [`Batcher`]: pads a batch of token chunks to its longest member, builds the
//! i64 `[N, L]` tensors a Hugging Face sequence-classification export takes (`input_ids`,
//! `attention_mask`, and `token_type_ids` when the model lists it), runs the session once and
//! splits the `[N, C]` scores (and the optional `[N, 1]` valence) per chunk. Owned by the lane
//! thread started in [`super::TextPipeline::start`]. It also counts real and padded tokens, so
//! the cost of padding is observable.

use super::tokenize::TokenChunk;
use crate::lane::Batcher;
use crate::manifest::{Manifest, TEXT_INPUTS};
use crate::{Device, ModelError, Runtime};
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Tokens the text lane has run: real ones, and the slots of the padded tensors.
#[derive(Debug, Default)]
pub struct PaddingStats {
    /// Real tokens (sum of chunk lengths).
    pub tokens: AtomicU64,
    /// Tensor slots (batch size x longest chunk, summed over runs); `>= tokens`.
    pub slots: AtomicU64,
}

impl PaddingStats {
    /// Share of tensor slots that were padding, 0..1 (0 before any run).
    pub fn padding_ratio(&self) -> f64 {
        let slots = self.slots.load(Ordering::Relaxed);
        let tokens = self.tokens.load(Ordering::Relaxed);
        if slots == 0 {
            return 0.0;
        }
        (slots - tokens.min(slots)) as f64 / slots as f64
    }
}

/// The raw model output of one chunk.
#[derive(Debug, Clone)]
pub struct ChunkOutput {
    /// The classifier output, before any activation.
    pub scores: Vec<f32>,
    /// The model's own valence, when it has a valence output.
    pub valence: Option<f32>,
}

/// A text classification session and its reused input buffers.
pub struct TextBatcher {
    model: String,
    session: Session,
    type_ids: bool,
    pad_id: i64,
    scores_output: String,
    labels: usize,
    valence_output: Option<String>,
    ids: Vec<i64>,
    mask: Vec<i64>,
    types: Vec<i64>,
    padding: Arc<PaddingStats>,
}

impl TextBatcher {
    /// Loads the model of `manifest` on the runtime's device.
    pub fn load(
        runtime: &Runtime,
        manifest: &Manifest,
        padding: Arc<PaddingStats>,
    ) -> Result<(Self, Device), ModelError> {
        let (session, device) =
            runtime.session(&manifest.name, &manifest.model_path(), manifest.cuda)?;
        let classifier = manifest.classifier();
        let batcher = TextBatcher {
            model: manifest.name.clone(),
            session,
            type_ids: manifest.inputs.iter().any(|i| i.name == TEXT_INPUTS[2]),
            pad_id: manifest.text().pad_id,
            scores_output: classifier.scores_output.clone(),
            labels: classifier.labels.len(),
            valence_output: manifest.text().valence_output.clone(),
            ids: Vec::new(),
            mask: Vec::new(),
            types: Vec::new(),
            padding,
        };
        Ok((batcher, device))
    }

    /// Fills the reused buffers with `items` padded to `len` tokens.
    fn pad(&mut self, items: &[TokenChunk], len: usize) {
        self.ids.clear();
        self.mask.clear();
        self.types.clear();
        for item in items {
            let pad = len - item.ids.len();
            self.ids.extend_from_slice(&item.ids);
            self.ids.extend(std::iter::repeat_n(self.pad_id, pad));
            self.mask.extend(std::iter::repeat_n(1, item.ids.len()));
            self.mask.extend(std::iter::repeat_n(0, pad));
            if self.type_ids {
                let given = item.type_ids.as_deref().unwrap_or(&[]);
                self.types.extend_from_slice(given);
                self.types
                    .extend(std::iter::repeat_n(0, len - given.len().min(len)));
            }
        }
    }
}

fn tensor<'a>(
    model: &str,
    shape: [usize; 2],
    data: &'a [i64],
) -> Result<SessionInputValue<'a>, ModelError> {
    TensorRef::from_array_view((shape.to_vec(), data))
        .map(Into::into)
        .map_err(|e| ModelError::ort(model, "build input", e))
}

fn bad_output(model: &str, message: String) -> ModelError {
    ModelError::Ort {
        model: model.to_owned(),
        operation: "read output",
        message,
    }
}

impl Batcher for TextBatcher {
    type Item = TokenChunk;
    type Output = ChunkOutput;

    fn cost(item: &TokenChunk) -> u64 {
        item.ids.len() as u64
    }

    fn run(&mut self, items: &[TokenChunk]) -> Result<Vec<ChunkOutput>, ModelError> {
        let n = items.len();
        let len = items.iter().map(|i| i.ids.len()).max().unwrap_or(0).max(1);
        self.pad(items, len);
        let real: usize = items.iter().map(|i| i.ids.len()).sum();
        self.padding
            .tokens
            .fetch_add(real as u64, Ordering::Relaxed);
        self.padding
            .slots
            .fetch_add((n * len) as u64, Ordering::Relaxed);

        let model = &self.model;
        let shape = [n, len];
        let mut inputs = vec![
            (TEXT_INPUTS[0], tensor(model, shape, &self.ids)?),
            (TEXT_INPUTS[1], tensor(model, shape, &self.mask)?),
        ];
        if self.type_ids {
            inputs.push((TEXT_INPUTS[2], tensor(model, shape, &self.types)?));
        }
        let out = self
            .session
            .run(inputs)
            .map_err(|e| ModelError::ort(model, "run", e))?;

        let (_, scores) = out[self.scores_output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| ModelError::ort(model, "read output", e))?;
        if scores.len() != n * self.labels {
            return Err(bad_output(
                model,
                format!(
                    "output {} has {} values, expected {n} x {} labels",
                    self.scores_output,
                    scores.len(),
                    self.labels
                ),
            ));
        }
        let valence = match &self.valence_output {
            Some(name) => {
                let (_, v) = out[name.as_str()]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| ModelError::ort(model, "read output", e))?;
                if v.len() != n {
                    return Err(bad_output(
                        model,
                        format!("output {name} has {} values, expected {n}", v.len()),
                    ));
                }
                Some(v.to_vec())
            }
            None => None,
        };
        Ok(scores
            .chunks_exact(self.labels)
            .enumerate()
            .map(|(i, s)| ChunkOutput {
                scores: s.to_vec(),
                valence: valence.as_ref().map(|v| v[i]),
            })
            .collect())
    }
}
