//! What each model lane did during one load point, read from soyl's own `GET /metrics` before and
//! after it: items run and seconds spent inside session runs (the `soyl_lane_batch_size` and
//! `soyl_inference_seconds` histograms' sums). Their ratio, items per busy second, is the lane's
//! throughput under the real traffic of that point, batch assembly and output splitting included:
//! compared between the batched run and `--max-batch 1`, it is the batching gain of the lane
//! itself, which end-to-end jobs/s hides whenever another stage (JPEG decoding, say) is the bound.

use soyl_models::telemetry::{INFERENCE_SECONDS, LANE_BATCH_SIZE};
use std::collections::BTreeMap;

/// Items and busy seconds per lane, as cumulative totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaneTotals(BTreeMap<String, (f64, f64)>);

impl LaneTotals {
    /// Reads the totals from a soyl at `base`; `None` when its metrics cannot be read.
    pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<LaneTotals> {
        let answer = http.get(format!("{base}/metrics")).send().await.ok()?;
        let text = answer.error_for_status().ok()?.text().await.ok()?;
        Some(LaneTotals::parse(&text))
    }

    /// Reads the totals from Prometheus text.
    pub fn parse(text: &str) -> LaneTotals {
        let items = sums(text, LANE_BATCH_SIZE);
        let seconds = sums(text, INFERENCE_SECONDS);
        LaneTotals(
            items
                .into_iter()
                .filter_map(|(lane, n)| Some((lane.clone(), (n, *seconds.get(&lane)?))))
                .collect(),
        )
    }

    /// Items per busy second of each lane that ran between `self` (before) and `after`.
    pub fn rates_until(&self, after: &LaneTotals) -> BTreeMap<String, f64> {
        after
            .0
            .iter()
            .filter_map(|(lane, &(items, seconds))| {
                let (items0, seconds0) = self.0.get(lane).copied().unwrap_or_default();
                let busy = seconds - seconds0;
                (items > items0 && busy > 0.0).then(|| (lane.clone(), (items - items0) / busy))
            })
            .collect()
    }
}

/// The `<metric>_sum{lane="..."}` values of a histogram, by lane.
fn sums(text: &str, metric: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{metric}_sum{{");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (labels, value) = rest.split_once("} ")?;
            let lane = labels
                .split(',')
                .find_map(|l| l.strip_prefix("lane=\""))?
                .strip_suffix('"')?;
            Some((lane.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(items: f64, seconds: f64) -> String {
        format!(
            "# TYPE soyl_lane_batch_size histogram\n\
             soyl_lane_batch_size_bucket{{lane=\"face-emotion\",le=\"1\"}} 3\n\
             soyl_lane_batch_size_sum{{lane=\"face-emotion\"}} {items}\n\
             soyl_lane_batch_size_count{{lane=\"face-emotion\"}} 3\n\
             soyl_inference_seconds_sum{{lane=\"face-emotion\"}} {seconds}\n\
             soyl_inference_seconds_sum{{lane=\"text-sentiment\"}} 9\n\
             soyl_preprocess_seconds_sum{{modality=\"face\"}} 4\n"
        )
    }

    #[test]
    fn a_lane_rate_is_the_items_it_ran_per_second_inside_session_runs_between_two_scrapes() {
        let before = LaneTotals::parse(&exposition(100.0, 2.0));
        let after = LaneTotals::parse(&exposition(1100.0, 2.5));
        let rates = before.rates_until(&after);
        assert_eq!(rates.len(), 1, "{rates:?}");
        assert!((rates["face-emotion"] - 2000.0).abs() < 1e-6, "{rates:?}");
    }

    #[test]
    fn a_lane_that_ran_nothing_gives_no_rate_and_one_first_seen_after_counts_from_zero() {
        let same = LaneTotals::parse(&exposition(100.0, 2.0));
        assert!(same.rates_until(&same).is_empty());
        let fresh = LaneTotals::parse("").rates_until(&same);
        assert!((fresh["face-emotion"] - 50.0).abs() < 1e-6, "{fresh:?}");
    }
}
