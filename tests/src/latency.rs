//! Latency samples and their percentiles, for the load test's report.

use std::time::Duration;

/// The `q`-quantile (0..=1, nearest rank) of `samples`; zero when there are none.
pub fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut ms: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut ms, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&mut ms, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&mut [], 0.5), Duration::ZERO);
    }
}
