//! A check of the sizes in an MP4/M4A file that symphonia 0.5.5 trusts, before it opens the file
//! (both found by the `audio_decode` fuzz target):
//! - it sizes sample tables from the entry count a box declares (`Vec::with_capacity(count)`), so
//!   a 2 KB file whose `stco` says 1.7 billion entries asks for 6.9 GB
//!   (fuzz/seeds/audio_decode/stco_oom.m4a): a table whose entries do not fit in its box is refused;
//! - it reads a box's payload into a buffer of the size the box declares, and adds that size to
//!   its position unchecked, so a box declaring 4 GB in a 2 KB file asks for 4 GB
//!   (fuzz/seeds/audio_decode/hdlr_oom.m4a) and one declaring nearly 2^64 wraps around
//!   (fuzz/seeds/audio_decode/size_overflow.m4a): a box larger than its container is refused,
//!   metadata included (`udta/meta/ilst/<item>/data`, where a `data` atom declaring 4 GB made it
//!   allocate 4 GB: fuzz/seeds/audio_decode/ilst_data_oom.m4a);
//! - it subtracts the fields it read from a sample entry's declared size unchecked (an overflow
//!   panic with debug assertions, a wrapped size without): an `alac` entry declaring 0 bytes
//!   (fuzz/seeds/audio_decode/sample_entry_underflow.m4a) is refused, as is any box of size 0
//!   below the top level;
//! - it builds each track's time base from its `mdhd` time scale, and a time base of 1/0 panics
//!   (fuzz/seeds/audio_decode/zero_timescale.m4a): a time scale of 0 is refused;
//! - it subtracts 1 from each `stsc` entry's first chunk unchecked (chunks count from 1), which
//!   wraps for a chunk 0 (fuzz/seeds/audio_decode/stsc_chunk_zero.m4a): refused;
//! - it subtracts a `meta` box's version and flags from its size unchecked: a `meta` shorter
//!   than them (fuzz/seeds/audio_decode/meta_underflow.m4a) is refused.
//!
//! Called by [`super::decode`].

use super::mp4_boxes::{be, boxes, child};
use crate::InputError;

/// Boxes that hold boxes, as far as symphonia reads them for audio and metadata.
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"moof", b"traf", b"mvex",
    b"ilst",
];

/// Where the child boxes of a `kind` box inside a `parent` box start in its payload, if it has
/// any: containers at once, `meta` after its version and flags (a full box), and every item of
/// an `ilst` (each holds `data` atoms).
fn children_at(kind: &[u8], parent: &[u8]) -> Option<usize> {
    if CONTAINERS.iter().any(|c| c.as_slice() == kind) || parent == b"ilst" {
        Some(0)
    } else if kind == b"meta" {
        Some(4)
    } else {
        None
    }
}

/// Whether a box in `data` (the payload of a `parent` box, or the file), or in a container within
/// it, declares more bytes than `data` holds after it. The media data (`mdat`) of a top-level box
/// may run short: that is a truncated file, which symphonia reads as far as it goes.
fn box_overflows(data: &[u8], parent: &[u8], depth: usize) -> bool {
    let mut at = 0usize;
    while let (Some(size), Some(kind)) = (be(data, at, 4), data.get(at + 4..at + 8)) {
        let (header, size) = match size {
            1 => match be(data, at + 8, 8) {
                Some(large) => (16, large),
                None => return false,
            },
            // "To the end of the file" only means something at the top level.
            0 if depth > 0 => return true,
            0 => (8, (data.len() - at) as u64),
            n => (8, n),
        };
        let room = (data.len() - at) as u64;
        if size > room || size < header {
            return !(depth == 0 && kind == b"mdat") && size > room;
        }
        let end = at + size as usize;
        if let Some(skip) = children_at(kind, parent).filter(|_| depth < 8) {
            // A `meta` shorter than its version and flags: symphonia subtracts them unchecked.
            let start = at + header as usize + skip;
            if start > end || box_overflows(&data[start..end], kind, depth + 1) {
                return true;
            }
        }
        at = end;
    }
    false
}

/// `Err(audio_corrupt)` when an audio sample entry of `stsd` (its payload) is shorter than the
/// fixed fields of its version (28 bytes after the box header, +16 for version 1, +36 for
/// version 2): symphonia subtracts what it read from the entry's size unchecked.
fn sample_entries_fit(stsd: &[u8]) -> Result<(), InputError> {
    let entries = stsd.get(8..).unwrap_or_default();
    if be(entries, 0, 4) == Some(0) {
        return Err(InputError::new(
            "audio_corrupt",
            "an MP4 sample entry declares a size of 0",
        ));
    }
    for (kind, entry) in boxes(entries) {
        let version = be(entry, 8, 2).unwrap_or(0);
        let fixed = 28
            + match version {
                1 => 16,
                2 => 36,
                _ => 0,
            };
        if entry.len() < fixed {
            return Err(InputError::new(
                "audio_corrupt",
                format!(
                    "the MP4 sample entry {} holds {} bytes, fewer than its fields",
                    String::from_utf8_lossy(&kind),
                    entry.len()
                ),
            ));
        }
    }
    Ok(())
}

/// `Err(audio_corrupt)` when a media header (`mdhd`) in `mdia` (its payload) declares a time
/// scale of 0: ticks per second, after version and flags and the two timestamps (32-bit in
/// version 0, 64-bit in version 1).
fn time_scales_nonzero(mdia: &[u8]) -> Result<(), InputError> {
    for (_, mdhd) in boxes(mdia).filter(|(kind, _)| kind == b"mdhd") {
        let at = if mdhd.first() == Some(&1) { 20 } else { 12 };
        if be(mdhd, at, 4) == Some(0) {
            return Err(InputError::new(
                "audio_corrupt",
                "an MP4 track declares a time scale of 0 ticks per second",
            ));
        }
    }
    Ok(())
}

/// `Err(audio_corrupt)` when an entry of a sample-to-chunk table (`stsc`, its payload: version
/// and flags, a count, then 12-byte entries starting with the first chunk) names chunk 0.
fn chunks_count_from_one(stsc: &[u8]) -> Result<(), InputError> {
    let count = be(stsc, 4, 4).unwrap_or(0) as usize;
    let mut first_chunks = (0..count).map_while(|i| be(stsc, 8 + 12 * i, 4));
    if first_chunks.any(|chunk| chunk == 0) {
        return Err(InputError::new(
            "audio_corrupt",
            "an MP4 sample-to-chunk entry names chunk 0 (chunks count from 1)",
        ));
    }
    Ok(())
}

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

/// `Err(audio_corrupt)` when a box overflows its container, or a track declares a time scale of
/// 0, a sample entry shorter than its fields, a chunk 0, or a sample table with more entries than
/// its box holds; `Ok` for files that are not MP4 or whose boxes this walk cannot follow.
pub fn check(bytes: &[u8]) -> Result<(), InputError> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return Ok(());
    }
    if box_overflows(bytes, b"", 0) {
        return Err(InputError::new(
            "audio_corrupt",
            "an MP4 box declares more bytes than its container holds",
        ));
    }
    let Some(moov) = child(bytes, b"moov") else {
        return Ok(());
    };
    for (_, trak) in boxes(moov).filter(|(kind, _)| kind == b"trak") {
        let Some(mdia) = child(trak, b"mdia") else {
            continue;
        };
        time_scales_nonzero(mdia)?;
        let Some(stbl) = child(mdia, b"minf").and_then(|minf| child(minf, b"stbl")) else {
            continue;
        };
        if let Some(stsd) = child(stbl, b"stsd") {
            sample_entries_fit(stsd)?;
        }
        if let Some(stsc) = child(stbl, b"stsc") {
            chunks_count_from_one(stsc)?;
        }
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
