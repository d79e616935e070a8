//! Image decoding for analysis: format sniffed from the bytes (never from a header or file name),
//! dimensions checked from the file header before any pixel is decoded (so a small file that
//! declares 50000x50000 pixels costs nothing), EXIF orientation applied. Runs on a blocking pool.

use crate::InputError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// Limits on images, each configurable (`--max-image-pixels`, `--max-image-side`).
#[derive(Debug, Clone)]
pub struct ImageLimits {
    /// Largest accepted width or height, in pixels.
    pub max_side: u32,
    /// Largest accepted width x height.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_side: 12_000,
            max_pixels: 40_000_000,
        }
    }
}

/// Formats the face pipeline decodes.
pub const SUPPORTED: &[ImageFormat] = &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP];

/// Sniffs an image format from magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok()
}

/// Decodes `bytes` into an upright image, or says precisely why not.
///
/// Codes: `input_empty`, `media_unrecognized`, `image_unsupported_format`, `image_too_large`,
/// `image_corrupt`.
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<DynamicImage, InputError> {
    if bytes.is_empty() {
        return Err(InputError::new(
            "input_empty",
            "the file is empty (0 bytes)",
        ));
    }
    let format = sniff(bytes).ok_or_else(|| {
        InputError::new(
            "media_unrecognized",
            "not a recognised image format (JPEG, PNG and WebP are supported)",
        )
    })?;
    if !SUPPORTED.contains(&format) {
        return Err(InputError::new(
            "image_unsupported_format",
            format!("{format:?} images are not supported: use JPEG, PNG or WebP"),
        ));
    }
    if format == ImageFormat::Jpeg && !crate::jpeg_end::jpeg_is_complete(bytes) {
        return Err(InputError::new(
            "image_corrupt",
            "JPEG image is truncated: its last scan has no end-of-image marker",
        ));
    }
    let corrupt = |e: image::ImageError| {
        InputError::new(
            "image_corrupt",
            format!("{format:?} image cannot be decoded: {e}"),
        )
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + (64 << 20));
    reader.limits(decoder_limits.clone());
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(None, limits),
        other => corrupt(other),
    })?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(InputError::new("image_corrupt", "image has no pixels"));
    }
    if w > limits.max_side || h > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels
    {
        return Err(too_large(Some((w, h)), limits));
    }
    decoder
        .set_limits(decoder_limits)
        .map_err(|_| too_large(Some((w, h)), limits))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(Some((w, h)), limits),
        other => corrupt(other),
    })?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn too_large(dims: Option<(u32, u32)>, limits: &ImageLimits) -> InputError {
    let declared = dims.map_or_else(
        || "its declared size".to_owned(),
        |(w, h)| format!("{w}x{h}"),
    );
    InputError::new(
        "image_too_large",
        format!(
            "image is {declared}, over the limits ({} px per side, {} pixels)",
            limits.max_side, limits.max_pixels
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unknown_bytes_have_their_own_codes() {
        let limits = ImageLimits::default();
        assert_eq!(decode(&[], &limits).unwrap_err().code, "input_empty");
        assert_eq!(
            decode(b"hello world", &limits).unwrap_err().code,
            "media_unrecognized"
        );
        assert_eq!(
            decode(b"GIF89a\x01\x00\x01\x00", &limits).unwrap_err().code,
            "image_unsupported_format"
        );
    }
}
