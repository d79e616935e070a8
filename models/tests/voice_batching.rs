//! Many recordings at once share the voice lane: their windows run together in batches.

mod voice_support;

use soyl_models::voice::VoiceParams;
use soyl_models::CancelToken;
use std::sync::atomic::Ordering;
use voice_support::{fixture, pipeline};

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_analyses_at_once_run_in_batches() {
    let voice = pipeline();
    let cancel = CancelToken::new();
    let files = [
        "speech-pcm16.wav",
        "speech.ogg",
        "speech.mp3",
        "speech.flac",
    ];
    let results = futures::future::join_all((0..64).map(|i| {
        voice.analyze(
            fixture(files[i % files.len()]),
            VoiceParams::default(),
            false,
            &cancel,
        )
    }))
    .await;
    let mut windows = 0;
    let mut largest = 0;
    for r in results {
        let r = r.expect("analysis");
        windows += r.batch_sizes.len();
        largest = largest.max(r.batch_sizes.iter().copied().max().unwrap_or(0));
    }
    let lane = &voice.lanes()[0];
    let runs = lane.stats().runs.load(Ordering::Relaxed) as usize;
    // The manifest's cap for this device (on the CPU, `cpu_max_batch`).
    let cap = lane.config().max_batch;
    eprintln!("{windows} windows in {runs} runs, largest batch {largest}, cap {cap}");
    assert_eq!(windows, 128);
    assert!(cap > 1, "the voice lane does not batch (cap {cap})");
    assert!(largest > 1);
    assert!(largest <= cap, "a batch of {largest} over the cap of {cap}");
    // Batches at least half full on average.
    assert!(
        runs * cap <= 2 * windows,
        "{runs} runs for {windows} windows at cap {cap}"
    );
}
