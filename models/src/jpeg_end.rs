//! Where a JPEG image ends: the marker walk that tells a complete image from a truncated one.
//!
//! The JPEG decoder fills a truncated scan with grey instead of failing, so completeness is
//! checked before decoding: the image is complete when, walking its segments forward from the
//! start (each header segment skipped by its length, each scan's entropy-coded data skipped up to
//! the next marker), an end-of-image marker (`FF D9`) follows at least one scan. Whatever comes
//! after that marker is not the image's: phones append an MP4 to "motion photos", whose bytes
//! hold `FF DA` and `FF D9` pairs at random, so searching the whole file for the last of either
//! would call about half of them truncated.

/// True when the JPEG in `bytes` reaches an end-of-image marker after at least one scan.
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    let mut scanned = false;
    loop {
        let Some(marker_at) = next_marker(bytes, at) else {
            return false;
        };
        let marker = bytes[marker_at + 1];
        at = marker_at + 2;
        match marker {
            0xD9 => return scanned,
            // Standalone markers: restart markers and TEM carry no length.
            0xD0..=0xD7 | 0x01 => {}
            _ => {
                let Some(length) = bytes.get(at..at + 2) else {
                    return false;
                };
                at += usize::from(u16::from_be_bytes([length[0], length[1]]));
                if marker == 0xDA {
                    at = end_of_entropy_data(bytes, at);
                    scanned = true;
                }
            }
        }
    }
}

/// The offset of the next marker (`FF` followed by a marker byte) at or after `from`, skipping
/// fill bytes and, like libjpeg, any stray bytes before it.
fn next_marker(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = bytes.get(at..)?;
        let ff = rest.iter().position(|&b| b == 0xFF)?;
        at += ff;
        match bytes.get(at + 1)? {
            0xFF => at += 1,
            0x00 => at += 2,
            _ => return Some(at),
        }
    }
}

/// The offset just past a scan's entropy-coded data starting at `from`: the first `FF` that is
/// not stuffing (`FF 00`), a restart marker (`FF D0`..`FF D7`) or fill (`FF FF`).
fn end_of_entropy_data(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(rest) = bytes.get(at..) {
        let Some(ff) = rest.iter().position(|&b| b == 0xFF) else {
            return bytes.len();
        };
        at += ff;
        match bytes.get(at + 1) {
            Some(0x00 | 0xD0..=0xD7) => at += 2,
            Some(0xFF) => at += 1,
            _ => return at,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP0 segment, a scan with stuffing and a restart marker, EOI.
    fn small_jpeg() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend([0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        j.extend([0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02]);
        j.extend([0x11, 0xFF, 0x00, 0x22, 0xFF, 0xD0, 0x33]);
        j.extend([0xFF, 0xD9]);
        j
    }

    #[test]
    fn a_complete_image_needs_an_end_marker_after_a_scan() {
        assert!(jpeg_is_complete(&small_jpeg()));
        let truncated = &small_jpeg()[..small_jpeg().len() - 2];
        assert!(!jpeg_is_complete(truncated));
        // An end marker before any scan (an empty image) does not count.
        assert!(!jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 1, 2
        ]));
        assert!(!jpeg_is_complete(&[
            0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 1, 2, 0xFF, 0x00
        ]));
        assert!(!jpeg_is_complete(b"not a jpeg"));
    }

    #[test]
    fn bytes_after_the_end_marker_are_not_the_image() {
        // A motion photo: the video after the image holds scan and end markers in any order.
        let mut motion = small_jpeg();
        motion.extend([0x00, 0x00, 0x00, 0x18, b'f', b't', b'y', b'p']);
        motion.extend([0xFF, 0xD9, 0x42, 0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02, 0x99]);
        assert!(jpeg_is_complete(&motion));
    }

    #[test]
    fn a_thumbnail_inside_a_header_segment_is_skipped_by_its_length() {
        let mut j = vec![0xFF, 0xD8];
        // APP1 holding a whole small image, end marker included.
        let thumb = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9];
        j.extend([0xFF, 0xE1, 0x00, (thumb.len() + 2) as u8]);
        j.extend(thumb);
        // The main image's scan, cut short.
        j.extend([0xFF, 0xDA, 0x00, 0x02, 0x10, 0x20]);
        assert!(!jpeg_is_complete(&j));
        j.extend([0xFF, 0xD9]);
        assert!(jpeg_is_complete(&j));
    }
}
