//! A check of a FLAC file's metadata blocks before symphonia opens it: symphonia 0.5.5 allocates
//! each Vorbis comment and each picture field at the length the file declares (`vec![0; len]`)
//! before reading it, so a 56-byte FLAC declaring a 4 GB comment asks for 4 GB (found by the
//! `audio_decode` fuzz target; fuzz/seeds/audio_decode/comment_oom.flac). A block whose fields do
//! not fit in the block is refused here instead. Called by [`super::decode`].

use crate::InputError;

const VORBIS_COMMENT: u8 = 4;
const PICTURE: u8 = 6;

/// `Err(audio_corrupt)` when a Vorbis comment or picture block declares a field longer than the
/// block; `Ok` for other files and for blocks this walk cannot follow (symphonia judges those).
pub fn check(bytes: &[u8]) -> Result<(), InputError> {
    if bytes.get(0..4) != Some(b"fLaC") {
        return Ok(());
    }
    let mut at = 4usize;
    while let Some(header) = bytes.get(at..at + 4) {
        let kind = header[0] & 0x7F;
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let block = &bytes[at + 4..bytes.len().min(at + 4 + len)];
        let fits = match kind {
            VORBIS_COMMENT => comment_fits(block),
            PICTURE => picture_fits(block),
            _ => true,
        };
        if !fits {
            return Err(InputError::new(
                "audio_corrupt",
                format!("a FLAC metadata block (type {kind}) declares fields longer than its {len} bytes"),
            ));
        }
        if header[0] & 0x80 != 0 {
            break;
        }
        at += 4 + len;
    }
    Ok(())
}

/// Reads little- or big-endian `u32` length fields and skips what they cover, within `block`.
struct Fields<'a> {
    block: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn u32(&mut self, big_endian: bool) -> Option<usize> {
        let b: [u8; 4] = self.block.get(self.at..self.at + 4)?.try_into().ok()?;
        self.at += 4;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize)
    }

    /// Skips `len` bytes; false when they are not in the block.
    fn skip(&mut self, len: usize) -> bool {
        match self.at.checked_add(len) {
            Some(end) if end <= self.block.len() => {
                self.at = end;
                true
            }
            _ => false,
        }
    }
}

/// Vendor string, then a count of comments, each a length and its bytes (little-endian).
fn comment_fits(block: &[u8]) -> bool {
    let mut f = Fields { block, at: 0 };
    let Some(vendor) = f.u32(false) else {
        return true;
    };
    if !f.skip(vendor) {
        return false;
    }
    let Some(count) = f.u32(false) else {
        return true;
    };
    (0..count).all(|_| f.u32(false).is_some_and(|len| f.skip(len)))
}

/// Picture type, MIME type, description, four numbers, then the data (big-endian lengths).
fn picture_fits(block: &[u8]) -> bool {
    let mut f = Fields { block, at: 4 };
    let mime = f.u32(true).is_none_or(|len| f.skip(len));
    let description = f.u32(true).is_none_or(|len| f.skip(len));
    let data = f.skip(16) && f.u32(true).is_none_or(|len| f.skip(len));
    mime && description && data
}
