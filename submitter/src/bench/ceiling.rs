//! The ceiling: raw ONNX Runtime session throughput of every model in the repository at growing
//! batch sizes, with synthetic inputs copied from host memory on each call (as the lanes do), no
//! queue, no HTTP, no preprocessing. What end-to-end figures are measured against.

use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use soyl_models::manifest::{Manifest, Task};
use soyl_models::{Device, Repository, Runtime};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// One model at one batch size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CeilingRow {
    /// Model name.
    pub model: String,
    /// Device the session ran on.
    pub device: Device,
    /// Sessions run at once, each on its own thread (CPU: one session on every core, then one
    /// per replica, as the lanes run them).
    pub sessions: usize,
    /// Items per call.
    pub batch: usize,
    /// Items per second.
    pub items_per_s: f64,
}

/// Measures every model at each of `batches` (and 256, 1024 on CUDA, where batching pays most)
/// for about `budget` per point. A model stops growing its batch once one call takes more than
/// half the budget (the voice model on CPU).
pub fn measure(
    runtime: &Runtime,
    repo: &Repository,
    batches: &[usize],
    budget: Duration,
) -> anyhow::Result<Vec<CeilingRow>> {
    let mut rows = Vec::new();
    for manifest in repo.models() {
        let path = manifest.model_path();
        let (mut session, device) = runtime.session(&manifest.name, &path, manifest.cuda)?;
        let gpu_batches: &[usize] = if device == Device::Cuda {
            &[256, 1024]
        } else {
            // One session with ONNX Runtime's default threads (every core).
            session = runtime.cpu_session(&manifest.name, &path, 0)?;
            &[]
        };
        for &batch in batches.iter().chain(gpu_batches) {
            let (items_per_s, per_call) = time_batch(&mut session, manifest, batch, budget)?;
            rows.push(CeilingRow {
                model: manifest.name.clone(),
                device,
                sessions: 1,
                batch,
                items_per_s,
            });
            if per_call > budget / 2 {
                break;
            }
        }
        let replicas = runtime.replicas(device);
        if device == Device::Cpu && replicas > 1 {
            for &batch in batches {
                let (items_per_s, per_call) =
                    time_replicas(runtime, manifest, replicas, batch, budget)?;
                rows.push(CeilingRow {
                    model: manifest.name.clone(),
                    device,
                    sessions: replicas,
                    batch,
                    items_per_s,
                });
                if per_call > budget / 2 {
                    break;
                }
            }
        }
    }
    Ok(rows)
}

/// `replicas` CPU sessions of the cores shared out among them, each timed on its own thread at
/// once: items/s of all of them together, and the slowest one's time per call.
fn time_replicas(
    runtime: &Runtime,
    manifest: &Manifest,
    replicas: usize,
    batch: usize,
    budget: Duration,
) -> anyhow::Result<(f64, Duration)> {
    let threads = (soyl_models::runtime::cores() / replicas).max(1);
    let timings: Vec<anyhow::Result<(f64, Duration)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..replicas)
            .map(|_| {
                scope.spawn(move || {
                    let mut session =
                        runtime.cpu_session(&manifest.name, &manifest.model_path(), threads)?;
                    time_batch(&mut session, manifest, batch, budget)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a replica panicked")))
            })
            .collect()
    });
    let mut total = 0.0;
    let mut slowest = Duration::ZERO;
    for timing in timings {
        let (items_per_s, per_call) = timing?;
        total += items_per_s;
        slowest = slowest.max(per_call);
    }
    Ok((total, slowest))
}

/// The best items/s of `model` over its measured batch sizes.
pub fn best(rows: &[CeilingRow], model: &str) -> Option<f64> {
    best_row(rows, model).map(|r| r.items_per_s)
}

/// The row of `model` with the most items/s.
pub fn best_row<'a>(rows: &'a [CeilingRow], model: &str) -> Option<&'a CeilingRow> {
    rows.iter()
        .filter(|r| r.model == model)
        .max_by(|a, b| a.items_per_s.total_cmp(&b.items_per_s))
}

/// `row`'s model measured again the way `row` was (sessions at once, batch, device): items/s.
pub fn remeasure(
    runtime: &Runtime,
    repo: &Repository,
    row: &CeilingRow,
    budget: Duration,
) -> anyhow::Result<f64> {
    let manifest = repo
        .models()
        .iter()
        .find(|m| m.name == row.model)
        .ok_or_else(|| anyhow::anyhow!("model {} is not in the repository", row.model))?;
    if row.sessions > 1 {
        return Ok(time_replicas(runtime, manifest, row.sessions, row.batch, budget)?.0);
    }
    let path = manifest.model_path();
    let mut session = match row.device {
        Device::Cuda => runtime.session(&manifest.name, &path, manifest.cuda)?.0,
        Device::Cpu => runtime.cpu_session(&manifest.name, &path, 0)?,
    };
    Ok(time_batch(&mut session, manifest, row.batch, budget)?.0)
}

/// Synthetic input data of one tensor: token ids for text models, bounded noise otherwise.
enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

fn inputs_for(manifest: &Manifest, batch: usize) -> Vec<(String, Vec<usize>, Data)> {
    // Variable dimensions after the batch are sequence lengths: use the text model's maximum.
    let seq = manifest.text.as_ref().map_or(128, |t| t.max_length);
    manifest
        .inputs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = std::iter::once(batch)
                .chain(
                    spec.shape
                        .iter()
                        .skip(1)
                        .map(|&d| usize::try_from(d).unwrap_or(seq)),
                )
                .collect();
            let len = shape.iter().product();
            let data = if manifest.task == Task::TextSentiment {
                // Ids of ordinary vocabulary entries; the mask input gets 1s the same way.
                Data::I64((0..len).map(|i| 1 + (i % 97) as i64).collect())
            } else {
                Data::F32(
                    (0..len)
                        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                        .collect(),
                )
            };
            (spec.name.clone(), shape, data)
        })
        .collect()
}

/// Items/s at `batch`, and the time of one call.
fn time_batch(
    session: &mut Session,
    manifest: &Manifest,
    batch: usize,
    budget: Duration,
) -> anyhow::Result<(f64, Duration)> {
    let data = inputs_for(manifest, batch);
    let mut call = || -> anyhow::Result<()> {
        let mut inputs: Vec<(Cow<str>, SessionInputValue)> = Vec::with_capacity(data.len());
        for (name, shape, values) in &data {
            let value = match values {
                Data::F32(v) => {
                    SessionInputValue::from(TensorRef::from_array_view((shape.clone(), &v[..]))?)
                }
                Data::I64(v) => {
                    SessionInputValue::from(TensorRef::from_array_view((shape.clone(), &v[..]))?)
                }
            };
            inputs.push((name.as_str().into(), value));
        }
        session.run(inputs)?;
        Ok(())
    };
    call()?; // warm-up: first-run allocations and kernel selection
    let started = Instant::now();
    let mut calls = 0u32;
    while calls < 2 || started.elapsed() < budget {
        call()?;
        calls += 1;
    }
    let elapsed = started.elapsed();
    Ok((
        (batch as f64 * f64::from(calls)) / elapsed.as_secs_f64(),
        elapsed / calls,
    ))
}
