//! What kind of media an upload is, from its bytes (never trusting the client's content type or
//! file name). Unknown bytes are filed as images so the worker reports them precisely
//! (`media_unrecognized`, `input_empty`) on the job instead of the upload being turned away.

use soyl_jobs::InputKind;

/// How many leading bytes [`kind_of`] looks at (an ID3 tag's header, a container's magic).
pub const HEAD_BYTES: usize = 64;

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
        || (at(4, b"ftyp") && !b.get(8..12).is_some_and(is_image_brand))
}

/// ISO base media brands of still images (AVIF, HEIF/HEIC, JPEG XL): every other `ftyp` file
/// (M4A, MP4 of any brand, DASH, 3GP) goes to the audio decoder, which reads any of them.
fn is_image_brand(brand: &[u8]) -> bool {
    const IMAGE_BRANDS: [&[u8; 4]; 11] = [
        b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
        b"jxl ",
    ];
    IMAGE_BRANDS.iter().any(|b| b.as_slice() == brand)
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

    #[test]
    fn any_mp4_brand_is_audio_and_still_image_brands_are_images() {
        for brand in [
            b"M4A ", b"mp41", b"mp42", b"isom", b"dash", b"M4B ", b"3gp4",
        ] {
            let mut file = b"\0\0\0\x18ftyp".to_vec();
            file.extend_from_slice(brand);
            assert_eq!(kind_of(&file), InputKind::Audio, "{brand:?}");
        }
        for brand in [b"avif", b"heic", b"mif1"] {
            let mut file = b"\0\0\0\x18ftyp".to_vec();
            file.extend_from_slice(brand);
            assert_eq!(kind_of(&file), InputKind::Image, "{brand:?}");
        }
    }
}
