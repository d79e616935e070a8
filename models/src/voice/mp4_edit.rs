//! The edit list of an MP4/M4A audio track, which symphonia 0.5 does not apply: AAC encoders put
//! priming samples (1024 or 2112) before the audio and pad the last frame, and the track's `elst`
//! box says which span is the recording. Without it an M4A decodes ~50-120 ms longer than the same
//! audio in WAV, and every timestamp is shifted. Called by [`super::decode`] for MP4 files.

use super::mp4_boxes::{be, boxes, child};

/// The span of the first audio track that is the recording, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edit {
    /// Leading seconds to drop (encoder priming).
    pub skip_s: f64,
    /// Seconds to keep after them.
    pub keep_s: f64,
}

/// Reads the first audio track's first non-empty edit; `None` when `bytes` is not an MP4 file, the
/// track has no edit list, or the boxes are malformed.
pub fn audio_edit(bytes: &[u8]) -> Option<Edit> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    let moov = child(bytes, b"moov")?;
    let movie_scale = timescale(child(moov, b"mvhd")?)?;
    boxes(moov)
        .filter(|(kind, _)| kind == b"trak")
        .find_map(|(_, trak)| {
            let mdia = child(trak, b"mdia")?;
            let hdlr = child(mdia, b"hdlr")?;
            if hdlr.get(8..12)? != b"soun" {
                return None;
            }
            let media_scale = timescale(child(mdia, b"mdhd")?)?;
            let elst = child(child(trak, b"edts")?, b"elst")?;
            first_edit(elst, movie_scale, media_scale)
        })
}

/// Timescale of an `mvhd` or `mdhd` payload (same layout up to it).
fn timescale(payload: &[u8]) -> Option<u64> {
    let at = if *payload.first()? == 1 { 20 } else { 12 };
    be(payload, at, 4).filter(|&t| t > 0)
}

fn first_edit(elst: &[u8], movie_scale: u64, media_scale: u64) -> Option<Edit> {
    let wide = *elst.first()? == 1;
    let count = be(elst, 4, 4)? as usize;
    let (field, entry) = if wide { (8, 20) } else { (4, 12) };
    (0..count.min(64)).find_map(|i| {
        let at = 8 + i * entry;
        let duration = be(elst, at, field)?;
        let media_time = be(elst, at + field, field)?;
        // An empty edit (media_time -1: all bits set) delays presentation; it holds no samples.
        let empty = if wide {
            media_time == u64::MAX
        } else {
            media_time == u64::from(u32::MAX)
        };
        (!empty).then(|| Edit {
            skip_s: media_time as f64 / media_scale as f64,
            keep_s: duration as f64 / movie_scale as f64,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_other_formats_and_garbage() {
        assert_eq!(audio_edit(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(audio_edit(b"\0\0\0\x08ftyp\xff\xff\xff\xffmoov"), None);
    }
}
