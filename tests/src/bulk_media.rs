//! Generated bulk media: directories of mixed files (face photos, speech WAVs, texts), each file's
//! content different, for the bulk reprocessing tests (`bulk.rs`, `bulk_http.rs`, `bulk_aws.rs`).

use crate::{face_photo, repo_root};
use std::path::Path;

/// Writes `n` files: a third face photos with a unique tail, a third 1 s WAVs cut at different
/// offsets of the speech recording, a third short texts. Every file's content differs.
pub fn generate(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("nested/deeper")).expect("mkdir");
    let photo = face_photo("happy.jpg");
    let speech = std::fs::read(repo_root().join("../shared/media/voice/human-speech.wav"))
        .expect("speech wav");
    for i in 0..n {
        let sub = ["", "nested/", "nested/deeper/"][i % 3];
        match i % 3 {
            0 => {
                let mut bytes = photo.clone();
                bytes.extend_from_slice(format!("{i}").as_bytes());
                std::fs::write(dir.join(format!("{sub}face-{i}.jpg")), bytes)
            }
            1 => std::fs::write(dir.join(format!("{sub}voice-{i}.wav")), cut_wav(&speech, i)),
            _ => std::fs::write(
                dir.join(format!("{sub}note-{i}.txt")),
                format!("Note {i}: what a wonderful, happy day this has been."),
            ),
        }
        .expect("writing a generated file");
    }
}

/// One second of `wav` (PCM, canonical header) starting at a different offset per `i`.
fn cut_wav(wav: &[u8], i: usize) -> Vec<u8> {
    let u16_at = |o: usize| u16::from_le_bytes([wav[o], wav[o + 1]]) as usize;
    let u32_at =
        |o: usize| u32::from_le_bytes([wav[o], wav[o + 1], wav[o + 2], wav[o + 3]]) as usize;
    let (channels, rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk")
        + 8;
    let frame = channels * bits / 8;
    let frames = (wav.len() - data) / frame;
    let take = rate.min(frames);
    let start = (i * 97) % (frames - take + 1);
    let body = &wav[data + start * frame..data + (start + take) * frame];
    let mut out = wav[..data].to_vec();
    out[data - 4..data].copy_from_slice(&(body.len() as u32).to_le_bytes());
    out[4..8].copy_from_slice(&((data - 8 + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}
