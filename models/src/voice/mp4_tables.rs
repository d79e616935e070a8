//! A check of an MP4/M4A file's sample tables before symphonia opens it: symphonia 0.5.5 sizes its
//! tables from the entry count a box declares (`Vec::with_capacity(count)`), so a 2 KB file whose
//! `stco` says 1.7 billion entries makes it allocate 6.9 GB and the process abort (found by the
//! `audio_decode` fuzz target; fuzz/seeds/audio_decode/stco_oom.m4a). A table whose entries do not
//! fit in its own box is refused here instead. Called by [`super::decode`].

use super::mp4_boxes::{be, boxes, child};
use crate::InputError;

/// Sample-table boxes: (type, bytes per entry, offset of the entry count in the payload).
const TABLES: &[(&[u8; 4], u64, usize)] = &[
    (b"stco", 4, 4),
    (b"co64", 8, 4),
    (b"stsc", 12, 4),
    (b"stts", 8, 4),
    (b"ctts", 8, 4),
    (b"stss", 4, 4),
    (b"stsz", 4, 8),
];

/// `Err(audio_corrupt)` when a sample table of any track declares more entries than its box
/// holds; `Ok` for files that are not MP4 or whose boxes this walk cannot follow.
pub fn check(bytes: &[u8]) -> Result<(), InputError> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return Ok(());
    }
    let Some(moov) = child(bytes, b"moov") else {
        return Ok(());
    };
    for (_, trak) in boxes(moov).filter(|(kind, _)| kind == b"trak") {
        let Some(stbl) = child(trak, b"mdia")
            .and_then(|mdia| child(mdia, b"minf"))
            .and_then(|minf| child(minf, b"stbl"))
        else {
            continue;
        };
        for (kind, payload) in boxes(stbl) {
            let Some(&(_, entry, at)) = TABLES.iter().find(|(k, _, _)| **k == kind) else {
                continue;
            };
            // `stsz` with a constant sample size (non-zero) has no table.
            if &kind == b"stsz" && be(payload, 4, 4).is_some_and(|size| size != 0) {
                continue;
            }
            let count = be(payload, at, 4).unwrap_or(0);
            let room = (payload.len() as u64).saturating_sub(at as u64 + 4);
            if count.saturating_mul(entry) > room {
                return Err(InputError::new(
                    "audio_corrupt",
                    format!(
                        "the MP4 {} box declares {count} entries but holds {room} bytes",
                        String::from_utf8_lossy(&kind)
                    ),
                ));
            }
        }
    }
    Ok(())
}
