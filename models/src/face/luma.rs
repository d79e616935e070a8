//! The grayscale copy the expression model's crops are cut from: 8-bit ITU-R BT.601 luma in
//! Pillow's fixed-point form (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`), the conversion of the
//! classifier's own training pipeline (OpenCV's `BGR2GRAY`, the same weights) and of the peer
//! baseline (`Image.convert("L")`). A plain loop over the RGB bytes that the compiler vectorises:
//! `image`'s generic conversion (floating point, BT.709 weights) cost 1.3 ms of a 500x500 photo's
//! preprocessing and 16 ms of a 2048x1536 one's; this costs about a third of that.

use image::{DynamicImage, GrayImage};

/// BT.601 weights scaled by 2^16 (they sum to 65536).
const WEIGHTS: [u32; 3] = [19_595, 38_470, 7_471];

/// The luma plane of `img`.
pub fn to_luma8(img: &DynamicImage) -> GrayImage {
    let owned;
    let rgb = match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(gray) => return gray.clone(),
        other => {
            owned = other.to_rgb8();
            &owned
        }
    };
    let luma = rgb
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let sum = WEIGHTS[0] * u32::from(p[0])
                + WEIGHTS[1] * u32::from(p[1])
                + WEIGHTS[2] * u32::from(p[2]);
            ((sum + (1 << 15)) >> 16) as u8
        })
        .collect();
    GrayImage::from_raw(rgb.width(), rgb.height(), luma)
        .expect("one luma byte per RGB pixel; this is a bug")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn luma_of(px: [u8; 3]) -> u8 {
        to_luma8(&DynamicImage::ImageRgb8(RgbImage::from_pixel(
            1,
            1,
            Rgb(px),
        )))[(0, 0)]
            .0[0]
    }

    #[test]
    fn primaries_and_extremes_match_pillow() {
        // Pillow 10: Image.new("RGB", (1, 1), c).convert("L").getpixel((0, 0))
        assert_eq!(luma_of([255, 255, 255]), 255);
        assert_eq!(luma_of([0, 0, 0]), 0);
        assert_eq!(luma_of([255, 0, 0]), 76);
        assert_eq!(luma_of([0, 255, 0]), 150);
        assert_eq!(luma_of([0, 0, 255]), 29);
        assert_eq!(luma_of([128, 64, 32]), 79);
    }

    #[test]
    fn grey_stays_grey_and_other_layouts_convert_through_rgb() {
        for v in [0u8, 1, 77, 128, 254, 255] {
            assert_eq!(luma_of([v, v, v]), v);
        }
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2,
            2,
            image::Rgba([255, 0, 0, 10]),
        ));
        assert!(to_luma8(&rgba).pixels().all(|p| p.0[0] == 76));
    }
}
