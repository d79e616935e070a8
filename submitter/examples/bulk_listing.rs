//! The bulk-listing memory benchmark: lists and enqueues N synthetic keys (no files behind them)
//! into the embedded SQLite backend in a temporary directory, twice (the second pass must enqueue
//! nothing), and prints the enqueue rate and the peak resident memory.
//!
//! ```sh
//! cargo run --release -p soyl-submitter --example bulk_listing -- --keys 100000
//! ```

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keys = match args.as_slice() {
        [] => 100_000,
        [flag, n] if flag == "--keys" => n.parse().context("--keys takes a number")?,
        _ => anyhow::bail!("usage: bulk_listing [--keys N]"),
    };
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let report = soyl_submitter::bulk::listing_bench::run(dir.path(), keys).await?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "listed and enqueued {} keys in {:.1} s: {:.0} jobs/s; re-run: {} new, {} re-sent in {:.1} s; peak RSS {}",
        report.keys,
        report.seconds,
        report.per_s,
        report.rerun_enqueued,
        report.rerun_resent,
        report.rerun_seconds,
        report
            .peak_rss_bytes
            .map_or("unknown".to_owned(), |b| format!("{:.1} MiB", mib(b))),
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
