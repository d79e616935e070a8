//! Decode + resample speed of the voice pipeline's CPU stage, as a multiple of real time on one
//! core: each committed fixture format (and the shared stereo 44.1 kHz recording) is decoded to mono
//! and resampled to the reference model's 44.1 kHz, repeatedly, on this thread only. The prosody
//! frame track, which runs in the same blocking stage, is timed separately.
//!
//! Run: `cargo run --release -p soyl-models --example audio_decode_bench [seconds per file]`

use soyl_models::voice::{decode, prosody, resample, AudioLimits};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MODEL_RATE: u32 = 44_100;

fn main() {
    let budget = Duration::from_secs_f64(
        std::env::args()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = [
        "speech-pcm16.wav",
        "speech-pcm24.wav",
        "speech-float32.wav",
        "speech.flac",
        "speech.mp3",
        "speech.ogg",
        "speech.m4a",
    ]
    .iter()
    .map(|f| root.join("testdata/voice").join(f))
    .collect();
    files.push(root.join("../../shared/media/voice/human-speech.wav"));
    let limits = AudioLimits::default();
    let (mut audio_total, mut cpu_total) = (0.0f64, 0.0f64);
    println!(
        "{:<22} {:>9} {:>16} {:>14}",
        "file", "audio s", "decode+resample", "prosody track"
    );
    for path in files.iter().filter(|p| p.is_file()) {
        let bytes = std::fs::read(path).expect("fixture readable");
        let (mut runs, mut audio_s, mut decode_cpu, mut prosody_cpu) = (0u32, 0.0, 0.0, 0.0);
        let started = Instant::now();
        while started.elapsed() < budget || runs == 0 {
            let t = Instant::now();
            let decoded = decode::decode(&bytes, &limits).expect("fixture decodes");
            let decode_time = t.elapsed();
            let rate = decoded.sample_rate;
            audio_s += decoded.samples.len() as f64 / f64::from(rate);
            let t = Instant::now();
            let frames = prosody::track(&decoded.samples, rate);
            prosody_cpu += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let out = resample::resample(decoded.samples, rate, MODEL_RATE).expect("resamples");
            decode_cpu += (decode_time + t.elapsed()).as_secs_f64();
            std::hint::black_box((out, frames));
            runs += 1;
        }
        audio_total += audio_s;
        cpu_total += decode_cpu;
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<22} {:>9.2} {:>15.0}x {:>13.0}x",
            audio_s / f64::from(runs),
            audio_s / decode_cpu,
            audio_s / prosody_cpu
        );
    }
    println!(
        "all formats: decode + resample to {MODEL_RATE} Hz at {:.0}x real time per core",
        audio_total / cpu_total
    );
}
