//! Resizing for the face models' inputs: `fast_image_resize`'s SIMD convolution with a bilinear
//! filter whose support widens with the downscale factor (Pillow's `BILINEAR`, which the peer
//! baseline uses), so a downscale averages every source pixel instead of sampling a few.
//! `image`'s own triangle filter and `thumbnail` cost 4 ms for a 500x500 photo's detector input
//! and 17 ms for a 2048x1536 one's; this costs a fraction of a millisecond.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, ImageBuffer, Pixel, RgbImage};

/// `src` resized to `width` x `height` (aspect ratio not kept).
pub fn rgb(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize(src, PixelType::U8x3, width, height)
}

/// `src` resized to `width` x `height` (aspect ratio not kept).
pub fn gray(src: &GrayImage, width: u32, height: u32) -> GrayImage {
    resize(src, PixelType::U8, width, height)
}

fn resize<P: Pixel<Subpixel = u8>>(
    src: &ImageBuffer<P, Vec<u8>>,
    kind: PixelType,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<u8>> {
    let view = ImageRef::new(src.width(), src.height(), src.as_raw(), kind)
        .expect("an image buffer holds width x height pixels of its type; this is a bug");
    let mut dst = Image::new(width, height, kind);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new()
        .resize(&view, &mut dst, &options)
        .expect("source and destination share one u8 pixel type; this is a bug");
    ImageBuffer::from_raw(width, height, dst.into_vec())
        .expect("the destination holds width x height pixels; this is a bug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_image_stays_uniform_at_any_scale() {
        let src = RgbImage::from_pixel(500, 500, image::Rgb([10, 120, 250]));
        for (w, h) in [(320, 240), (64, 64), (1000, 700)] {
            let out = rgb(&src, w, h);
            assert_eq!(out.dimensions(), (w, h));
            assert!(out.pixels().all(|p| p.0 == [10, 120, 250]), "{w}x{h}");
        }
    }

    #[test]
    fn a_downscale_averages_instead_of_sampling() {
        // One-pixel stripes, black and white: sampling would give black or white; averaging grey.
        let src = GrayImage::from_fn(400, 400, |x, _| {
            image::Luma([if x % 2 == 0 { 0 } else { 255 }])
        });
        let out = gray(&src, 64, 64);
        assert!(
            out.pixels().all(|p| (110..=145).contains(&p.0[0])),
            "{:?}",
            out.get_pixel(10, 10)
        );
    }
}
