//! Fundamental frequency of one frame by YIN (de Cheveigné & Kawahara 2002): the cumulative mean
//! normalised difference function, an absolute threshold for the voiced/unvoiced decision, and
//! parabolic interpolation for sub-sample precision. Called per frame by [`super::prosody`].

/// Lowest F0 searched, in Hz (below the lowest adult male speaking voices).
pub const MIN_F0_HZ: f32 = 60.0;
/// Highest F0 searched, in Hz (above children's and raised voices).
pub const MAX_F0_HZ: f32 = 500.0;
/// A frame is voiced when the normalised difference dips below this. YIN's paper uses 0.1 on
/// clean speech; real recordings (breathy voices, reverberation, the coarse decimation in
/// [`super::prosody`]) need more, and white noise stays far above it (about 0.9).
const THRESHOLD: f32 = 0.3;

/// Samples a frame must have at `rate` for [`yin`]: the integration window plus the longest lag.
pub fn frame_len(rate: f32) -> usize {
    integration_len(rate) + max_lag(rate) + 1
}

fn integration_len(rate: f32) -> usize {
    (rate * 0.025).ceil() as usize
}

fn max_lag(rate: f32) -> usize {
    (rate / MIN_F0_HZ).ceil() as usize
}

/// F0 in Hz of `frame` sampled at `rate`, or `None` when it is unvoiced. `frame` must hold
/// [`frame_len`] samples; `scratch` is reused between calls.
pub fn yin(frame: &[f32], rate: f32, scratch: &mut Vec<f32>) -> Option<f32> {
    let w = integration_len(rate);
    let max_lag = max_lag(rate);
    let min_lag = (rate / MAX_F0_HZ).floor().max(2.0) as usize;
    if frame.len() < w + max_lag + 1 {
        return None;
    }
    scratch.clear();
    scratch.resize(max_lag + 2, 0.0);
    let d = scratch;
    for (tau, slot) in d.iter_mut().enumerate().take(max_lag + 2).skip(1) {
        *slot = frame[..w]
            .iter()
            .zip(&frame[tau..tau + w])
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
    }
    // Cumulative mean normalisation, in place: d'(tau) = d(tau) * tau / sum(d(1..=tau)).
    d[0] = 1.0;
    let mut running = 0.0f32;
    for (tau, value) in d.iter_mut().enumerate().skip(1) {
        running += *value;
        *value = if running > 0.0 {
            *value * tau as f32 / running
        } else {
            1.0
        };
    }
    let mut tau = (min_lag..=max_lag).find(|&t| d[t] < THRESHOLD)?;
    while tau < max_lag && d[tau + 1] < d[tau] {
        tau += 1;
    }
    let (a, b, c) = (d[tau - 1], d[tau], d[tau + 1]);
    let curvature = a - 2.0 * b + c;
    let shift = if curvature.abs() > f32::EPSILON {
        (0.5 * (a - c) / curvature).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    Some(rate / (tau as f32 + shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_period_of_a_harmonic_tone() {
        let rate = 8_000.0;
        let frame: Vec<f32> = (0..frame_len(rate))
            .map(|i| {
                let t = i as f32 / rate;
                (std::f32::consts::TAU * 150.0 * t).sin()
                    + 0.5 * (std::f32::consts::TAU * 300.0 * t).sin()
            })
            .collect();
        let f0 = yin(&frame, rate, &mut Vec::new()).expect("voiced");
        assert!((f0 - 150.0).abs() < 1.5, "{f0}");
    }
}
