//! A look at a RIFF/WAVE header before symphonia opens the file, for the one limit symphonia cannot
//! report itself: its channel layout is a bitmask of named speakers, so a WAV with more channels
//! than it can name fails to open with a generic error instead of saying how many it has. Called by
//! [`super::decode`].

/// Channel count from the `fmt ` chunk of a RIFF/WAVE file; `None` when `bytes` is not one or the
/// chunk is not within the first few chunks.
pub fn wav_channels(bytes: &[u8]) -> Option<u16> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    // Bounded walk: hostile files can chain empty chunks; `fmt ` comes first in practice.
    for _ in 0..16 {
        let header = bytes.get(at..at + 8)?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[0..4] == b"fmt " {
            let fmt = bytes.get(at + 8..at + 12)?;
            return Some(u16::from_le_bytes([fmt[2], fmt[3]]));
        }
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_channels_and_ignores_other_formats() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x60\0".to_vec();
        wav.extend_from_slice(&[0; 12]);
        assert_eq!(wav_channels(&wav), Some(96));
        assert_eq!(wav_channels(b"ID3\x04"), None);
        assert_eq!(wav_channels(b"RIFF\0\0\0\0WAVEjunk\xff\xff\xff\xff"), None);
    }
}
