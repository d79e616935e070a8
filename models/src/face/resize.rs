//! Resizing for the face models' inputs: `fast_image_resize`'s SIMD convolution with a bilinear
//! filter whose support widens with the downscale factor (Pillow's `BILINEAR`, which the peer
//! baseline uses), so a downscale averages every source pixel instead of sampling a few.
//! `image`'s own triangle filter and `thumbnail` cost 4 ms for a 500x500 photo's detector input
//! and 17 ms for a 2048x1536 one's; this costs a fraction of a millisecond.
//!
//! Every resize goes through `resize_typed` for the two pixel types used here (RGB and luma
//! bytes): the untyped `Resizer::resize` dispatches on the pixel type at run time, so it compiles
//! the SIMD kernels of all 13 of the crate's pixel types into this crate: half of its code, and
//! 93 s instead of 72 s for its cold compile on 2 cores (paid again in the test and fuzz builds).
//!
//! [`rgb_scratch`] resizes into memory kept for the next image: the resizer's intermediate
//! rows (480 KB for a 500x500 photo, 1.5 MB for 2048x1536) and the destination (230 KB for
//! 320x240) would otherwise be fresh allocations whose pages the kernel faults in and zeroes
//! every time (docs/performance.md, page faults). At most one set per core is kept (preprocessing
//! runs one step per core at a time), whichever threads use them, and only after a source of at
//! most [`KEEP_MAX_SIDE`] pixels a side (the resizer's rows grow with the source), so idle
//! memory stays bounded however many blocking threads run and however large an image came.

use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::{U8x3, U8};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, ImageBuffer, Pixel, RgbImage};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Longest side of a source after which [`rgb_scratch`] keeps its scratch set; a larger one's
/// intermediate rows are freed with it.
pub const KEEP_MAX_SIDE: u32 = 4096;

/// Scratch sets kept between calls: a resizer (whose buffers persist) and destination bytes.
static SCRATCH: Mutex<Vec<(Resizer, Vec<u8>)>> = Mutex::new(Vec::new());

/// How many sets to keep: the cores, read once (`available_parallelism` reads cgroup files).
static KEEP: OnceLock<usize> = OnceLock::new();

/// `src` resized to `width` x `height` (aspect ratio not kept).
pub fn rgb(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize::<_, U8x3>(src, width, height)
}

/// Calls `f` with `src` resized to `width` x `height` (interleaved RGB bytes, aspect ratio not
/// kept), in scratch memory that an earlier call used and a later one will.
pub fn rgb_scratch<R>(src: &RgbImage, width: u32, height: u32, f: impl FnOnce(&[u8]) -> R) -> R {
    let lock = || SCRATCH.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = lock().pop();
    let (mut resizer, mut bytes) = taken.unwrap_or_else(|| (Resizer::new(), Vec::new()));
    // Written over in full by the resize: only growth needs zeroing.
    bytes.resize(width as usize * height as usize * 3, 0);
    resize_into::<_, U8x3>(&mut resizer, src, width, height, &mut bytes);
    let out = f(&bytes);
    if src.width().max(src.height()) <= KEEP_MAX_SIDE {
        let mut kept = lock();
        if kept.len() < *KEEP.get_or_init(crate::runtime::cores) {
            kept.push((resizer, bytes));
        }
    }
    out
}

/// `src` resized to `width` x `height` (aspect ratio not kept).
pub fn gray(src: &GrayImage, width: u32, height: u32) -> GrayImage {
    resize::<_, U8>(src, width, height)
}

/// `src` resized into a new buffer; `F` is `fast_image_resize`'s pixel type of the same layout
/// as `P`.
fn resize<P: Pixel<Subpixel = u8>, F: PixelTrait>(
    src: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<u8>> {
    let mut bytes = vec![0; width as usize * height as usize * usize::from(P::CHANNEL_COUNT)];
    resize_into::<P, F>(&mut Resizer::new(), src, width, height, &mut bytes);
    ImageBuffer::from_raw(width, height, bytes)
        .expect("the destination holds width x height pixels; this is a bug")
}

/// `src` resized into `dst`, `width` x `height` pixels of `F` (as bytes).
fn resize_into<P: Pixel<Subpixel = u8>, F: PixelTrait>(
    resizer: &mut Resizer,
    src: &ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
    dst: &mut [u8],
) {
    assert_eq!(
        usize::from(P::CHANNEL_COUNT),
        F::size(),
        "the two pixel types have one layout; this is a bug"
    );
    let view = TypedImageRef::<F>::from_buffer(src.width(), src.height(), src.as_raw())
        .expect("an image buffer holds width x height pixels of its type; this is a bug");
    let mut out = TypedImage::<F>::from_buffer(width, height, dst)
        .expect("the destination holds width x height pixels; this is a bug");
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    resizer
        .resize_typed(&view, &mut out, &options)
        .expect("source and destination share one pixel type; this is a bug");
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
    fn the_scratch_resize_gives_the_owned_resize_bytes_call_after_call() {
        let photo = |shade: u8| {
            RgbImage::from_fn(500, 400, |x, y| {
                image::Rgb([(x % 251) as u8, (y % 241) as u8, shade ^ (x as u8)])
            })
        };
        // A larger call first, so the smaller ones reuse (and must fully overwrite) its bytes.
        for (shade, (w, h)) in [(0, (640, 480)), (90, (320, 240)), (255, (64, 48))] {
            let src = photo(shade);
            let owned = rgb(&src, w, h);
            rgb_scratch(&src, w, h, |bytes| {
                assert_eq!(bytes, owned.as_raw().as_slice())
            });
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
