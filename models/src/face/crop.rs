//! Face crops for the expression model: the detected box cut from the decoded image, made square
//! around its centre (the classifier was trained on square face crops), converted to grayscale
//! ([`super::luma`]), resized to the model input and normalised.

use super::detect::BoundingBox;
use super::luma::{self, Region};
use super::{normalise, resize};
use crate::manifest::ImagePreprocess;
use image::DynamicImage;

/// Source pixels up to which the crops of one image are cut on the caller's (async) thread: about
/// 0.3 ms of work, less than a hop to the blocking pool and back. Larger ones (a selfie's face
/// filling a 12-megapixel photo is 20 ms) go to the blocking pool.
pub const INLINE_PIXELS: f32 = 512.0 * 512.0;

/// Source pixels the crops of `boxes` read (before clamping to the image).
pub fn source_pixels(boxes: &[BoundingBox]) -> f32 {
    boxes.iter().map(|b| b.w.max(b.h).powi(2)).sum()
}

/// Crops `bbox` (squared, clamped to the image) from `img` and returns the model input tensor.
pub fn to_tensor(img: &DynamicImage, bbox: &BoundingBox, pre: &ImagePreprocess) -> Vec<f32> {
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let side = bbox.w.max(bbox.h).min(iw).min(ih).max(1.0);
    let cx = bbox.x + bbox.w / 2.0;
    let cy = bbox.y + bbox.h / 2.0;
    let x = (cx - side / 2.0).clamp(0.0, iw - side);
    let y = (cy - side / 2.0).clamp(0.0, ih - side);
    let region = Region {
        x: x as u32,
        y: y as u32,
        w: side as u32,
        h: side as u32,
    };
    let face = resize::gray(&luma::region_luma8(img, region), pre.width, pre.height);
    normalise::gray_plane(face.as_raw(), pre)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Color;
    use image::{Rgb, RgbImage};

    /// Noise inside the square (78, 40) + 95x95, and `outside` around it.
    fn photo(outside: u8) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(300, 200, |x, y| {
            if (78..173).contains(&x) && (40..135).contains(&y) {
                let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503))
                    .wrapping_mul(2_246_822_519)
                    >> 8;
                Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            } else {
                Rgb([outside; 3])
            }
        }))
    }

    #[test]
    fn a_crop_reads_only_the_pixels_of_the_faces_square() {
        // As the peer baseline and the classifier's training crop (PIL `crop` then `resize`):
        // the filter does not reach past the square's edges into the rest of the photo.
        let pre = ImagePreprocess {
            color: Color::Gray,
            width: 64,
            height: 64,
            mean: 0.0,
            std: 255.0,
        };
        // A 70x95 box centred in the square above.
        let bbox = BoundingBox {
            x: 90.5,
            y: 40.2,
            w: 70.0,
            h: 95.0,
        };
        let dark = to_tensor(&photo(0), &bbox, &pre);
        assert_eq!(dark.len(), 64 * 64);
        assert!(dark == to_tensor(&photo(255), &bbox, &pre));
        let square = luma::region_luma8(
            &photo(0),
            Region {
                x: 78,
                y: 40,
                w: 95,
                h: 95,
            },
        );
        let mean = dark.iter().sum::<f32>() / dark.len() as f32;
        let expected =
            square.pixels().map(|p| f32::from(p[0])).sum::<f32>() / (95.0 * 95.0 * 255.0);
        assert!((mean - expected).abs() < 0.01, "{mean} vs {expected}");
    }
}
