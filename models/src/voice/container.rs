//! Where an audio file's container starts. symphonia's probe scans the stream for any known marker
//! (`fLaC`, `RIFF`, `ftyp`, ...) wherever it is, so a container buried after other bytes would be
//! opened past the checks [`super::decode`] makes on the start of the file (found by the
//! `audio_decode` fuzz target: a FLAC behind 36 bytes of junk, fuzz/seeds/audio_decode/buried_flac).
//! soyl accepts audio that begins with its container, after an optional ID3v2 tag.

use crate::InputError;

/// The bytes from the start of the container: after an ID3v2 tag if there is one, else all of
/// them; `media_unrecognized` when no accepted container starts there.
pub fn start(bytes: &[u8]) -> Result<&[u8], InputError> {
    let body = bytes.get(id3_len(bytes)..).unwrap_or_default();
    let at = |offset: usize, magic: &[u8]| body.get(offset..offset + magic.len()) == Some(magic);
    let known = (at(0, b"RIFF") && at(8, b"WAVE"))
        || at(0, b"fLaC")
        || at(0, b"OggS")
        || at(4, b"ftyp")
        || (body.len() > 1 && body[0] == 0xFF && body[1] & 0xE0 == 0xE0);
    if known {
        Ok(body)
    } else {
        Err(InputError::new(
            "media_unrecognized",
            "not a recognised audio format (accepted: WAV, FLAC, MP3, Ogg Vorbis, AAC in MP4/M4A)",
        ))
    }
}

/// Length of a leading ID3v2 tag (header, syncsafe size, optional footer), or 0.
fn id3_len(bytes: &[u8]) -> usize {
    match bytes.get(0..10) {
        Some(h) if &h[0..3] == b"ID3" => {
            let size = h[6..10]
                .iter()
                .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7F));
            let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
            10 + size + footer
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_must_start_the_file_or_follow_an_id3_tag() {
        assert!(start(b"fLaC\0\0\0\x22").is_ok());
        assert!(start(b"ID3\x04\0\0\0\0\0\x02\0\0fLaC").is_ok());
        assert!(start(b"\0\0\0\x18ftypM4A ").is_ok());
        assert_eq!(start(b"junk fLaC").unwrap_err().code, "media_unrecognized");
    }
}
