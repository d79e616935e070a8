//! The reference voice-emotion model inside the pipeline gives what the raw session gives on the
//! same window, and a real recording (`../shared/media/voice/human-speech.wav`, stereo 44.1 kHz)
//! comes out with segments, prosody and emotion scores.

mod voice_support;

use soyl_models::affect::read_scores;
use soyl_models::lane::Batcher;
use soyl_models::manifest::Task;
use soyl_models::tensor_lane::TensorBatcher;
use soyl_models::Repository;
use voice_support::{analyze, pipeline, read_wav16, root, runtime};

fn human_speech() -> Vec<u8> {
    std::fs::read(root().join("../shared/media/voice/human-speech.wav")).expect("shared media")
}

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_scores_equal_the_raw_session_on_the_same_window() {
    let got = analyze(&pipeline(), human_speech())
        .await
        .expect("analysis");
    let first = got.segments.first().expect("a segment");

    let repo = Repository::load(&root().join("models/repository")).expect("repository");
    let manifest = repo.for_task(Task::VoiceEmotion).expect("voice model");
    let (mut session, _) = TensorBatcher::<Vec<f32>>::load(&runtime(), manifest).expect("session");
    // The file is already at the model's rate: the window is its samples, read independently.
    let (mono, rate) = read_wav16(&human_speech());
    assert_eq!(rate, 44_100);
    let start = (first.start * 44_100.0).round() as usize;
    let mut window = mono[start..].to_vec();
    window.resize(session.item_len(), 0.0);
    let raw = session.run(&[window]).expect("raw run");
    let expected = read_scores(manifest, &raw[0][0]);

    let reading = first.reading.as_ref().expect("emotion scores");
    eprintln!("pipeline {reading:?}\nraw      {expected:?}");
    for (label, p) in &expected.emotions {
        let diff = (reading.emotions[label] - p).abs();
        assert!(
            diff <= 0.05,
            "{label}: pipeline {} raw {p}",
            reading.emotions[label]
        );
    }
}

/// Band-limited interpolation (Hann-windowed sinc, 64 taps): a resampler independent of the
/// pipeline's, for comparisons where the rates differ.
fn sinc_resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    let ratio = f64::from(from) / f64::from(to);
    let cutoff = ratio.min(1.0).recip().min(1.0);
    let half = 32i64;
    let n_out = (input.len() as f64 / ratio).round() as usize;
    (0..n_out)
        .map(|j| {
            let t = j as f64 * ratio;
            let centre = t.floor() as i64;
            let mut acc = 0.0f64;
            for k in centre - half + 1..=centre + half {
                let Some(&x) = usize::try_from(k).ok().and_then(|k| input.get(k)) else {
                    continue;
                };
                let d = t - k as f64;
                let sinc = if d.abs() < 1e-9 {
                    1.0
                } else {
                    (std::f64::consts::PI * d * cutoff).sin() / (std::f64::consts::PI * d)
                };
                let window = 0.5 + 0.5 * (std::f64::consts::PI * d / half as f64).cos();
                acc += f64::from(x) * sinc * window;
            }
            acc as f32
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_scores_equal_the_raw_session_after_resampling() {
    let bytes = voice_support::fixture("speech-pcm16.wav");
    let got = analyze(&pipeline(), bytes.clone()).await.expect("analysis");

    let repo = Repository::load(&root().join("models/repository")).expect("repository");
    let manifest = repo.for_task(Task::VoiceEmotion).expect("voice model");
    let (mut session, _) = TensorBatcher::<Vec<f32>>::load(&runtime(), manifest).expect("session");
    let (mono, rate) = read_wav16(&bytes);
    let resampled = sinc_resample(&mono, rate, 44_100);
    assert_eq!(got.segments.len(), 2);
    for segment in &got.segments {
        let start = (segment.start * 44_100.0).round() as usize;
        let end = (start + session.item_len()).min(resampled.len());
        let mut window = resampled[start..end].to_vec();
        window.resize(session.item_len(), 0.0);
        let raw = session.run(&[window]).expect("raw run");
        let expected = read_scores(manifest, &raw[0][0]);
        let reading = segment.reading.as_ref().expect("emotion scores");
        eprintln!(
            "at {}: pipeline {:?}\n       raw      {:?}",
            segment.start, reading.emotions, expected.emotions
        );
        for (label, p) in &expected.emotions {
            let diff = (reading.emotions[label] - p).abs();
            assert!(
                diff <= 0.05,
                "{label}: pipeline {} raw {p}",
                reading.emotions[label]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_recording_has_segments_prosody_and_emotions() {
    let got = analyze(&pipeline(), human_speech())
        .await
        .expect("analysis");
    eprintln!("{}", serde_json::to_string_pretty(&got).expect("json"));
    assert_eq!((got.sample_rate_in, got.channels_in), (44_100, 2));
    assert!((got.duration_s - 3.994).abs() < 0.01, "{}", got.duration_s);
    assert!(!got.segments.is_empty());
    assert!(!got.summary.no_speech);
    for s in &got.segments {
        let reading = s.reading.as_ref().expect("emotion scores");
        let total: f64 = reading.emotions.values().sum();
        assert!((total - 1.0).abs() < 0.01, "{total}");
        assert!(s.end > s.start && s.prosody.energy_dbfs > -60.0);
    }
    // The summary weighs each voiced segment by its length: the 1.5 s tail counts for 1.5 s.
    let voiced: Vec<_> = got.segments.iter().filter(|s| s.prosody.voiced).collect();
    let seconds: f64 = voiced.iter().map(|s| s.end - s.start).sum();
    let summary = got.summary.reading.as_ref().expect("a summary reading");
    for (label, p) in &summary.emotions {
        let weighted: f64 = voiced
            .iter()
            .map(|s| s.reading.as_ref().expect("scores").emotions[label] * (s.end - s.start))
            .sum::<f64>()
            / seconds;
        assert!((p - weighted).abs() < 2e-4, "{label}: {p} vs {weighted}");
    }
    let pitch = got
        .summary
        .pitch_hz_mean
        .expect("voiced speech has a pitch");
    assert!((70.0..400.0).contains(&pitch), "{pitch}");
    let json = serde_json::to_value(&got).expect("json");
    assert!(
        json["segments"][0]["emotions"].is_object() && json["segments"][0]["prosody"].is_object()
    );
    assert_eq!(
        json["summary"]["arousal_estimate"]["method"],
        "prosody-heuristic-v1"
    );
}
