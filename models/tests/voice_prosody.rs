//! Prosody on signals with a known answer: a 220 Hz tone, white noise, silence, and espeak-ng
//! speech delivered loud/fast/high against quiet/slow/low.

mod voice_support;

use voice_support::{analyze, fixture, pipeline, tone, wav16, white_noise};

#[tokio::test(flavor = "multi_thread")]
async fn a_220_hz_tone_measures_220_hz() {
    let got = analyze(&pipeline(), wav16(&tone(44_100, 220.0, 0.3, 3.0), 44_100))
        .await
        .expect("analysis");
    assert_eq!(got.segments.len(), 2);
    for s in &got.segments {
        let pitch = s.prosody.pitch_hz.expect("voiced");
        assert!((pitch - 220.0).abs() <= 5.0, "{pitch}");
        assert!(
            s.prosody.voiced && s.prosody.voiced_fraction > 0.9,
            "{:?}",
            s.prosody
        );
    }
    let mean = got.summary.pitch_hz_mean.expect("voiced");
    assert!((mean - 220.0).abs() <= 5.0, "{mean}");
}

#[tokio::test(flavor = "multi_thread")]
async fn white_noise_is_unvoiced() {
    let got = analyze(&pipeline(), wav16(&white_noise(16_000, 0.3, 3.0), 16_000))
        .await
        .expect("analysis");
    assert!(!got.segments.is_empty(), "noise is not silence");
    for s in &got.segments {
        assert!(!s.prosody.voiced, "{:?}", s.prosody);
        assert!(s.prosody.voiced_fraction < 0.05, "{:?}", s.prosody);
    }
    assert!(got.summary.no_speech);
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_yields_no_speech() {
    let got = analyze(&pipeline(), wav16(&vec![0.0; 16_000 * 3], 16_000))
        .await
        .expect("silence is a result, not an error");
    assert!(got.summary.no_speech);
    assert!(got.segments.is_empty());
    assert!(got.summary.arousal_estimate.is_none() && got.summary.reading.is_none());
    assert!((got.duration_s - 3.0).abs() < 1e-3);
}

#[tokio::test(flavor = "multi_thread")]
async fn loud_fast_high_speech_is_more_aroused_than_quiet_slow_low_speech() {
    let voice = pipeline();
    let aroused = analyze(&voice, fixture("aroused.flac"))
        .await
        .expect("aroused");
    let calm = analyze(&voice, fixture("calm.flac")).await.expect("calm");
    let a = aroused.summary.arousal_estimate.expect("speech");
    let c = calm.summary.arousal_estimate.expect("speech");
    eprintln!("aroused {a:?}\ncalm    {c:?}");
    assert_eq!(a.method, "prosody-heuristic-v1");
    assert!(
        a.value > c.value + 0.3,
        "aroused {} calm {}",
        a.value,
        c.value
    );
}
