//! Merging model outputs into readings: the chunks of a split span are averaged weighted by their
//! token counts (overlapping tokens count in both chunks), and the spans of a document are
//! averaged weighted by their character lengths for the summary. Probabilities are merged before
//! rounding; a model's own valence output, when present, is merged the same way and replaces the
//! label-weighted valence. Used by [`super::TextPipeline::analyze`].

use super::batcher::ChunkOutput;
use crate::affect::{probabilities, reading, round4, weighted_mean, Reading};
use crate::manifest::Manifest;

/// Probabilities over the labels, and the model's valence if it gives one; not yet rounded.
#[derive(Debug, Clone)]
pub struct Scores {
    probs: Vec<f64>,
    valence: Option<f64>,
}

impl Scores {
    /// One chunk's output, with the manifest's activation applied.
    pub fn of_chunk(manifest: &Manifest, out: &ChunkOutput) -> Scores {
        Scores {
            probs: probabilities(manifest, &out.scores),
            valence: out.valence.map(f64::from),
        }
    }

    /// The weighted mean of `parts`.
    pub fn merge(parts: &[(Scores, f64)]) -> Scores {
        let probs: Vec<(&[f64], f64)> = parts.iter().map(|(s, w)| (&s.probs[..], *w)).collect();
        let valences: Option<Vec<([f64; 1], f64)>> = parts
            .iter()
            .map(|(s, w)| s.valence.map(|v| ([v], *w)))
            .collect();
        let valence = valences.and_then(|v| {
            let refs: Vec<(&[f64], f64)> = v.iter().map(|(v, w)| (&v[..], *w)).collect();
            weighted_mean(&refs).first().copied()
        });
        Scores {
            probs: weighted_mean(&probs),
            valence,
        }
    }

    /// The reading these scores give under the manifest's labels and affect table.
    pub fn reading(&self, manifest: &Manifest) -> Reading {
        let mut r = reading(manifest, &self.probs);
        if let Some(v) = self.valence {
            r.valence = round4(v.clamp(-1.0, 1.0));
        }
        r
    }
}
