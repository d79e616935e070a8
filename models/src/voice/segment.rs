//! Segmentation: the model-length windows a recording is cut into, and the energy-based voice
//! activity check that drops silent ones. Windows are in samples of the model-rate signal; the
//! last one is shorter (the model input is padded later, in [`super::window`]). Called by the voice
//! pipeline on the blocking pool.

use super::prosody::{self, Frame};

/// A window of the model-rate signal: samples `start..end`, `end - start <= window length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First sample.
    pub start: usize,
    /// One past the last real sample.
    pub end: usize,
}

/// Windows of `len` samples every `hop` samples over `n` samples, until one reaches the end.
pub fn windows(n: usize, len: usize, hop: usize) -> Vec<Window> {
    let (len, hop) = (len.max(1), hop.max(1));
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + len).min(n);
        out.push(Window { start, end });
        if end == n {
            break;
        }
        start += hop;
    }
    out
}

/// Frames this much below the recording's loud frames count as background.
const RELATIVE_DB: f64 = 35.0;
/// Frames below this never count as activity (dBFS).
const ABSOLUTE_DBFS: f64 = -55.0;
/// A window is kept when at least this share of its frames is active.
const MIN_ACTIVE_FRACTION: f64 = 0.1;

/// The energy above which a frame of this recording counts as activity: relative to its loud
/// frames (the 95th percentile), so a noisy background under loud speech is not speech, and never
/// below an absolute floor, so digital silence and dither are never speech.
pub fn activity_threshold(frames: &[Frame]) -> f64 {
    let mut levels: Vec<f32> = frames.iter().map(|f| f.dbfs() as f32).collect();
    let loud = prosody::percentile(&mut levels, 0.95).unwrap_or(prosody::SILENCE_DBFS);
    (loud - RELATIVE_DB).max(ABSOLUTE_DBFS)
}

/// Whether the frames of a window hold enough activity to be analysed.
pub fn is_active(frames: &[Frame], threshold: f64) -> bool {
    let active = frames.iter().filter(|f| f.dbfs() > threshold).count();
    !frames.is_empty() && active as f64 >= MIN_ACTIVE_FRACTION * frames.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_signal_and_the_last_one_is_short() {
        let w = windows(25, 10, 10);
        assert_eq!(
            w,
            [
                Window { start: 0, end: 10 },
                Window { start: 10, end: 20 },
                Window { start: 20, end: 25 }
            ]
        );
        assert_eq!(windows(20, 10, 5).len(), 3);
        assert!(windows(0, 10, 10).is_empty());
    }
}
