//! A look at a RIFF/WAVE header before symphonia opens the file, for the limits symphonia cannot
//! enforce itself: its channel layout is a bitmask of named speakers, so a WAV with more channels
//! than it can name fails to open with a generic error instead of saying how many it has; and a
//! sample rate of 0 makes it panic (a zero time-base denominator) while opening. Called by
//! [`super::decode`].

/// The fields of a `fmt ` chunk the limits need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// Channel count.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
}

/// The `fmt ` chunk of a RIFF/WAVE file, wherever it is among the chunks (as symphonia finds it
/// however many come first); `None` when `bytes` is not one or has no such chunk.
pub fn wav_format(bytes: &[u8]) -> Option<WavFormat> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    // Each step moves at least 8 bytes, so the walk ends within the file however many (empty)
    // chunks a hostile file chains.
    loop {
        let header = bytes.get(at..at + 8)?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[0..4] == b"fmt " {
            let fmt = bytes.get(at + 8..at + 16)?;
            return Some(WavFormat {
                channels: u16::from_le_bytes([fmt[2], fmt[3]]),
                sample_rate: u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]),
            });
        }
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_channels_and_rate_and_ignores_other_formats() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x60\0\x80\x3e\0\0".to_vec();
        wav.extend_from_slice(&[0; 8]);
        assert_eq!(
            wav_format(&wav),
            Some(WavFormat {
                channels: 96,
                sample_rate: 16_000
            })
        );
        assert_eq!(wav_format(b"ID3\x04"), None);
        assert_eq!(wav_format(b"RIFF\0\0\0\0WAVEjunk\xff\xff\xff\xff"), None);
    }

    #[test]
    fn a_fmt_chunk_after_many_others_is_still_found() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        for _ in 0..40 {
            wav.extend_from_slice(b"junk\0\0\0\0");
        }
        wav.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x01\0\0\0\0\0");
        wav.extend_from_slice(&[0; 8]);
        assert_eq!(
            wav_format(&wav),
            Some(WavFormat {
                channels: 1,
                sample_rate: 0
            })
        );
    }
}
