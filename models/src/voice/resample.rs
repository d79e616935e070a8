//! Sample-rate conversion of mono audio to the model's rate with `rubato`'s FFT resampler
//! (band-limited, fast for the ratios of common rates). The output is aligned with the input (the
//! resampler's delay is removed) and has `len * to / from` samples, so timestamps mean the same on
//! both sides. Runs on the blocking pool; called by the voice pipeline after decoding.

use crate::InputError;
use rubato::{FftFixedIn, Resampler};

/// Input frames per resampler call.
const CHUNK: usize = 4096;

/// Resamples `samples` from `from` Hz to `to` Hz.
pub fn resample(samples: Vec<f32>, from: u32, to: u32) -> Result<Vec<f32>, InputError> {
    if from == to || samples.is_empty() {
        return Ok(samples);
    }
    let failed = |e: &dyn std::fmt::Display| {
        InputError::new(
            "audio_sample_rate_unsupported",
            format!("cannot resample {from} Hz to {to} Hz: {e}"),
        )
    };
    let mut resampler =
        FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1).map_err(|e| failed(&e))?;
    let expected = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(expected + delay + resampler.output_frames_max());
    let mut block = resampler.output_buffer_allocate(true);
    let mut input = samples.as_slice();
    while input.len() >= resampler.input_frames_next() {
        let (used, produced) = resampler
            .process_into_buffer(&[input], &mut block, None)
            .map_err(|e| failed(&e))?;
        out.extend_from_slice(&block[0][..produced]);
        input = &input[used..];
    }
    if !input.is_empty() {
        let (_, produced) = resampler
            .process_partial_into_buffer(Some(&[input]), &mut block, None)
            .map_err(|e| failed(&e))?;
        out.extend_from_slice(&block[0][..produced]);
    }
    // Flush the resampler's delay line with silence until the aligned output is complete.
    while out.len() < expected + delay {
        let (_, produced) = resampler
            .process_partial_into_buffer(None::<&[&[f32]]>, &mut block, None)
            .map_err(|e| failed(&e))?;
        if produced == 0 {
            break;
        }
        out.extend_from_slice(&block[0][..produced]);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn keeps_length_and_alignment_of_a_tone() {
        let out = resample(tone(16_000, 440.0, 1.0), 16_000, 44_100).expect("resample");
        assert_eq!(out.len(), 44_100);
        let reference = tone(44_100, 440.0, 1.0);
        let worst = out[2_000..42_000]
            .iter()
            .zip(&reference[2_000..42_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // A one-sample shift of this tone would deviate by 0.031: aligned within half a sample.
        assert!(worst < 0.02, "max deviation {worst}");
    }
}
