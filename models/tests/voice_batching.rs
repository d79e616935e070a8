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
    let runs = voice.lanes()[0].stats().runs.load(Ordering::Relaxed) as usize;
    eprintln!("{windows} windows in {runs} runs, largest batch {largest}");
    assert_eq!(windows, 128);
    assert!(largest > 1);
    assert!(runs * 4 <= windows, "{runs} runs for {windows} windows");
}
