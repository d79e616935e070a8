//! One espeak-ng utterance, converted by `models/tools/make_voice_fixtures.sh` into every accepted
//! format, reads alike in all of them: same duration within 50 ms, same segments.

mod voice_support;

use voice_support::{analyze, fixture, pipeline};

const FORMATS: [&str; 7] = [
    "speech-pcm16.wav",
    "speech-pcm24.wav",
    "speech-float32.wav",
    "speech.flac",
    "speech.mp3",
    "speech.ogg",
    "speech.m4a",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_same_utterance_decodes_alike_in_every_format() {
    let voice = pipeline();
    let reference = analyze(&voice, fixture(FORMATS[0])).await.expect("wav16");
    assert!(reference.duration_s > 3.0, "{}", reference.duration_s);
    assert_eq!(reference.segments.len(), 2, "{:?}", reference.segments);
    for name in FORMATS {
        let got = analyze(&voice, fixture(name)).await.expect(name);
        eprintln!(
            "{name}: {:.3} s, {} Hz, {} ch, {} segments, top {:?}",
            got.duration_s,
            got.sample_rate_in,
            got.channels_in,
            got.segments.len(),
            got.summary.reading.as_ref().map(|r| &r.top)
        );
        assert!(
            (got.duration_s - reference.duration_s).abs() <= 0.05,
            "{name}: {} s against {} s",
            got.duration_s,
            reference.duration_s
        );
        assert_eq!(got.segments.len(), reference.segments.len(), "{name}");
        assert_eq!((got.sample_rate_in, got.channels_in), (16_000, 1), "{name}");
        assert!(!got.summary.no_speech, "{name}");
    }
}
