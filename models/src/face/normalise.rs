//! u8 pixels to the normalised floats a face model reads, `(v - mean) / std` per sample.
//!
//! A sample has only 256 values, so each is looked up in a table computed once per call (the
//! same float expression, so the same bits as computing it per sample). The arithmetic per
//! sample this replaced cost a third of a millisecond per 320x240 detector input, 5% of face1's
//! CPU (docs/performance.md).

use crate::manifest::ImagePreprocess;

/// The normalised value of every u8 sample.
fn table(pre: &ImagePreprocess) -> [f32; 256] {
    std::array::from_fn(|v| (v as f32 - pre.mean) / pre.std)
}

/// Interleaved RGB bytes (`raw.len()` a multiple of 3) as three normalised planes, R then G
/// then B.
pub fn rgb_planes(raw: &[u8], pre: &ImagePreprocess) -> Vec<f32> {
    let mut out = Vec::new();
    rgb_planes_into(raw, pre, &mut out);
    out
}

/// [`rgb_planes`] into `out`, replacing its contents and reusing its capacity.
pub fn rgb_planes_into(raw: &[u8], pre: &ImagePreprocess, out: &mut Vec<f32>) {
    let t = table(pre);
    let pixels = raw.chunks_exact(3);
    // Plane after plane into unzeroed capacity: extending from an exact-size iterator checks
    // the capacity once, and no zeroing pass runs first.
    out.clear();
    out.reserve(3 * pixels.len());
    for c in 0..3 {
        out.extend(pixels.clone().map(|px| t[usize::from(px[c])]));
    }
}

/// One-channel bytes as one normalised plane.
pub fn gray_plane(raw: &[u8], pre: &ImagePreprocess) -> Vec<f32> {
    let t = table(pre);
    raw.iter().map(|&v| t[usize::from(v)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Color;

    fn pre(mean: f32, std: f32) -> ImagePreprocess {
        ImagePreprocess {
            color: Color::Rgb,
            width: 2,
            height: 1,
            mean,
            std,
        }
    }

    #[test]
    fn rgb_pixels_become_planes_of_normalised_samples() {
        let p = pre(127.0, 128.0);
        let out = rgb_planes(&[0, 127, 255, 1, 2, 3], &p);
        let expect = |v: f32| (v - 127.0) / 128.0;
        assert_eq!(
            out,
            [0.0, 1.0, 127.0, 2.0, 255.0, 3.0].map(expect).to_vec(),
            "R plane, then G, then B"
        );
    }

    #[test]
    fn the_table_gives_the_bits_the_formula_gives() {
        let p = pre(0.485 * 255.0, 0.229 * 255.0);
        let raw: Vec<u8> = (0..=255).collect();
        let out = gray_plane(&raw, &p);
        for (v, got) in raw.iter().zip(&out) {
            assert_eq!(got.to_bits(), ((f32::from(*v) - p.mean) / p.std).to_bits());
        }
    }
}
