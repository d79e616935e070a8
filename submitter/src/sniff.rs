//! What kind of media an upload is, from its bytes (never trusting the client's content type or
//! file name). Unknown bytes are filed as images so the worker reports them precisely
//! (`media_unrecognized`, `input_empty`) on the job instead of the upload being turned away.

use soyl_jobs::InputKind;

/// The input kind the bytes look like.
pub fn kind_of(bytes: &[u8]) -> InputKind {
    if looks_like_audio(bytes) {
        InputKind::Audio
    } else {
        InputKind::Image
    }
}

fn looks_like_audio(b: &[u8]) -> bool {
    let at = |offset: usize, magic: &[u8]| b.get(offset..offset + magic.len()) == Some(magic);
    (at(0, b"RIFF") && at(8, b"WAVE"))
        || at(0, b"fLaC")
        || at(0, b"OggS")
        || at(0, b"ID3")
        || (b.len() > 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0 && !at(0, &[0xFF, 0xD8]))
        || (at(4, b"ftyp") && (at(8, b"M4A ") || at(8, b"mp42") || at(8, b"isom")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_is_an_image_and_wav_is_audio() {
        assert_eq!(kind_of(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), InputKind::Image);
        assert_eq!(kind_of(b"RIFF\0\0\0\0WAVEfmt "), InputKind::Audio);
        assert_eq!(kind_of(b"ID3\x04"), InputKind::Audio);
        assert_eq!(kind_of(b""), InputKind::Image);
    }
}
