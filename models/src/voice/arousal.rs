//! A prosodic arousal estimate, independent of any trained model: arousal rises with loudness,
//! pitch level, pitch range and tempo (Scherer 2003; Juslin & Laukka 2003). Each cue is mapped
//! linearly onto -1..1 between anchors typical of calm and of excited adult speech, and the cues
//! present are averaged. It is a heuristic, named as such in every result by [`METHOD`], and its
//! anchors are not fitted to data. Called by the voice pipeline when it summarises an utterance.

use super::prosody::round3;
use serde::Serialize;

/// The name results carry for this estimate.
pub const METHOD: &str = "prosody-heuristic-v1";

/// Utterance-level cues the estimate reads.
#[derive(Debug, Clone, Copy)]
pub struct Cues {
    /// Energy of the active frames, dBFS.
    pub energy_dbfs: f64,
    /// Median F0 of voiced frames, Hz.
    pub pitch_hz: Option<f64>,
    /// Spread between the 10th and 90th percentile of F0, semitones.
    pub pitch_range_st: Option<f64>,
    /// Voiced-segment onsets per second of active speech (a syllable-rate proxy).
    pub onsets_per_s: Option<f64>,
}

/// The estimate and the contribution of each cue, all in -1 (calm) .. 1 (excited).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArousalEstimate {
    /// The estimate.
    pub value: f64,
    /// How it was made: [`METHOD`].
    pub method: &'static str,
    /// Loudness cue.
    pub loudness: f64,
    /// Pitch-level cue, when any frame was voiced.
    pub pitch_level: Option<f64>,
    /// Pitch-range cue, when any frame was voiced.
    pub pitch_range: Option<f64>,
    /// Tempo cue, when any frame was voiced.
    pub tempo: Option<f64>,
}

/// Maps `x` linearly so that `calm` -> -1 and `excited` -> 1, clamped.
fn scale(x: f64, calm: f64, excited: f64) -> f64 {
    (2.0 * (x - calm) / (excited - calm) - 1.0).clamp(-1.0, 1.0)
}

/// Estimates arousal from the cues.
pub fn estimate(cues: Cues) -> ArousalEstimate {
    let loudness = scale(cues.energy_dbfs, -45.0, -15.0);
    // Pitch level in semitones above 100 Hz: 100 Hz (a relaxed low voice) .. ~280 Hz (raised).
    let pitch_level = cues
        .pitch_hz
        .filter(|&hz| hz > 0.0)
        .map(|hz| scale(12.0 * (hz / 100.0).log2(), 0.0, 18.0));
    let pitch_range = cues.pitch_range_st.map(|st| scale(st, 2.0, 12.0));
    let tempo = cues.onsets_per_s.map(|r| scale(r, 2.0, 6.0));
    let present: Vec<f64> = [Some(loudness), pitch_level, pitch_range, tempo]
        .into_iter()
        .flatten()
        .collect();
    let value = present.iter().sum::<f64>() / present.len() as f64;
    ArousalEstimate {
        value: round3(value),
        method: METHOD,
        loudness: round3(loudness),
        pitch_level: pitch_level.map(round3),
        pitch_range: pitch_range.map(round3),
        tempo: tempo.map(round3),
    }
}
