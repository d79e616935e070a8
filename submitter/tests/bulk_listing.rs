//! The bulk-listing benchmark at a reduced count: 5,000 synthetic keys listed and enqueued into
//! the embedded SQLite backend, then again. Pins the behaviour, not the speed: every key becomes
//! one job, the second pass adds and re-sends nothing, and the process stays under 200 MB
//! (the listing is streamed). The full-size run is `examples/bulk_listing.rs` (100,000 keys).

use soyl_submitter::bulk::listing_bench;

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_keys_are_enqueued_once_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = listing_bench::run(dir.path(), 5_000)
        .await
        .expect("the benchmark runs");
    println!("{}", serde_json::to_string(&report).expect("report"));
    assert_eq!(report.enqueued, 5_000);
    assert_eq!(report.rerun_enqueued, 0, "a re-run enqueues nothing");
    assert_eq!(
        report.rerun_resent, 0,
        "a complete first pass leaves nothing to re-send"
    );
    let rss = report.peak_rss_bytes.expect("VmHWM on Linux");
    assert!(rss < 200 * 1024 * 1024, "peak RSS {rss} bytes");
}
