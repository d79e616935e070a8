//! The bulk-listing benchmark: a [`Synthetic`] source of N keys enqueued into the embedded
//! backend under a data directory, then the same batch again, reporting the enqueue rate and the
//! process's peak resident memory. It shows that listing and enqueueing are streamed: memory
//! stays flat whatever N is. Run by `examples/bulk_listing.rs` and by `tests/tests/bulk_listing.rs`.

use super::{enqueue_batch, BatchSpec, Counters, Filters, Synthetic};
use crate::backend::open_embedded;
use anyhow::Context;
use serde::Serialize;
use soyl_jobs::embedded::QueueConfig;
use soyl_jobs::Tenant;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What one benchmark run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ListingBench {
    /// Keys listed.
    pub keys: u64,
    /// New jobs of the first pass.
    pub enqueued: u64,
    /// Seconds of the first pass.
    pub seconds: f64,
    /// Jobs enqueued per second in the first pass.
    pub per_s: f64,
    /// New jobs of the second pass over the same batch (0 when idempotent).
    pub rerun_enqueued: u64,
    /// Jobs the second pass sent again (0 when the first pass left its checkpoint).
    pub rerun_resent: u64,
    /// Seconds of the second pass.
    pub rerun_seconds: f64,
    /// Peak resident memory of this process (`VmHWM`), in bytes, where the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// Lists and enqueues `keys` synthetic keys twice into the embedded backend under `data_dir`.
pub async fn run(data_dir: &Path, keys: u64) -> anyhow::Result<ListingBench> {
    let ports = open_embedded(data_dir, QueueConfig::default()).await?;
    let intake = ports.intake();
    let source = Arc::new(Synthetic { keys });
    let spec = BatchSpec {
        tenant: Tenant::parse("bench")?,
        batch_id: "bulk-listing".to_owned(),
        filters: Filters::default(),
        modalities: None,
        fuse: true,
        model_versions: Default::default(),
        skip_done_from: None,
    };
    let pass = || async {
        let counters = Counters::default();
        let started = Instant::now();
        enqueue_batch(&intake, source.clone(), &spec, &counters)
            .await
            .context("enqueueing the synthetic batch")?;
        anyhow::Ok((counters, started.elapsed().as_secs_f64()))
    };
    let (first, seconds) = pass().await?;
    let (second, rerun_seconds) = pass().await?;
    let enqueued = Counters::get(&first.enqueued);
    Ok(ListingBench {
        keys,
        enqueued,
        seconds,
        per_s: enqueued as f64 / seconds.max(1e-9),
        rerun_enqueued: Counters::get(&second.enqueued),
        rerun_resent: Counters::get(&second.resent),
        rerun_seconds,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// `VmHWM` of `/proc/self/status` (Linux), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
