//! Shared setup of the voice tests: the pipeline on a model repository, the committed fixtures in
//! `models/testdata/voice/`, and WAV encoding of synthetic signals.
#![allow(dead_code)]

use soyl_models::runtime::RuntimeOptions;
use soyl_models::voice::{AudioLimits, BatchOverrides, VoiceAnalysis, VoiceParams, VoicePipeline};
use soyl_models::{CancelToken, DeviceChoice, ModelError, Repository, Runtime};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// ONNX Runtime on the CPU, one per test process (ONNX Runtime allows one environment at a time,
/// and the tests of a file run in parallel).
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::init(RuntimeOptions {
                device: DeviceChoice::Cpu,
                intra_threads: 0,
                spinning: false,
                preprocess_threads: 0,
                replicas: 0,
                cuda_graph: true,
            })
            .expect("ONNX Runtime (run scripts/setup-ort.sh)")
        })
        .clone()
}

/// The voice pipeline on the repository at `repo` (relative to the workspace root).
pub fn pipeline_from(repo: &str, overrides: BatchOverrides) -> VoicePipeline {
    let repo = Repository::load(&root().join(repo)).expect("model repository");
    VoicePipeline::start(&runtime(), &repo, overrides, AudioLimits::default())
        .expect("voice lane")
        .expect("a voice model in the repository")
}

/// The voice pipeline on the reference model.
pub fn pipeline() -> VoicePipeline {
    pipeline_from("models/repository", BatchOverrides::default())
}

/// A committed fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("models/testdata/voice").join(name)).expect("voice fixture")
}

/// Analyses with default parameters.
pub async fn analyze(voice: &VoicePipeline, bytes: Vec<u8>) -> Result<VoiceAnalysis, ModelError> {
    voice
        .analyze(bytes, VoiceParams::default(), true, &CancelToken::new())
        .await
}

/// 16-bit PCM mono WAV of `samples` (-1..1) at `rate`.
pub fn wav16(samples: &[f32], rate: u32) -> Vec<u8> {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|&s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// Mono samples of a 16-bit PCM WAV with any channel count (the first `data` chunk, downmixed),
/// and its rate: an independent reader for checks against the pipeline's own decoding.
pub fn read_wav16(bytes: &[u8]) -> (Vec<f32>, u32) {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (mut at, mut channels, mut rate) = (12, 1usize, 0u32);
    loop {
        let size = u32_at(at + 4) as usize;
        match &bytes[at..at + 4] {
            b"fmt " => {
                assert_eq!(u16_at(at + 22), 16, "16-bit PCM only");
                channels = usize::from(u16_at(at + 10));
                rate = u32_at(at + 12);
            }
            b"data" => {
                let data = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
                let samples = data
                    .chunks_exact(2 * channels)
                    .map(|frame| {
                        frame
                            .chunks_exact(2)
                            .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                            .sum::<f32>()
                            / channels as f32
                    })
                    .collect();
                return (samples, rate);
            }
            _ => {}
        }
        at += 8 + size + (size & 1);
    }
}

/// A sine of `hz` at `amplitude`, `seconds` long.
pub fn tone(rate: u32, hz: f32, amplitude: f32, seconds: f32) -> Vec<f32> {
    (0..(rate as f32 * seconds) as usize)
        .map(|i| amplitude * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
        .collect()
}

/// Uniform white noise at `amplitude` from a fixed-seed generator (xorshift), `seconds` long.
pub fn white_noise(rate: u32, amplitude: f32, seconds: f32) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..(rate as f32 * seconds) as usize)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            amplitude * ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
        })
        .collect()
}
