//! The text pipeline: text -> spans (document or sentences) -> tokens in chunks of at most the
//! model's `max_length` (blocking pool) -> text lane (batched across every job under a token
//! budget, padded per batch to the longest chunk) -> one reading per span and a document summary.
//! Called by the worker once per text input.
//!
//! Offsets: every span's `begin`/`end` are Unicode scalar value (`char`) indices into the original
//! text, end exclusive; see [`spans`] for what that means for emoji, combining marks and CRLF.

pub mod batcher;
mod score;
pub mod spans;
pub mod tokenize;

use crate::affect::Reading;
use crate::blocking::Preprocess;
use crate::face::BatchOverrides;
use crate::lane::{CancelToken, Lane, LaneConfig};
use crate::manifest::{Manifest, Task};
use crate::tensor_lane::load_replicas;
use crate::{Device, InputError, ModelError, Repository, Runtime};
use batcher::{PaddingStats, TextBatcher};
use score::Scores;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use tokenize::{TextTokenizer, TokenChunk};

/// Error code of a panic while segmenting or tokenizing (a tokenizer bug on hostile input).
const TOKENIZER_CRASHED: &str = "text_tokenizer_crashed";

/// What one reading covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// The whole text, one span.
    #[default]
    Document,
    /// One span per sentence (Unicode sentence boundaries).
    Sentence,
}

/// Per-job text settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextParams {
    /// Document or sentence spans.
    pub granularity: Granularity,
}

/// Input limits the pipeline enforces itself, behind the submitter's own (413 at submit).
#[derive(Debug, Clone, Copy)]
pub struct TextLimits {
    /// Longest text in UTF-8 bytes; longer fails with `text_too_long`. Default 1 MiB.
    pub max_bytes: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        TextLimits { max_bytes: 1 << 20 }
    }
}

/// Text-only start settings, beyond the [`BatchOverrides`] every pipeline shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// Input limits.
    pub limits: TextLimits,
    /// Token budget per batch (padded), overriding the manifest's `max_batch_tokens`.
    pub max_batch_tokens: Option<usize>,
    /// Sort waiting chunks by length, overriding the manifest's `sort_by_length`.
    pub sort_by_length: Option<bool>,
}

/// One analysed span.
#[derive(Debug, Clone, Serialize)]
pub struct Span {
    /// First character (Unicode scalar index) of the span in the original text.
    pub begin: usize,
    /// One past its last character.
    pub end: usize,
    /// Its reading (`emotions`, `top`, `valence`, `arousal`).
    #[serde(flatten)]
    pub reading: Reading,
}

/// The spans of one text, a document summary, and how the work was batched.
#[derive(Debug, Clone, Serialize)]
pub struct TextAnalysis {
    /// The spans, in text order.
    pub spans: Vec<Span>,
    /// The whole document: span readings averaged weighted by span length in characters.
    pub summary: Reading,
    /// Size of the lane batch each chunk ran in (a span split for length has several chunks).
    #[serde(skip)]
    pub batch_sizes: Vec<usize>,
}

/// The running text pipeline: one lane, its model and tokenizer.
pub struct TextPipeline {
    lane: Lane<TextBatcher>,
    manifest: Arc<Manifest>,
    tokenizer: Arc<TextTokenizer>,
    padding: Arc<PaddingStats>,
    limits: TextLimits,
    device: Device,
    preprocess: Preprocess,
}

impl TextPipeline {
    /// Loads the repository's text-sentiment model and starts its lane with default
    /// [`TextOptions`]. `Ok(None)` when the repository has no text model.
    pub fn start(
        runtime: &Runtime,
        repo: &Repository,
        overrides: BatchOverrides,
    ) -> Result<Option<TextPipeline>, ModelError> {
        Self::start_with(runtime, repo, overrides, TextOptions::default())
    }

    /// [`TextPipeline::start`] with text-only settings.
    pub fn start_with(
        runtime: &Runtime,
        repo: &Repository,
        overrides: BatchOverrides,
        options: TextOptions,
    ) -> Result<Option<TextPipeline>, ModelError> {
        let Some(manifest) = repo.for_task(Task::TextSentiment) else {
            return Ok(None);
        };
        let tokenizer = TextTokenizer::load(manifest)?;
        let padding = Arc::new(PaddingStats::default());
        let (batchers, device) = load_replicas(runtime, || {
            TextBatcher::load(runtime, manifest, padding.clone())
        })?;
        let defaults = &manifest.batching;
        let max_batch = overrides
            .max_batch
            .unwrap_or(defaults.max_batch_on(device))
            .max(1);
        // A budget under one full-length chunk would only ever run chunks alone.
        let max_tokens = options
            .max_batch_tokens
            .or(defaults.max_batch_tokens)
            .map(|t| t.max(manifest.text().max_length) as u64);
        let config = LaneConfig {
            name: manifest.name.clone(),
            max_batch,
            max_delay: overrides
                .max_delay
                .unwrap_or_else(|| defaults.max_delay_on(device)),
            capacity: max_batch * 16,
            max_batch_cost: max_tokens,
            sort_by_cost: options.sort_by_length.unwrap_or(defaults.sort_by_length),
        };
        let lane = Lane::spawn_replicas(batchers, config)?;
        Ok(Some(TextPipeline {
            lane,
            manifest: Arc::new(manifest.clone()),
            tokenizer: Arc::new(tokenizer),
            padding,
            limits: options.limits,
            device,
            preprocess: runtime.preprocess().clone(),
        }))
    }

    /// Whether the model's readings carry arousal (see [`Manifest::measures_arousal`]).
    pub fn measures_arousal(&self) -> bool {
        self.manifest.measures_arousal()
    }

    /// `(name, version)` of the model this pipeline runs.
    pub fn models(&self) -> [(&str, &str); 1] {
        [(&self.manifest.name, &self.manifest.version)]
    }

    /// The device the session runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The lane, for metrics.
    pub fn lanes(&self) -> [&Lane<TextBatcher>; 1] {
        [&self.lane]
    }

    /// Real and padded tokens run so far, for metrics and the benchmark.
    pub fn padding(&self) -> &PaddingStats {
        &self.padding
    }

    /// Reads one text: one [`Span`] per sentence or for the whole document, and a summary.
    /// Fails with `text_empty` for blank text and `text_too_long` over [`TextLimits::max_bytes`].
    pub async fn analyze(
        &self,
        text: String,
        params: TextParams,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<TextAnalysis, ModelError> {
        if text.len() > self.limits.max_bytes {
            return Err(InputError::new(
                "text_too_long",
                format!(
                    "text is {} bytes, the limit is {}",
                    text.len(),
                    self.limits.max_bytes
                ),
            )
            .into());
        }
        if text.trim().is_empty() {
            return Err(InputError::new("text_empty", "text is empty or only whitespace").into());
        }
        let tokenizer = self.tokenizer.clone();
        let preprocess_started = std::time::Instant::now();
        let spans = self
            .preprocess
            .run(interactive, TOKENIZER_CRASHED, move || {
                spans::split(&text, params.granularity)
                    .into_iter()
                    .map(|span| Ok((span.chars.clone(), tokenizer.chunks(&text[span.bytes])?)))
                    .collect::<Result<Vec<_>, InputError>>()
            })
            .await?;
        crate::telemetry::preprocess("text", preprocess_started.elapsed());

        let chunks: Vec<(usize, TokenChunk)> = spans
            .iter()
            .enumerate()
            .flat_map(|(i, (_, chunks))| chunks.iter().map(move |c| (i, c.clone())))
            .collect();
        let outputs = self.infer_all(chunks, interactive, cancel).await?;

        let mut per_span: Vec<Vec<(Scores, f64)>> = vec![Vec::new(); spans.len()];
        let mut batch_sizes = Vec::with_capacity(outputs.len());
        for (span, tokens, batched) in outputs {
            batch_sizes.push(batched.batch_size);
            let scores = Scores::of_chunk(&self.manifest, &batched.output);
            per_span[span].push((scores, tokens as f64));
        }
        let mut summary_parts = Vec::with_capacity(spans.len());
        let mut result = Vec::with_capacity(spans.len());
        for ((chars, _), parts) in spans.into_iter().zip(per_span) {
            let scores = Scores::merge(&parts);
            result.push(Span {
                begin: chars.start,
                end: chars.end,
                reading: scores.reading(&self.manifest),
            });
            summary_parts.push((scores, chars.len() as f64));
        }
        Ok(TextAnalysis {
            spans: result,
            summary: Scores::merge(&summary_parts).reading(&self.manifest),
            batch_sizes,
        })
    }

    /// Runs every chunk through the lane (in waves: [`Lane::infer_all`]). Answers
    /// `(span index, tokens, output)` in input order.
    async fn infer_all(
        &self,
        chunks: Vec<(usize, TokenChunk)>,
        interactive: bool,
        cancel: &CancelToken,
    ) -> Result<Vec<(usize, usize, crate::Batched<batcher::ChunkOutput>)>, ModelError> {
        let (meta, items): (Vec<_>, Vec<_>) = chunks
            .into_iter()
            .map(|(span, c)| ((span, c.ids.len()), c))
            .unzip();
        let answers = self.lane.infer_all(items, interactive, cancel).await?;
        Ok(meta
            .into_iter()
            .zip(answers)
            .map(|((span, tokens), answer)| (span, tokens, answer))
            .collect())
    }
}
