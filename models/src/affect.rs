//! From class scores to a reading every modality shares: per-label probabilities, the top label,
//! and valence/arousal as the probability-weighted mean of the labels' circumplex coordinates
//! (from the model's manifest), so that face, voice and text can be fused on one scale.

use crate::manifest::{Activation, Manifest};
use serde::Serialize;
use std::collections::BTreeMap;

/// Probabilities over a model's labels and where they put the reading on the circumplex.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reading {
    /// Label -> probability (sums to 1).
    pub emotions: BTreeMap<String, f64>,
    /// The most probable label.
    pub top: String,
    /// Expected valence, -1 (unpleasant) .. 1 (pleasant).
    pub valence: f64,
    /// Expected arousal, -1 (calm) .. 1 (excited).
    pub arousal: f64,
}

/// Rounds to 4 decimals: more precision than any of these models has, and readable JSON.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Softmax, numerically stable.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Turns one item's raw classifier output into a [`Reading`] using the manifest's labels,
/// activation and affect table.
pub fn read_scores(manifest: &Manifest, raw: &[f32]) -> Reading {
    reading(manifest, &probabilities(manifest, raw))
}

/// One item's raw classifier output as probabilities (softmax applied when the manifest says so),
/// for callers that merge several outputs before reading them (text chunks and spans).
pub fn probabilities(manifest: &Manifest, raw: &[f32]) -> Vec<f64> {
    let probs = match manifest.classifier().activation {
        Activation::Softmax => softmax(raw),
        Activation::None => raw.to_vec(),
    };
    probs.into_iter().map(f64::from).collect()
}

/// A [`Reading`] from probabilities over the manifest's labels, in label order.
pub fn reading(manifest: &Manifest, probs: &[f64]) -> Reading {
    let mut emotions = BTreeMap::new();
    let (mut valence, mut arousal) = (0.0f64, 0.0f64);
    let mut top = (f64::NEG_INFINITY, "");
    for (label, &p) in manifest.classifier().labels.iter().zip(probs) {
        let [v, a] = manifest.affect_of(label).unwrap_or([0.0, 0.0]);
        valence += p * f64::from(v);
        arousal += p * f64::from(a);
        emotions.insert(label.clone(), round4(p));
        if p > top.0 {
            top = (p, label.as_str());
        }
    }
    Reading {
        emotions,
        top: top.1.to_owned(),
        valence: round4(valence),
        arousal: round4(arousal),
    }
}

/// The mean of several readings of the same model, each weighed by its weight (the seconds of
/// signal a voice segment read: a short, zero-padded last window counts for what it holds): mean
/// probabilities, their top label, mean valence and arousal. `None` for no readings or no
/// weight.
pub fn weighted_reading<'a>(
    readings: impl IntoIterator<Item = (&'a Reading, f64)>,
) -> Option<Reading> {
    let mut emotions: BTreeMap<String, f64> = BTreeMap::new();
    let (mut valence, mut arousal, mut total) = (0.0f64, 0.0f64, 0.0f64);
    for (r, weight) in readings {
        let weight = weight.max(0.0);
        for (label, p) in &r.emotions {
            *emotions.entry(label.clone()).or_default() += p * weight;
        }
        valence += r.valence * weight;
        arousal += r.arousal * weight;
        total += weight;
    }
    if total <= 0.0 {
        return None;
    }
    let mut top = (f64::NEG_INFINITY, String::new());
    for (label, p) in emotions.iter_mut() {
        *p = round4(*p / total);
        if *p > top.0 {
            top = (*p, label.clone());
        }
    }
    Some(Reading {
        emotions,
        top: top.1,
        valence: round4(valence / total),
        arousal: round4(arousal / total),
    })
}

/// Weighted mean of equally long vectors (probabilities of chunks or spans); weights need not sum
/// to 1. Empty input or zero total weight gives an empty vector.
pub fn weighted_mean(parts: &[(&[f64], f64)]) -> Vec<f64> {
    let total: f64 = parts.iter().map(|(_, w)| w).sum();
    let Some(((first, _), _)) = parts.split_first() else {
        return Vec::new();
    };
    if total <= 0.0 {
        return Vec::new();
    }
    let mut mean = vec![0.0; first.len()];
    for (values, w) in parts {
        for (m, v) in mean.iter_mut().zip(values.iter()) {
            *m += v * w / total;
        }
    }
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, -2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }

    #[test]
    fn weighted_reading_weighs_and_picks_the_new_top() {
        let reading = |a: f64, b: f64, v: f64| Reading {
            emotions: [("a".to_owned(), a), ("b".to_owned(), b)].into(),
            top: String::new(),
            valence: v,
            arousal: 0.0,
        };
        let (one, two) = (reading(0.9, 0.1, 1.0), reading(0.2, 0.8, 0.0));
        let even = weighted_reading([(&one, 1.0), (&two, 1.0), (&two, 1.0)]).expect("three");
        assert_eq!(even.top, "b");
        assert!((even.emotions["a"] - 0.4333).abs() < 1e-4 && (even.valence - 0.3333).abs() < 1e-4);
        // A reading of a quarter of the signal moves the mean a quarter of the way.
        let tail = weighted_reading([(&one, 2.5), (&two, 0.625)]).expect("two");
        assert_eq!(tail.top, "a");
        assert!(
            (tail.emotions["a"] - 0.76).abs() < 1e-4,
            "{:?}",
            tail.emotions
        );
        assert!(weighted_reading([]).is_none());
        assert!(weighted_reading([(&one, 0.0)]).is_none());
    }

    #[test]
    fn weighted_mean_weighs_by_weight() {
        let m = weighted_mean(&[(&[1.0, 0.0], 3.0), (&[0.0, 1.0], 1.0)]);
        assert_eq!(m, [0.75, 0.25]);
    }

    #[test]
    fn softmax_survives_huge_logits() {
        let p = softmax(&[1000.0, 1000.0]);
        assert!((p[0] - 0.5).abs() < 1e-6);
    }
}
