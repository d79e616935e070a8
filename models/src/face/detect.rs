//! Face detector pre- and postprocessing: the image resized to the detector's input and
//! normalised; its anchor scores thresholded, boxes mapped back to original pixels, and
//! overlapping boxes removed by non-maximum suppression.

use super::{normalise, resize};
use crate::manifest::{Color, DetectorSettings, ImagePreprocess};
use image::{DynamicImage, RgbImage};
use serde::Serialize;

/// A box in original image pixels (serialised rounded to 0.1 px).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Serialize for BoundingBox {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let tenth = |v: f32| (f64::from(v) * 10.0).round() / 10.0;
        let mut st = s.serialize_struct("BoundingBox", 4)?;
        st.serialize_field("x", &tenth(self.x))?;
        st.serialize_field("y", &tenth(self.y))?;
        st.serialize_field("w", &tenth(self.w))?;
        st.serialize_field("h", &tenth(self.h))?;
        st.end()
    }
}

impl BoundingBox {
    fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union with another box.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.w).min(other.x + other.w);
        let y2 = (self.y + self.h).min(other.y + other.h);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// A detected face: its box and the detector's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Where the face is.
    pub bbox: BoundingBox,
    /// Detector confidence, 0..1.
    pub score: f32,
}

/// Resizes `img` to the detector input (see [`super::resize`]) and lays it out as normalised
/// CHW floats.
pub fn to_tensor(img: &DynamicImage, pre: &ImagePreprocess) -> Vec<f32> {
    let mut out = Vec::new();
    to_tensor_into(img, pre, &mut out);
    out
}

/// [`to_tensor`] into `out`, replacing its contents and reusing its capacity; the resize runs
/// in kept scratch memory ([`resize::rgb_scratch`]).
pub fn to_tensor_into(img: &DynamicImage, pre: &ImagePreprocess, out: &mut Vec<f32>) {
    let converted;
    let rgb: &RgbImage = match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => {
            converted = other.to_rgb8();
            &converted
        }
    };
    resize::rgb_scratch(rgb, pre.width, pre.height, |raw| {
        if pre.color == Color::Rgb {
            normalise::rgb_planes_into(raw, pre, out);
        } else {
            // A weighted sum of three samples: no table; no bundled detector reads gray.
            out.clear();
            out.extend(raw.chunks_exact(3).map(|px| {
                let luma =
                    0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]);
                (luma - pre.mean) / pre.std
            }));
        }
    });
}

/// Turns one image's raw detector outputs into faces in original pixels, most confident first.
/// `scores` is `[anchors, 2]` (background, face), `boxes` `[anchors, 4]` normalised corners.
pub fn postprocess(
    scores: &[f32],
    boxes: &[f32],
    settings: &DetectorSettings,
    width: u32,
    height: u32,
) -> Vec<Detection> {
    let (wf, hf) = (width as f32, height as f32);
    let mut candidates: Vec<Detection> = scores
        .chunks_exact(2)
        .zip(boxes.chunks_exact(4))
        .filter(|(s, _)| s[1] > settings.score_threshold)
        .map(|(s, b)| {
            let x1 = (b[0] * wf).clamp(0.0, wf);
            let y1 = (b[1] * hf).clamp(0.0, hf);
            let x2 = (b[2] * wf).clamp(0.0, wf);
            let y2 = (b[3] * hf).clamp(0.0, hf);
            Detection {
                bbox: BoundingBox {
                    x: x1,
                    y: y1,
                    w: x2 - x1,
                    h: y2 - y1,
                },
                score: s[1],
            }
        })
        .filter(|d| d.bbox.w >= 1.0 && d.bbox.h >= 1.0)
        .collect();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        if kept
            .iter()
            .all(|k| k.bbox.iou(&c.bbox) <= settings.iou_threshold)
        {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DetectorSettings {
        DetectorSettings {
            scores_output: "scores".into(),
            boxes_output: "boxes".into(),
            score_threshold: 0.7,
            iou_threshold: 0.3,
        }
    }

    #[test]
    fn overlapping_boxes_collapse_to_the_most_confident() {
        let scores = [0.1, 0.9, 0.2, 0.8, 0.05, 0.95, 0.5, 0.5];
        let boxes = [
            0.10, 0.10, 0.30, 0.30, // face A
            0.11, 0.11, 0.31, 0.31, // A again, less confident
            0.60, 0.60, 0.80, 0.80, // face B
            0.40, 0.40, 0.50, 0.50, // under threshold
        ];
        let faces = postprocess(&scores, &boxes, &settings(), 1000, 500);
        assert_eq!(faces.len(), 2);
        assert!((faces[0].score - 0.95).abs() < 1e-6);
        assert!((faces[0].bbox.x - 600.0).abs() < 1e-3 && (faces[0].bbox.h - 100.0).abs() < 1e-3);
        assert!((faces[1].bbox.w - 200.0).abs() < 1e-3);
    }

    #[test]
    fn iou_of_disjoint_and_identical_boxes() {
        let a = BoundingBox {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        let b = BoundingBox {
            x: 20.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        assert_eq!(a.iou(&b), 0.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
    }
}
