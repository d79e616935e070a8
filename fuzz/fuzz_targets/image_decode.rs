//! Image decoding as the face pipeline does it (`soyl_models::image_input::decode`, then the
//! detector tensor): any bytes must give an image within the limits or an `InputError`, never a
//! panic, an abort or an allocation past the limits (libFuzzer's -rss_limit_mb catches those).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soyl_models::image_input::{decode, ImageLimits};

fuzz_target!(|data: &[u8]| {
    // Small limits so a declared size just under them is still cheap to decode many times.
    let limits = ImageLimits {
        max_side: 4096,
        max_pixels: 4_000_000,
    };
    if let Ok(img) = decode(data, &limits) {
        assert!(img.width() <= limits.max_side && img.height() <= limits.max_side);
        let _ = img.into_luma8();
    }
});
