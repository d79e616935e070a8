//! Fusion: several readings (from face, voice, text models, or from a caller's own modules) become
//! one point on the valence/arousal circumplex. Used by the worker for `options.fuse` and by
//! `POST /getEmotionState`, so both give the same answer for the same inputs.
//!
//! The rules, documented in the README:
//! - Each source's weight is `modality weight x confidence` (modality weights configurable;
//!   unknown sources weigh 1). A source with confidence 0 contributes nothing.
//! - Fused valence is the weighted mean of the sources' valence; fused arousal the weighted mean
//!   over the sources that measure arousal (`None` if none does).
//! - Agreement is `1 - weighted mean distance` of the sources from the fused point in the
//!   valence/arousal plane (arousal counted where both have it), clamped to 0..1.
//! - Confidence is the modality-weighted mean confidence, scaled by `0.5 + 0.5 x agreement`:
//!   sources that disagree lower it.
//! - The label is the circumplex octant of the fused point, or `neutral` within 0.15 of the centre.

use crate::affect::round4;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reading to fuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Where it comes from: `face`, `voice`, `text`, or any caller-chosen name.
    pub source: String,
    /// Valence, -1..1.
    pub valence: f64,
    /// Arousal, -1..1, when the source measures it.
    pub arousal: Option<f64>,
    /// The source's confidence, 0..1.
    pub confidence: f64,
}

/// A source as it entered the fused point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightedSource {
    /// The source name.
    pub modality: String,
    /// Its share of the fused point (weights sum to 1 over the sources).
    pub weight: f64,
    /// Its valence.
    pub valence: f64,
    /// Its arousal, if measured.
    pub arousal: Option<f64>,
    /// Its confidence.
    pub confidence: f64,
}

/// The fused state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fused {
    /// Fused valence, -1..1 (None when no source carries weight).
    pub valence: Option<f64>,
    /// Fused arousal, -1..1 (None when no weighted source measures arousal).
    pub arousal: Option<f64>,
    /// 0..1.
    pub confidence: f64,
    /// 0..1: 1 when every source sits on the fused point.
    pub agreement: f64,
    /// Circumplex label of the fused point (`unknown` without weighted sources).
    pub label: String,
    /// The sources and their weights.
    pub sources: Vec<WeightedSource>,
}

/// Per-modality weights (defaults: face 1.0, voice 0.8, text 0.6; anything else 1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Weights(pub BTreeMap<String, f64>);

impl Default for Weights {
    fn default() -> Self {
        Weights(
            [("face", 1.0), ("voice", 0.8), ("text", 0.6)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }
}

impl Weights {
    /// The weight of a source name.
    pub fn of(&self, source: &str) -> f64 {
        self.0.get(source).copied().unwrap_or(1.0)
    }
}

/// Fuses `sources` under `weights`.
pub fn fuse(sources: &[Source], weights: &Weights) -> Fused {
    let raw: Vec<f64> = sources
        .iter()
        .map(|s| weights.of(&s.source).max(0.0) * s.confidence.clamp(0.0, 1.0))
        .collect();
    let total: f64 = raw.iter().sum();
    let share = |i: usize| if total > 0.0 { raw[i] / total } else { 0.0 };
    let valence = (total > 0.0).then(|| {
        (0..sources.len())
            .map(|i| share(i) * sources[i].valence)
            .sum::<f64>()
    });
    let arousal_total: f64 = (0..sources.len())
        .filter(|&i| sources[i].arousal.is_some())
        .map(|i| raw[i])
        .sum();
    let arousal = (arousal_total > 0.0).then(|| {
        (0..sources.len())
            .filter_map(|i| sources[i].arousal.map(|a| raw[i] / arousal_total * a))
            .sum::<f64>()
    });
    let agreement = match valence {
        Some(v) => {
            let spread: f64 = (0..sources.len())
                .map(|i| {
                    let dv = sources[i].valence - v;
                    let da = match (sources[i].arousal, arousal) {
                        (Some(a), Some(fa)) => a - fa,
                        _ => 0.0,
                    };
                    share(i) * (dv * dv + da * da).sqrt()
                })
                .sum();
            (1.0 - spread).clamp(0.0, 1.0)
        }
        None => 0.0,
    };
    let modality_total: f64 = sources.iter().map(|s| weights.of(&s.source).max(0.0)).sum();
    let mean_confidence = if modality_total > 0.0 {
        sources
            .iter()
            .map(|s| weights.of(&s.source).max(0.0) * s.confidence.clamp(0.0, 1.0))
            .sum::<f64>()
            / modality_total
    } else {
        0.0
    };
    Fused {
        valence: valence.map(round4),
        arousal: arousal.map(round4),
        confidence: round4(mean_confidence * (0.5 + 0.5 * agreement)),
        agreement: round4(agreement),
        label: valence.map_or_else(
            || "unknown".to_owned(),
            |v| label(v, arousal.unwrap_or(0.0)).to_owned(),
        ),
        sources: sources
            .iter()
            .enumerate()
            .map(|(i, s)| WeightedSource {
                modality: s.source.clone(),
                weight: round4(share(i)),
                valence: s.valence,
                arousal: s.arousal,
                confidence: s.confidence,
            })
            .collect(),
    }
}

/// The circumplex octant of a point (Russell 1980): `neutral` near the centre.
pub fn label(valence: f64, arousal: f64) -> &'static str {
    if valence.hypot(arousal) < 0.15 {
        return "neutral";
    }
    const OCTANTS: [&str; 8] = [
        "pleased", "excited", "alert", "tense", "upset", "sad", "tired", "calm",
    ];
    let degrees = arousal.atan2(valence).to_degrees(); // -180..180, 0 = pleasant
    let index = ((degrees + 22.5).rem_euclid(360.0) / 45.0) as usize % 8;
    OCTANTS[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(source: &str, valence: f64, arousal: Option<f64>, confidence: f64) -> Source {
        Source {
            source: source.into(),
            valence,
            arousal,
            confidence,
        }
    }

    #[test]
    fn one_source_is_returned_as_is_with_full_agreement() {
        let f = fuse(&[src("face", 0.6, Some(0.4), 0.9)], &Weights::default());
        assert_eq!(
            (f.valence, f.arousal, f.agreement),
            (Some(0.6), Some(0.4), 1.0)
        );
        assert_eq!(f.confidence, 0.9);
        assert_eq!(f.label, "excited");
        assert_eq!(f.sources[0].weight, 1.0);
    }

    #[test]
    fn a_zero_confidence_source_contributes_nothing_but_lowers_confidence() {
        let f = fuse(
            &[
                src("face", 0.8, Some(0.2), 1.0),
                src("voice", -0.9, Some(0.9), 0.0),
            ],
            &Weights::default(),
        );
        assert_eq!(f.valence, Some(0.8));
        assert_eq!(f.sources[1].weight, 0.0);
        assert!(f.confidence < 1.0 && f.confidence > 0.5, "{f:?}");
    }

    #[test]
    fn disagreeing_sources_meet_in_the_middle_with_low_agreement() {
        let f = fuse(
            &[
                src("a", 0.8, Some(0.0), 1.0),
                src("b", -0.8, Some(0.0), 1.0),
            ],
            &Weights::default(),
        );
        assert_eq!(f.valence, Some(0.0));
        assert!(f.agreement < 0.3, "{f:?}");
        assert_eq!(f.label, "neutral");
        let agree = fuse(
            &[src("a", 0.8, Some(0.0), 1.0), src("b", 0.7, Some(0.0), 1.0)],
            &Weights::default(),
        );
        assert!(agree.agreement > 0.9 && agree.confidence > f.confidence);
    }

    #[test]
    fn modality_weights_tilt_the_fused_point() {
        let f = fuse(
            &[src("face", 1.0, None, 1.0), src("text", -1.0, None, 1.0)],
            &Weights::default(),
        );
        // face 1.0 vs text 0.6: (1.0 - 0.6) / 1.6 = 0.25
        assert_eq!(f.valence, Some(0.25));
        assert_eq!(f.arousal, None);
    }

    #[test]
    fn arousal_comes_only_from_sources_that_measure_it() {
        let f = fuse(
            &[
                src("face", 0.5, Some(0.8), 1.0),
                src("text", 0.5, None, 1.0),
            ],
            &Weights::default(),
        );
        assert_eq!(f.arousal, Some(0.8));
    }

    #[test]
    fn no_weighted_source_gives_an_unknown_state() {
        let f = fuse(&[src("face", 0.5, Some(0.5), 0.0)], &Weights::default());
        assert_eq!(
            (f.valence, f.label.as_str(), f.confidence),
            (None, "unknown", 0.0)
        );
        assert_eq!(fuse(&[], &Weights::default()).label, "unknown");
    }

    #[test]
    fn octant_labels_follow_the_circumplex() {
        assert_eq!(label(0.9, 0.0), "pleased");
        assert_eq!(label(0.0, 0.9), "alert");
        assert_eq!(label(-0.6, 0.6), "tense");
        assert_eq!(label(-0.9, 0.0), "upset");
        assert_eq!(label(-0.6, -0.6), "sad");
        assert_eq!(label(0.0, -0.9), "tired");
        assert_eq!(label(0.6, -0.6), "calm");
        assert_eq!(label(0.05, 0.05), "neutral");
    }
}
