//! Walking the boxes (atoms) of an MP4/M4A file without a parser: what [`super::mp4_edit`] and
//! [`super::mp4_tables`] read before symphonia opens the file.

/// `(type, payload)` of each box in `data`, stopping at the first malformed one.
pub fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?) as u64;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, data.len() as u64),
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
            n => (8, n),
        };
        let size = usize::try_from(size).ok()?;
        let payload = data.get(header..size)?;
        data = &data[size..];
        Some((kind, payload))
    })
}

/// The payload of the first `kind` box in `data`.
pub fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data)
        .find(|(k, _)| k == kind)
        .map(|(_, payload)| payload)
}

/// The big-endian number of `len` bytes at `at`.
pub fn be(data: &[u8], at: usize, len: usize) -> Option<u64> {
    let bytes = data.get(at..at + len)?;
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}
