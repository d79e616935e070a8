//! The grayscale copy the expression model's crops are cut from: 8-bit ITU-R BT.601 luma in
//! Pillow's fixed-point form (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`), the conversion of the
//! classifier's own training pipeline (OpenCV's `BGR2GRAY`, the same weights) and of the peer
//! baseline (`Image.convert("L")`). A plain loop over the RGB bytes that the compiler vectorises:
//! `image`'s generic conversion (floating point, BT.709 weights) cost 1.3 ms of a 500x500 photo's
//! preprocessing and 16 ms of a 2048x1536 one's; this costs about a third of that.
//!
//! Only the face regions are converted ([`region_luma8`]), after detection: a full grayscale copy
//! of every photo cost 0.37 ms of a 500x500 photo's preprocessing (3.5% of the server's CPU under
//! load) and 3.7 ms of a 2048x1536 one's, for crops that cover a fraction of it.

use image::{DynamicImage, GrayImage};

/// A square or rectangular region of an image, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (at least 1).
    pub w: u32,
    /// Height (at least 1).
    pub h: u32,
}

/// BT.601 weights scaled by 2^16 (they sum to 65536).
const WEIGHTS: [u32; 3] = [19_595, 38_470, 7_471];

/// The luma of `region` of `img` (which must lie inside it), as an image of the region's size.
pub fn region_luma8(img: &DynamicImage, region: Region) -> GrayImage {
    let Region { x, y, w, h } = region;
    let (x, w, width) = (x as usize, w as usize, img.width() as usize);
    let rows = y as usize..(y + h) as usize;
    let mut luma = Vec::with_capacity(w * h as usize);
    match img {
        DynamicImage::ImageRgb8(rgb) => {
            for row in rows {
                let start = (row * width + x) * 3;
                luma.extend(
                    rgb.as_raw()[start..start + w * 3]
                        .chunks_exact(3)
                        .map(bt601),
                );
            }
        }
        DynamicImage::ImageLuma8(gray) => {
            for row in rows {
                let start = row * width + x;
                luma.extend_from_slice(&gray.as_raw()[start..start + w]);
            }
        }
        other => {
            let rgb = other
                .crop_imm(region.x, region.y, region.w, region.h)
                .to_rgb8();
            luma.extend(rgb.as_raw().chunks_exact(3).map(bt601));
        }
    }
    GrayImage::from_raw(region.w, region.h, luma)
        .expect("one luma byte per pixel of the region; this is a bug")
}

/// Pillow's fixed-point BT.601 luma of one RGB pixel.
fn bt601(p: &[u8]) -> u8 {
    let sum =
        WEIGHTS[0] * u32::from(p[0]) + WEIGHTS[1] * u32::from(p[1]) + WEIGHTS[2] * u32::from(p[2]);
    ((sum + (1 << 15)) >> 16) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The luma plane of the whole of `img`.
    fn to_luma8(img: &DynamicImage) -> GrayImage {
        let whole = Region {
            x: 0,
            y: 0,
            w: img.width(),
            h: img.height(),
        };
        region_luma8(img, whole)
    }
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

    #[test]
    fn a_region_is_the_same_pixels_of_the_whole_copy() {
        let img = RgbImage::from_fn(37, 23, |x, y| {
            Rgb([(x * 7) as u8, (y * 11) as u8, (x * y) as u8])
        });
        let region = Region {
            x: 5,
            y: 3,
            w: 17,
            h: 19,
        };
        for img in [
            DynamicImage::ImageRgb8(img.clone()),
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(img.clone()).to_luma8()),
            DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(img).to_rgba8()),
        ] {
            let whole = to_luma8(&img);
            let part = region_luma8(&img, region);
            assert_eq!(part.dimensions(), (17, 19));
            for (px, py, p) in part.enumerate_pixels() {
                assert_eq!(*p, whole[(px + 5, py + 3)], "({px}, {py})");
            }
        }
    }
}
