//! Bad audio is refused with its own stable code, and the pipeline keeps serving afterwards.

mod voice_support;

use soyl_models::ModelError;
use voice_support::{analyze, fixture, pipeline, tone, wav16};

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_file_fails_with_its_code() {
    let voice = pipeline();
    for (name, code) in [
        ("empty.wav", "input_empty"),
        ("random.bin", "media_unrecognized"),
        ("truncated.mp3", "audio_truncated"),
        ("ten-hours.wav", "audio_too_long"),
        ("ninety-six-channels.wav", "audio_too_many_channels"),
        ("alac.m4a", "audio_unsupported_codec"),
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
async fn crafted_wavs_fail_with_their_codes() {
    let voice = pipeline();
    let low_rate = wav16(&tone(4_000, 220.0, 0.5, 0.5), 4_000);
    // A `fmt ` chunk of 10 bytes: too short for any WAV format.
    let mut malformed = wav16(&tone(16_000, 220.0, 0.5, 0.5), 16_000);
    malformed[16..20].copy_from_slice(&10u32.to_le_bytes());
    for (name, bytes, code) in [
        ("4 kHz", low_rate, "audio_sample_rate_unsupported"),
        ("malformed fmt", malformed, "audio_corrupt"),
    ] {
        match analyze(&voice, bytes).await {
            Err(ModelError::Input(e)) => assert_eq!(e.code, code, "{name}: {e}"),
            other => panic!("{name}: expected {code}, got {other:?}"),
        }
    }
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

#[tokio::test(flavor = "multi_thread")]
async fn damaged_copies_of_every_format_end_in_a_result_or_a_known_code() {
    let voice = pipeline();
    let known = [
        "input_empty",
        "media_unrecognized",
        "audio_corrupt",
        "audio_truncated",
        "audio_no_track",
        "audio_unsupported_codec",
        "audio_sample_rate_unsupported",
        "audio_too_many_channels",
        "audio_too_long",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "speech-pcm16.wav",
        "speech.flac",
        "speech.mp3",
        "speech.ogg",
        "speech.m4a",
    ] {
        let original = fixture(name);
        for round in 0..12 {
            let mut bytes = original.clone();
            if round % 2 == 0 {
                bytes.truncate(next() as usize % bytes.len());
            } else {
                for _ in 0..16 {
                    let at = next() as usize % bytes.len();
                    bytes[at] ^= (next() & 0xff) as u8 | 1;
                }
            }
            match analyze(&voice, bytes).await {
                Ok(_) => {}
                Err(ModelError::Input(e)) => {
                    assert!(known.contains(&e.code), "{name} round {round}: {e}")
                }
                Err(other) => panic!("{name} round {round}: {other}"),
            }
        }
    }
}
