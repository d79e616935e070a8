//! Bad audio is refused with its own stable code, and the pipeline keeps serving afterwards.

mod voice_support;

use soyl_models::ModelError;
use voice_support::{analyze, fixture, pipeline};

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_file_fails_with_its_code() {
    let voice = pipeline();
    for (name, code) in [
        ("empty.wav", "input_empty"),
        ("random.bin", "media_unrecognized"),
        ("truncated.mp3", "audio_truncated"),
        ("ten-hours.wav", "audio_too_long"),
        ("ninety-six-channels.wav", "audio_too_many_channels"),
    ] {
        match analyze(&voice, fixture(name)).await {
            Err(ModelError::Input(e)) => assert_eq!(e.code, code, "{name}: {e}"),
            other => panic!("{name}: expected {code}, got {other:?}"),
        }
    }
    let good = analyze(&voice, fixture("speech.ogg"))
        .await
        .expect("still serving");
    assert!(!good.segments.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_range_hop_is_refused() {
    let voice = pipeline();
    let params = soyl_models::voice::VoiceParams { hop_s: Some(0.01) };
    let got = voice
        .analyze(
            fixture("speech.ogg"),
            params,
            true,
            &soyl_models::CancelToken::new(),
        )
        .await;
    assert!(
        matches!(&got, Err(ModelError::Input(e)) if e.code == "voice_hop_invalid"),
        "{got:?}"
    );
}
