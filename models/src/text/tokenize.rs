//! Tokenization with Hugging Face `tokenizers` from the model folder's `tokenizer.json`: one span
//! becomes one or more chunks of at most `max_length` tokens (special tokens included), consecutive
//! chunks sharing `overlap` tokens, so a long span is read whole rather than cut off. Runs on the
//! blocking pool (called by [`super::TextPipeline`]); the lane only pads and runs.

use crate::manifest::{Manifest, TEXT_INPUTS};
use crate::{InputError, ModelError};
use tokenizers::tokenizer::PostProcessor;
use tokenizers::{Encoding, Tokenizer, TruncationDirection};

/// One model input sequence: the lane item of a text model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChunk {
    /// Token ids, special tokens included.
    pub ids: Vec<i64>,
    /// Segment ids, when the model takes `token_type_ids`.
    pub type_ids: Option<Vec<i64>>,
}

/// A loaded tokenizer set up for one model's limits.
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    /// Content tokens per chunk: `max_length` less the special tokens the template adds.
    window: usize,
    overlap: usize,
    type_ids: bool,
    pad_id: i64,
}

impl TextTokenizer {
    /// Loads the manifest's `tokenizer.json` with truncation to `max_length` and `overlap` stride.
    pub fn load(manifest: &Manifest) -> Result<TextTokenizer, ModelError> {
        let settings = manifest.text();
        let path = manifest.dir.join(&settings.tokenizer);
        let bad = |message: String| ModelError::Manifest {
            path: path.display().to_string(),
            message,
        };
        let mut tokenizer =
            Tokenizer::from_file(&path).map_err(|e| bad(format!("cannot load tokenizer: {e}")))?;
        // Chunks are cut here rather than by the tokenizer's own truncation: with a template
        // post-processor, `tokenizers` 0.23.2 dropped tokens from the overflowing parts.
        tokenizer
            .with_truncation(None)
            .map_err(|e| bad(format!("cannot disable truncation: {e}")))?;
        tokenizer.with_padding(None);
        let added = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        let window = settings.max_length.saturating_sub(added);
        if window <= settings.overlap {
            return Err(bad(format!(
                "text.max_length {} leaves {window} tokens after {added} special tokens, \
                 not more than text.overlap {}",
                settings.max_length, settings.overlap
            )));
        }
        // Text such as "[CLS]" typed by a user is read as words, never as control tokens.
        tokenizer.set_encode_special_tokens(true);
        Ok(TextTokenizer {
            tokenizer,
            window,
            overlap: settings.overlap,
            type_ids: manifest.inputs.iter().any(|i| i.name == TEXT_INPUTS[2]),
            pad_id: settings.pad_id,
        })
    }

    /// The chunks of one span, in text order.
    pub fn chunks(&self, span: &str) -> Result<Vec<TokenChunk>, InputError> {
        let failed = |e| InputError::new("text_tokenize_failed", format!("cannot tokenize: {e}"));
        let mut first = self.tokenizer.encode(span, false).map_err(failed)?;
        first.truncate(self.window, self.overlap, TruncationDirection::Right);
        let rest = first.take_overflowing();
        std::iter::once(first)
            .chain(rest)
            .map(|part| {
                let full = self
                    .tokenizer
                    .post_process(part, None, true)
                    .map_err(failed)?;
                Ok(self.chunk(&full))
            })
            .collect()
    }

    fn chunk(&self, e: &Encoding) -> TokenChunk {
        let mut ids: Vec<i64> = e.get_ids().iter().map(|&i| i64::from(i)).collect();
        let mut type_ids: Vec<i64> = e.get_type_ids().iter().map(|&i| i64::from(i)).collect();
        if ids.is_empty() {
            // A tokenizer without special tokens may drop everything (e.g. only control
            // characters); one pad token keeps the tensor well-formed and reads as no evidence.
            ids.push(self.pad_id);
            type_ids.push(0);
        }
        TokenChunk {
            ids,
            type_ids: self.type_ids.then_some(type_ids),
        }
    }
}
