//! Face crops for the expression model: the detected box cut from the grayscale image, made
//! square around its centre (the classifier was trained on square face crops), resized to the
//! model input and normalised.

use super::detect::BoundingBox;
use super::resize::{self, Region};
use crate::manifest::ImagePreprocess;
use image::GrayImage;

/// Crops `bbox` (squared, clamped to the image) from `gray` and returns the model input tensor.
pub fn to_tensor(gray: &GrayImage, bbox: &BoundingBox, pre: &ImagePreprocess) -> Vec<f32> {
    let (iw, ih) = (gray.width() as f32, gray.height() as f32);
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
    let face = resize::gray_region(gray, region, pre.width, pre.height);
    face.pixels()
        .map(|p| (f32::from(p[0]) - pre.mean) / pre.std)
        .collect()
}
