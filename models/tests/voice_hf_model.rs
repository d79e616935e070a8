//! The Hugging Face audio-classification shape (`input_values` z-normalised, `attention_mask`,
//! `logits`), through a repository holding the generated test model of
//! `models/tools/make_hf_audio_test_model.py`, whose output is a known function of its input.

mod voice_support;

use soyl_models::affect::softmax;
use soyl_models::voice::BatchOverrides;
use voice_support::{analyze, pipeline_from, tone, wav16};

#[tokio::test(flavor = "multi_thread")]
async fn windows_reach_the_model_normalised_and_masked() {
    let voice = pipeline_from("models/testdata", BatchOverrides::default());
    assert_eq!(voice.models(), [("hf-audio-test", "1")]);
    // 2.5 s at 16 kHz: two full 1 s windows and a half one.
    let got = analyze(&voice, wav16(&tone(16_000, 200.0, 0.05, 2.5), 16_000))
        .await
        .expect("analysis");
    assert_eq!(got.segments.len(), 3);
    for s in &got.segments {
        // Z-normalised real samples have energy 1 whatever the level; the model sees the share of
        // real samples only through the mask.
        let real = ((s.end - s.start) as f32).min(1.0);
        let expected = softmax(&[1.0, 2.0 * real, -real]);
        let reading = s.reading.as_ref().expect("scores");
        for (label, p) in ["steady", "present", "absent"].iter().zip(&expected) {
            let diff = (reading.emotions[*label] - f64::from(*p)).abs();
            assert!(
                diff < 1e-3,
                "{label} at {}: {} vs {p}",
                s.start,
                reading.emotions[*label]
            );
        }
    }
    assert!((got.segments[2].end - got.segments[2].start - 0.5).abs() < 1e-3);
}
