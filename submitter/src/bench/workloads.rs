//! The benchmark's inputs, built once in memory: single-face 500x500 JPEGs, the six-face
//! 2048x1536 photo, 5 s speech clips (cut from the shared recording, resampled to 16 kHz mono and
//! encoded as 16-bit WAV, as a phone or browser client would send), and short texts. Read by the
//! load generator ([`super::load`]) and the stage timings ([`super::stages`]).

use anyhow::Context;
use soyl_models::voice::{decode, resample, AudioLimits};
use std::path::Path;

/// Seconds of speech per clip.
pub const CLIP_SECONDS: f64 = 5.0;
/// Sample rate of the clips as sent.
pub const CLIP_RATE: u32 = 16_000;

/// Short texts of the text workload: chat-message and review length.
const TEXTS: [&str; 6] = [
    "I love this, it is wonderful :)",
    "This is terrible and I hate it.",
    "The meeting is at 3pm.",
    "Thanks so much, the support team was really helpful today!",
    "Honestly the delivery was late again and nobody answered my emails.",
    "Not bad at all, but the battery could last longer.",
];

/// What one request carries.
#[derive(Debug, Clone)]
pub enum Payload {
    /// An uploaded file.
    File {
        /// File name sent with the part.
        name: &'static str,
        /// MIME type of the part.
        mime: &'static str,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// An inline text (JSON submission).
    Text(String),
}

/// One end-to-end workload: a name and the requests it cycles through.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name used in tables and flags (`face1`, `face6`, `voice`, `text`).
    pub name: &'static str,
    /// What one job holds, for the report.
    pub description: &'static str,
    /// Requests, sent round-robin.
    pub payloads: Vec<Payload>,
}

/// Loads the named workloads from `media` (the shared media folder).
pub fn load(names: &[String], media: &Path) -> anyhow::Result<Vec<Workload>> {
    names.iter().map(|n| load_one(n, media)).collect()
}

fn load_one(name: &str, media: &Path) -> anyhow::Result<Workload> {
    let read = |rel: &str| {
        let path = media.join(rel);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let jpeg = |bytes| Payload::File {
        name: "photo.jpg",
        mime: "image/jpeg",
        bytes,
    };
    Ok(match name {
        "face1" => Workload {
            name: "face1",
            description: "one 500x500 JPEG, one face",
            payloads: ["happy", "sad", "angry", "surprise"]
                .iter()
                .map(|f| read(&format!("faces/{f}.jpg")).map(jpeg))
                .collect::<Result<_, _>>()?,
        },
        "face6" => Workload {
            name: "face6",
            description: "one 2048x1536 JPEG, six faces",
            payloads: vec![jpeg(read("faces/group-six-faces.jpg")?)],
        },
        "voice" => Workload {
            name: "voice",
            description: "one 5 s speech clip, 16 kHz mono WAV",
            payloads: vec![Payload::File {
                name: "clip.wav",
                mime: "audio/wav",
                bytes: speech_clip(&read("voice/human-speech.wav")?)?,
            }],
        },
        "text" => Workload {
            name: "text",
            description: "one short text (JSON)",
            payloads: TEXTS
                .iter()
                .map(|t| Payload::Text((*t).to_owned()))
                .collect(),
        },
        other => anyhow::bail!("unknown workload {other:?}: use face1, face6, voice or text"),
    })
}

/// The first [`CLIP_SECONDS`] of `recording`, mono at [`CLIP_RATE`], as a 16-bit PCM WAV file.
pub fn speech_clip(recording: &[u8]) -> anyhow::Result<Vec<u8>> {
    let decoded = decode::decode(recording, &AudioLimits::default())
        .map_err(|e| anyhow::anyhow!("decoding the speech recording: {e}"))?;
    let keep = (CLIP_SECONDS * f64::from(decoded.sample_rate)) as usize;
    let mut samples = decoded.samples;
    samples.truncate(keep);
    let samples = resample::resample(samples, decoded.sample_rate, CLIP_RATE)
        .map_err(|e| anyhow::anyhow!("resampling the speech clip: {e}"))?;
    Ok(wav_pcm16(&samples, CLIP_RATE))
}

/// A mono 16-bit PCM WAV file of `samples` (clamped to -1..1).
fn wav_pcm16(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_clip_decodes_back_to_its_length_and_rate() {
        let samples: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let wav = wav_pcm16(&samples, CLIP_RATE);
        let back = decode::decode(&wav, &AudioLimits::default()).expect("decodes");
        assert_eq!(back.sample_rate, CLIP_RATE);
        assert_eq!(back.samples.len(), 1600);
    }
}
