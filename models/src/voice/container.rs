//! Which container an audio file is, and where it starts, from its first bytes; and opening that
//! container's reader. symphonia's own probe scans the stream for any known marker (`fLaC`,
//! `RIFF`, `ftyp`, raw ADTS, ...) wherever it is, so a container buried behind other bytes was
//! opened past the checks [`super::decode`] makes on the start of the file (found by the
//! `audio_decode` fuzz target: fuzz/seeds/audio_decode/buried_flac, behind junk, and
//! fuzz/seeds/audio_decode/flac_behind_mpeg_sync, behind an MPEG frame sync), and raw ADTS reached a
//! parser that underflows (fuzz/seeds/audio_decode/adts_underflow). soyl accepts audio that begins
//! with its container, after an optional ID3v2 tag, and opens exactly that container's reader.

use crate::InputError;
use symphonia::core::errors::Result as SymphoniaResult;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::default::formats::{FlacReader, IsoMp4Reader, MpaReader, OggReader, WavReader};

/// The containers soyl accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// RIFF/WAVE.
    Wav,
    /// Native FLAC.
    Flac,
    /// Ogg (Vorbis).
    Ogg,
    /// MP4/M4A (AAC).
    Mp4,
    /// MPEG audio frames (MP3).
    Mpeg,
}

/// The container and the bytes from its start (after an ID3v2 tag if there is one);
/// `media_unrecognized` when no accepted container starts there.
pub fn start(bytes: &[u8]) -> Result<(Container, &[u8]), InputError> {
    let body = bytes.get(id3_len(bytes)..).unwrap_or_default();
    let at = |offset: usize, magic: &[u8]| body.get(offset..offset + magic.len()) == Some(magic);
    let container = if at(0, b"RIFF") && at(8, b"WAVE") {
        Container::Wav
    } else if at(0, b"fLaC") {
        Container::Flac
    } else if at(0, b"OggS") {
        Container::Ogg
    } else if at(4, b"ftyp") {
        Container::Mp4
    } else if body.len() > 1 && body[0] == 0xFF && body[1] & 0xE0 == 0xE0 {
        Container::Mpeg
    } else {
        return Err(InputError::new(
            "media_unrecognized",
            "not a recognised audio format (accepted: WAV, FLAC, MP3, Ogg Vorbis, AAC in MP4/M4A)",
        ));
    };
    Ok((container, body))
}

/// Opens `source` (the bytes [`start`] returned) with `container`'s reader.
pub fn open(
    container: Container,
    source: MediaSourceStream,
    options: &FormatOptions,
) -> SymphoniaResult<Box<dyn FormatReader>> {
    Ok(match container {
        Container::Wav => Box::new(WavReader::try_new(source, options)?),
        Container::Flac => Box::new(FlacReader::try_new(source, options)?),
        Container::Ogg => Box::new(OggReader::try_new(source, options)?),
        Container::Mp4 => Box::new(IsoMp4Reader::try_new(source, options)?),
        Container::Mpeg => Box::new(MpaReader::try_new(source, options)?),
    })
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
        assert_eq!(start(b"fLaC\0\0\0\x22").unwrap().0, Container::Flac);
        assert_eq!(
            start(b"ID3\x04\0\0\0\0\0\x02\0\0fLaC").unwrap(),
            (Container::Flac, &b"fLaC"[..])
        );
        assert_eq!(start(b"\0\0\0\x18ftypM4A ").unwrap().0, Container::Mp4);
        assert_eq!(start(b"junk fLaC").unwrap_err().code, "media_unrecognized");
    }
}
