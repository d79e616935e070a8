//! The utterance summary: emotion readings averaged over voiced segments (each weighed by its
//! length), pitch and energy statistics over the frames of the kept segments, the prosodic
//! arousal estimate, and the `no_speech` flag (no voiced segment at all: silence, noise). Called
//! by the voice pipeline once the segments are read.

use super::arousal::{self, ArousalEstimate, Cues};
use super::prosody::{self, round1, round3, Frame, HOP_S};
use super::Segment;
use crate::affect::{weighted_reading, Reading};
use serde::Serialize;

/// Utterance-level results of one recording.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// True when no segment is voiced speech (silence, noise, music without voice...).
    pub no_speech: bool,
    /// Mean emotion reading over the voiced segments, each weighed by its seconds, when a model
    /// ran and any segment is voiced.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    /// Mean F0 of the voiced frames, Hz.
    pub pitch_hz_mean: Option<f64>,
    /// 10th percentile of F0, Hz (low end of the pitch range).
    pub pitch_hz_p10: Option<f64>,
    /// 90th percentile of F0, Hz (high end of the pitch range).
    pub pitch_hz_p90: Option<f64>,
    /// Energy of the active frames in dBFS.
    pub energy_dbfs: Option<f64>,
    /// Share of the analysed frames that are voiced, 0..1.
    pub voiced_fraction: f64,
    /// Voiced-run onsets per second of active speech, a syllable-rate proxy.
    pub voiced_onsets_per_s: Option<f64>,
    /// Arousal from prosody alone, labelled with its method; absent without speech.
    pub arousal_estimate: Option<ArousalEstimate>,
}

/// Voiced runs shorter than this many frames are not counted as onsets (octave jumps, clicks).
const MIN_VOICED_RUN: usize = 3;

/// Summarises the recording from its frame track and its kept segments (their time spans bound
/// the frames analysed; the voiced ones' readings are averaged, each weighed by its seconds).
pub fn summarize(frames: &[Frame], segments: &[Segment], threshold: f64) -> Summary {
    let spans: Vec<(f64, f64)> = segments.iter().map(|s| (s.start, s.end)).collect();
    let voiced_readings: Vec<(&Reading, f64)> = segments
        .iter()
        .filter(|s| s.prosody.voiced)
        .filter_map(|s| Some((s.reading.as_ref()?, s.end - s.start)))
        .collect();
    let any_voiced = segments.iter().any(|s| s.prosody.voiced);
    let mut in_speech = vec![false; frames.len()];
    for &(start, end) in &spans {
        for i in prosody::frame_range(frames.len(), start, end) {
            in_speech[i] = true;
        }
    }
    let analysed: Vec<&Frame> = frames
        .iter()
        .zip(&in_speech)
        .filter_map(|(f, &keep)| keep.then_some(f))
        .collect();
    let active: Vec<&Frame> = analysed
        .iter()
        .copied()
        .filter(|f| f.dbfs() > threshold)
        .collect();
    let mut f0s: Vec<f32> = analysed.iter().filter_map(|f| f.f0).collect();
    let voiced_fraction = f0s.len() as f64 / analysed.len().max(1) as f64;
    let pitch_mean = (!f0s.is_empty())
        .then(|| f0s.iter().map(|&f| f64::from(f)).sum::<f64>() / f0s.len() as f64);
    let median = prosody::percentile(&mut f0s, 0.5);
    let (p10, p90) = (
        prosody::percentile(&mut f0s, 0.1),
        prosody::percentile(&mut f0s, 0.9),
    );
    let energy =
        (!active.is_empty()).then(|| prosody::to_dbfs(prosody::mean_power(active.iter().copied())));
    let onsets = count_onsets(&analysed);
    let active_s = active.len() as f64 * HOP_S;
    let onsets_per_s = (!f0s.is_empty() && active_s > 0.0).then(|| onsets as f64 / active_s);
    let no_speech = !any_voiced;
    let arousal_estimate = match (no_speech, energy) {
        (false, Some(energy_dbfs)) => Some(arousal::estimate(Cues {
            energy_dbfs,
            pitch_hz: median,
            pitch_range_st: p10.zip(p90).map(|(lo, hi)| 12.0 * (hi / lo).log2()),
            onsets_per_s,
        })),
        _ => None,
    };
    Summary {
        no_speech,
        reading: weighted_reading(voiced_readings.iter().copied()),
        pitch_hz_mean: pitch_mean.map(round1),
        pitch_hz_p10: p10.map(round1),
        pitch_hz_p90: p90.map(round1),
        energy_dbfs: energy.map(round1),
        voiced_fraction: round3(voiced_fraction),
        voiced_onsets_per_s: onsets_per_s.map(round3),
        arousal_estimate,
    }
}

fn count_onsets(frames: &[&Frame]) -> usize {
    let mut onsets = 0;
    let mut run = 0;
    for f in frames {
        if f.f0.is_some() {
            run += 1;
            if run == MIN_VOICED_RUN {
                onsets += 1;
            }
        } else {
            run = 0;
        }
    }
    onsets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::SegmentProsody;

    fn segment(start: f64, end: f64, angry: f64, voiced: bool) -> Segment {
        Segment {
            start,
            end,
            reading: Some(Reading {
                emotions: [
                    ("angry".to_owned(), angry),
                    ("calm".to_owned(), 1.0 - angry),
                ]
                .into(),
                top: String::new(),
                valence: 0.0,
                arousal: 0.0,
            }),
            prosody: SegmentProsody {
                pitch_hz: None,
                voiced,
                voiced_fraction: if voiced { 1.0 } else { 0.0 },
                energy_dbfs: -20.0,
            },
        }
    }

    #[test]
    fn a_short_last_segment_weighs_what_it_holds_and_unvoiced_ones_nothing() {
        let segments = [
            segment(0.0, 2.5, 1.0, true),
            segment(2.5, 5.0, 0.0, false),
            segment(5.0, 5.5, 0.0, true),
        ];
        let summary = summarize(&[], &segments, -50.0);
        assert!(!summary.no_speech);
        let reading = summary.reading.expect("voiced readings");
        // (2.5 x 1.0 + 0.5 x 0.0) / 3.0 s, not the segments' plain mean of 0.5.
        assert!(
            (reading.emotions["angry"] - 0.8333).abs() < 1e-4,
            "{reading:?}"
        );
        assert_eq!(reading.top, "angry");
        let silent = summarize(&[], &segments[1..2], -50.0);
        assert!(silent.no_speech && silent.reading.is_none());
    }
}
