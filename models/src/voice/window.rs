//! The model's view of one window: its samples, padded with zeros to the model's length, scaled as
//! the manifest says (`normalize = "none" | "zscore"`), with the count of real samples for models
//! that take an attention mask. Built just before each window goes to the lane, so a long
//! recording never holds all its model inputs at once. Called by the voice pipeline.

use super::segment::Window;
use crate::manifest::{AudioPreprocess, Normalize};
use crate::tensor_lane::TensorItem;

/// One model input.
#[derive(Debug, Clone)]
pub struct ModelWindow {
    values: Vec<f32>,
    valid: usize,
}

impl TensorItem for ModelWindow {
    fn values(&self) -> &[f32] {
        &self.values
    }
    fn valid_len(&self) -> usize {
        self.valid
    }
}

/// Variance floor of z-normalisation (the Hugging Face feature extractors' 1e-7).
const ZSCORE_EPSILON: f64 = 1e-7;

/// Builds the model input for `window` of `signal` (model-rate samples).
pub fn model_window(signal: &[f32], window: Window, audio: &AudioPreprocess) -> ModelWindow {
    let len = audio.window_samples();
    let real = &signal[window.start.min(signal.len())..window.end.min(signal.len())];
    let real = &real[..real.len().min(len)];
    let mut values = Vec::with_capacity(len);
    match audio.normalize {
        Normalize::None => values.extend_from_slice(real),
        Normalize::Zscore => {
            let n = real.len().max(1) as f64;
            let mean = real.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
            let var = real
                .iter()
                .map(|&s| (f64::from(s) - mean).powi(2))
                .sum::<f64>()
                / n;
            let scale = 1.0 / (var + ZSCORE_EPSILON).sqrt();
            values.extend(real.iter().map(|&s| ((f64::from(s) - mean) * scale) as f32));
        }
    }
    let valid = values.len();
    values.resize(len, 0.0);
    ModelWindow { values, valid }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(normalize: Normalize) -> AudioPreprocess {
        AudioPreprocess {
            sample_rate: 10,
            window_s: 1.0,
            normalize,
            attention_mask: None,
        }
    }

    #[test]
    fn pads_the_last_window_and_counts_real_samples() {
        let signal = [0.5f32; 14];
        let w = model_window(
            &signal,
            Window { start: 10, end: 14 },
            &audio(Normalize::None),
        );
        assert_eq!(w.valid_len(), 4);
        assert_eq!(
            w.values(),
            &[0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn zscore_uses_real_samples_only_and_leaves_padding_at_zero() {
        let signal = [1.0f32, 3.0, 1.0, 3.0];
        let w = model_window(
            &signal,
            Window { start: 0, end: 4 },
            &audio(Normalize::Zscore),
        );
        assert!((w.values()[0] + 1.0).abs() < 1e-3 && (w.values()[1] - 1.0).abs() < 1e-3);
        assert!(w.values()[4..].iter().all(|&v| v == 0.0));
    }
}
