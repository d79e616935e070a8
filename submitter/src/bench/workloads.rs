//! The benchmark's inputs, built once in memory: single-face 500x500 JPEGs, the six-face
//! 2048x1536 photo, a video-call gallery of 30 faces (tiled from the single-face photos), 5 s
//! speech clips (cut from the shared recording, resampled to 16 kHz mono and
//! encoded as 16-bit WAV, as a phone or browser client would send), and short texts. Read by the
//! load generator ([`super::load`]) and the stage timings ([`super::stages`]).

use anyhow::Context;
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use soyl_models::voice::{decode, resample, AudioLimits};
use std::path::Path;

/// Seconds of speech per clip.
pub const CLIP_SECONDS: f64 = 5.0;
/// Sample rate of the clips as sent.
pub const CLIP_RATE: u32 = 16_000;

/// The gallery workload's grid: columns, rows, and each tile's side in pixels. 30 faces fit the
/// default `max_faces` (32); each tile's face is ~40 px wide, well inside the detector's range.
pub const GALLERY_GRID: (u32, u32, u32) = (6, 5, 128);
/// Pixels between gallery tiles and around them.
pub const GALLERY_GUTTER: u32 = 4;
/// The single-face photos, in the order the gallery cycles through them (tile `i` shows
/// `FACE_PHOTOS[i % 4]`, row by row).
pub const FACE_PHOTOS: [&str; 4] = ["happy", "sad", "angry", "surprise"];

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
    /// Short name used in tables and flags (`face1`, `face6`, `gallery`, `voice`, `text`).
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
    let faces = || {
        FACE_PHOTOS
            .iter()
            .map(|f| read(&format!("faces/{f}.jpg")))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match name {
        "face1" => Workload {
            name: "face1",
            description: "one 500x500 JPEG, one face",
            payloads: faces()?.into_iter().map(jpeg).collect(),
        },
        "face6" => Workload {
            name: "face6",
            description: "one 2048x1536 JPEG, six faces",
            payloads: vec![jpeg(read("faces/group-six-faces.jpg")?)],
        },
        "gallery" => Workload {
            name: "gallery",
            description: "one 796x664 JPEG, a video-call gallery of 30 faces",
            payloads: vec![jpeg(gallery(&faces()?)?)],
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
        other => {
            anyhow::bail!("unknown workload {other:?}: use face1, face6, gallery, voice or text")
        }
    })
}

/// A video-call gallery: [`GALLERY_GRID`] tiles of the photos `faces` (cycled row by row) on a
/// dark background, as a JPEG. Many faces per image for little decoding, so the face-emotion
/// lane gets full batches from a detector lane that runs one row per image.
pub fn gallery(faces: &[Vec<u8>]) -> anyhow::Result<Vec<u8>> {
    let (cols, rows, side) = GALLERY_GRID;
    let tiles = faces
        .iter()
        .map(|bytes| {
            let photo = image::load_from_memory(bytes).context("decoding a gallery photo")?;
            Ok(imageops::resize(
                &photo.to_rgb8(),
                side,
                side,
                FilterType::Lanczos3,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!tiles.is_empty(), "a gallery needs at least one photo");
    let step = side + GALLERY_GUTTER;
    let mut canvas = RgbImage::from_pixel(
        cols * step + GALLERY_GUTTER,
        rows * step + GALLERY_GUTTER,
        Rgb([32, 32, 32]),
    );
    for i in 0..cols * rows {
        let (x, y) = (i % cols * step, i / cols * step);
        let tile = &tiles[i as usize % tiles.len()];
        imageops::replace(
            &mut canvas,
            tile,
            i64::from(x + GALLERY_GUTTER),
            i64::from(y + GALLERY_GUTTER),
        );
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&canvas)
        .context("encoding the gallery")?;
    Ok(out)
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
    fn a_gallery_tiles_its_photos_row_by_row() {
        let solid = |v: u8| {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
                .encode_image(&RgbImage::from_pixel(40, 40, Rgb([v, v, v])))
                .expect("encodes");
            out
        };
        let jpeg = gallery(&[solid(0), solid(250)]).expect("gallery");
        let img = image::load_from_memory(&jpeg).expect("decodes").to_rgb8();
        let (cols, rows, side) = GALLERY_GRID;
        let step = side + GALLERY_GUTTER;
        assert_eq!(img.dimensions(), (cols * step + 4, rows * step + 4));
        // The centre of tile i is the photo i % 2: dark, bright, dark, ... row by row.
        for i in 0..cols * rows {
            let (x, y) = (
                i % cols * step + 4 + side / 2,
                i / cols * step + 4 + side / 2,
            );
            let luma = img.get_pixel(x, y).0[0];
            let bright = luma > 128;
            assert_eq!(bright, i % 2 == 1, "tile {i}: luma {luma}");
        }
    }

    #[test]
    fn a_wav_clip_decodes_back_to_its_length_and_rate() {
        let samples: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let wav = wav_pcm16(&samples, CLIP_RATE);
        let back = decode::decode(&wav, &AudioLimits::default()).expect("decodes");
        assert_eq!(back.sample_rate, CLIP_RATE);
        assert_eq!(back.samples.len(), 1600);
    }
}
