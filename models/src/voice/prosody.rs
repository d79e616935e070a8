//! Prosody: a 10 ms frame track of energy and pitch over the whole recording, and its summaries per
//! segment and per utterance. The track is computed once on a decimated copy of the mono signal
//! (pitch needs nothing above 4 kHz, and it keeps YIN cheap); segments and the utterance summary
//! read slices of it. Runs on the blocking pool; called by the voice pipeline.

use super::pitch;
use serde::Serialize;

/// Seconds between frames.
pub const HOP_S: f64 = 0.010;
/// Floor for the energy of digital silence, in dBFS.
pub const SILENCE_DBFS: f64 = -120.0;
/// Frames quieter than this are never voiced, whatever their periodicity (dBFS).
const VOICED_MIN_DBFS: f64 = -60.0;
/// Analysis rate the signal is decimated towards (Hz).
const ANALYSIS_RATE: u32 = 8_000;

/// One 10 ms frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Mean square of the frame's samples.
    pub power: f64,
    /// F0 in Hz when voiced.
    pub f0: Option<f32>,
}

impl Frame {
    /// Energy in dBFS (0 dBFS is a full-scale square wave).
    pub fn dbfs(&self) -> f64 {
        to_dbfs(self.power)
    }
}

/// Mean square to dBFS, floored at [`SILENCE_DBFS`].
pub fn to_dbfs(power: f64) -> f64 {
    if power > 0.0 {
        (10.0 * power.log10()).max(SILENCE_DBFS)
    } else {
        SILENCE_DBFS
    }
}

/// The frame track of a whole recording: frame `i` covers `[i * HOP_S, (i + 1) * HOP_S)`.
pub fn track(samples: &[f32], rate: u32) -> Vec<Frame> {
    let factor = (rate / ANALYSIS_RATE).max(1) as usize;
    // Box-filter decimation: enough anti-aliasing for pitch, which lives far below the new Nyquist.
    let low: Vec<f32> = samples
        .chunks(factor)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    let low_rate = rate as f32 / factor as f32;
    // Frame `i` starts at the sample nearest `i * HOP_S`: at rates where 10 ms is no whole number
    // of samples (44.1 kHz decimates to 8,820 Hz: 88.2 per frame) a fixed integer step would
    // drift from the clock that segments and summaries read the track by (0.23% at 44.1 kHz,
    // 1.4 s over ten minutes).
    let per_frame = (f64::from(low_rate) * HOP_S).max(1.0);
    let start = |i: usize| ((i as f64 * per_frame).round() as usize).min(low.len());
    let frames = (low.len() as f64 / per_frame - 1e-6).ceil().max(0.0) as usize;
    let frame_len = pitch::frame_len(low_rate);
    let mut scratch = Vec::new();
    (0..frames)
        .map(|i| {
            let at = start(i);
            let block = &low[at..start(i + 1)];
            let power =
                block.iter().map(|&s| f64::from(s * s)).sum::<f64>() / block.len().max(1) as f64;
            let f0 = if to_dbfs(power) > VOICED_MIN_DBFS {
                low.get(at..at + frame_len)
                    .and_then(|frame| pitch::yin(frame, low_rate, &mut scratch))
            } else {
                None
            };
            Frame { power, f0 }
        })
        .collect()
}

/// Indices of the frames (of `n`) whose start lies in `[start_s, end_s)`.
pub fn frame_range(n: usize, start_s: f64, end_s: f64) -> std::ops::Range<usize> {
    let first = ((start_s / HOP_S - 1e-6).ceil().max(0.0) as usize).min(n);
    let last = ((end_s / HOP_S - 1e-6).ceil().max(0.0) as usize).clamp(first, n);
    first..last
}

/// Prosody of one segment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentProsody {
    /// Median F0 of the voiced frames in Hz; `None` when none is voiced.
    pub pitch_hz: Option<f64>,
    /// Whether the segment has enough voiced frames to count as voiced speech.
    pub voiced: bool,
    /// Share of the segment's frames that are voiced, 0..1.
    pub voiced_fraction: f64,
    /// RMS energy over the segment in dBFS.
    pub energy_dbfs: f64,
}

/// Share of voiced frames above which a segment counts as voiced.
const VOICED_SEGMENT_FRACTION: f64 = 0.1;

/// Summarises a segment's frames.
pub fn segment(frames: &[Frame]) -> SegmentProsody {
    let mut f0s: Vec<f32> = frames.iter().filter_map(|f| f.f0).collect();
    let voiced_fraction = f0s.len() as f64 / frames.len().max(1) as f64;
    SegmentProsody {
        pitch_hz: percentile(&mut f0s, 0.5).map(round1),
        voiced: voiced_fraction >= VOICED_SEGMENT_FRACTION,
        voiced_fraction: round3(voiced_fraction),
        energy_dbfs: round1(to_dbfs(mean_power(frames.iter()))),
    }
}

/// Mean power of some frames (0 when there are none).
pub fn mean_power<'a>(frames: impl Iterator<Item = &'a Frame>) -> f64 {
    let (sum, n) = frames.fold((0.0, 0usize), |(s, n), f| (s + f.power, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The `q` quantile (0..1) of `values`, sorting them in place.
pub fn percentile(values: &mut [f32], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    Some(f64::from(values[at]))
}

/// Rounds to 1 decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to 3 decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame `i` covers `[i * HOP_S, (i + 1) * HOP_S)` at every rate, so a burst's frames are
    /// found where the clock says, even ten minutes in at 44.1 kHz.
    #[test]
    fn frames_keep_time_at_rates_where_10_ms_is_no_whole_number_of_samples() {
        for rate in [44_100u32, 22_050, 16_000] {
            let seconds = 600.0;
            let mut samples = vec![0.0f32; (seconds * f64::from(rate)) as usize];
            let (from, to) = (598.0, 599.0);
            let burst = (from * f64::from(rate)) as usize..(to * f64::from(rate)) as usize;
            samples[burst].iter_mut().for_each(|s| *s = 0.5);
            let frames = track(&samples, rate);
            assert_eq!(
                frames.len(),
                (seconds / HOP_S).round() as usize,
                "{rate} Hz"
            );
            let loud = |i: usize| frames[i].dbfs() > -20.0;
            let inside = frame_range(frames.len(), from, to);
            assert!(
                inside.clone().all(loud),
                "{rate} Hz: every frame of the burst"
            );
            assert!(
                !loud(inside.start - 1) && !loud(inside.end),
                "{rate} Hz: and no other"
            );
        }
    }
}
