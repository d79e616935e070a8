//! Each CPU preprocessing stage alone, on this thread only (items/s per core): JPEG decode, the
//! detector's resize+normalise, the grayscale copy and face crops, audio decode+resample of a 5 s
//! clip, and tokenization of short texts. The same library functions the pipelines call.
//!
//! The face pipeline's whole CPU share (decode, detector input, one face crop) is also run on
//! every core at once: cores share caches and memory bandwidth (and, on a VM, often a physical
//! core), so one core's rate times the cores overstates what they do together. That row is
//! what the pipeline-efficiency ceiling uses.

use super::workloads::{Payload, Workload};
use soyl_models::face::{crop, detect};
use soyl_models::image_input::{self, ImageLimits};
use soyl_models::manifest::Task;
use soyl_models::text::tokenize::TextTokenizer;
use soyl_models::voice::{decode, resample, AudioLimits};
use soyl_models::Repository;
use std::time::{Duration, Instant};

/// One stage on one workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRow {
    /// Workload the input comes from.
    pub workload: String,
    /// What was timed.
    pub stage: String,
    /// Threads that ran it at once, one per core.
    pub threads: usize,
    /// Items per second, over all of those threads.
    pub items_per_s: f64,
}

/// Times every stage that applies to each workload for about `budget` each; the face pipeline's
/// CPU share also on `cores` threads at once.
pub fn measure(
    repo: &Repository,
    workloads: &[Workload],
    budget: Duration,
    cores: usize,
) -> anyhow::Result<Vec<StageRow>> {
    let mut rows = Vec::new();
    for w in workloads {
        let Some(first) = w.payloads.first() else {
            continue;
        };
        let mut rows_of = |stage: &str, threads: usize, items_per_s: f64| {
            rows.push(StageRow {
                workload: w.name.to_owned(),
                stage: stage.to_owned(),
                threads,
                items_per_s,
            })
        };
        let mut row = |stage: &str, items_per_s: f64| rows_of(stage, 1, items_per_s);
        match (first, w.name) {
            (Payload::File { bytes, .. }, "face1" | "face6" | "gallery") => {
                for (stage, rate) in image_stages(repo, bytes, budget)? {
                    row(stage, rate);
                }
                if let Some(rate) = face_share_on_all_cores(repo, bytes, budget, cores)? {
                    rows_of(super::targets::FACE_CPU_STAGE, cores, rate);
                }
            }
            (Payload::File { bytes, .. }, "voice") => {
                let rate = repo
                    .for_task(Task::VoiceEmotion)
                    .map_or(44_100, |m| m.audio().sample_rate);
                row(
                    "audio decode + resample",
                    per_second(budget, || {
                        let d = decode::decode(bytes, &AudioLimits::default())?;
                        resample::resample(d.samples, d.sample_rate, rate)
                    })?,
                );
            }
            (Payload::Text(_), _) => {
                let Some(manifest) = repo.for_task(Task::TextSentiment) else {
                    continue;
                };
                let tokenizer = TextTokenizer::load(manifest)?;
                let texts: Vec<&str> = w
                    .payloads
                    .iter()
                    .filter_map(|p| match p {
                        Payload::Text(t) => Some(t.as_str()),
                        Payload::File { .. } => None,
                    })
                    .collect();
                let mut i = 0usize;
                row(
                    "tokenize",
                    per_second(budget, || {
                        i += 1;
                        tokenizer.chunks(texts[i % texts.len()])
                    })?,
                );
            }
            _ => {}
        }
    }
    Ok(rows)
}

/// The face pipeline's CPU stages on one encoded image, one at a time, then all together.
fn image_stages(
    repo: &Repository,
    bytes: &[u8],
    budget: Duration,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let (Some(det), Some(emo)) = (
        repo.for_task(Task::FaceDetection),
        repo.for_task(Task::FaceEmotion),
    ) else {
        return Ok(Vec::new());
    };
    let limits = ImageLimits::default();
    let img = image_input::decode(bytes, &limits)?;
    let face = centre_face(&img);
    Ok(vec![
        (
            "jpeg decode",
            per_second(budget, || image_input::decode(bytes, &limits))?,
        ),
        (
            "detector resize + normalise",
            per_second(budget, || {
                Ok::<_, std::convert::Infallible>(detect::to_tensor(&img, det.image()))
            })?,
        ),
        (
            super::targets::CROP_STAGE,
            per_second(budget, || {
                Ok::<_, std::convert::Infallible>(crop::to_tensor(&img, &face, emo.image()))
            })?,
        ),
        (
            super::targets::IMAGE_STAGE,
            per_second(budget, || {
                let img = image_input::decode(bytes, &limits)?;
                Ok::<_, soyl_models::InputError>(detect::to_tensor(&img, det.image()))
            })?,
        ),
    ])
}

/// Decode, detector input and one face crop of `bytes`, on `cores` threads at once: items/s in
/// all. None without the face models.
pub(super) fn face_share_on_all_cores(
    repo: &Repository,
    bytes: &[u8],
    budget: Duration,
    cores: usize,
) -> anyhow::Result<Option<f64>> {
    let (Some(det), Some(emo)) = (
        repo.for_task(Task::FaceDetection),
        repo.for_task(Task::FaceEmotion),
    ) else {
        return Ok(None);
    };
    let limits = ImageLimits::default();
    let one = || {
        let img = image_input::decode(bytes, &limits)?;
        let input = detect::to_tensor(&img, det.image());
        let face = centre_face(&img);
        Ok::<_, soyl_models::InputError>((input, crop::to_tensor(&img, &face, emo.image())))
    };
    let rates = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores.max(1))
            .map(|_| scope.spawn(|| per_second(budget, one)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a stage thread panicked"))
            .collect::<anyhow::Result<Vec<f64>>>()
    })?;
    Ok(Some(rates.iter().sum()))
}

/// A face-sized box in the middle of `img`, standing in for a detection.
fn centre_face(img: &image::DynamicImage) -> detect::BoundingBox {
    detect::BoundingBox {
        x: img.width() as f32 * 0.3,
        y: img.height() as f32 * 0.2,
        w: img.width() as f32 * 0.3,
        h: img.height() as f32 * 0.4,
    }
}

/// Calls `f` repeatedly for about `budget` (at least 3 times) and returns calls per second.
fn per_second<T, E: std::error::Error + Send + Sync + 'static>(
    budget: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<f64> {
    std::hint::black_box(f()?); // warm-up
    let started = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || started.elapsed() < budget {
        std::hint::black_box(f()?);
        calls += 1;
    }
    Ok(f64::from(calls) / started.elapsed().as_secs_f64())
}
