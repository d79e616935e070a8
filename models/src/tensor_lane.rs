//! A [`Batcher`] for models with one fixed-shape `f32` input and `f32` outputs (the face detector,
//! the face-emotion classifier, fixed-window voice models): items are concatenated along the batch
//! dimension into a reused buffer, run once, and each output is split back per item. Models whose
//! manifest names an attention mask (Hugging Face audio classifiers) also get an `i64` mask built
//! from each item's [`TensorItem::valid_len`].
//!
//! On CUDA every batch is padded with zero items to the lane's `max_batch`, so a session only
//! ever sees one input shape, run once at start. Measured on an H200 (ONNX Runtime 1.31.1, cuDNN 9,
//! docs/performance.md): each *change* of input shape cost a convolution model 0.05-2.4 s, even
//! back to a shape already run and with the heuristic algorithm search, because the CUDA
//! provider's convolutions rebuild their cuDNN execution plans whenever their input shape differs
//! from the last one. Batches of varying size (or padded to powers of two) stalled the face lanes
//! for seconds under load; one shape per session never does. The padding is cheap on a GPU: a
//! batch of 16 detector inputs takes 3 ms against 1.2 ms for one.

use crate::lane::{Batcher, Lane, LaneConfig};
use crate::manifest::Manifest;
use crate::{Device, ModelError, Runtime};
use ort::session::Session;
use ort::value::TensorRef;
use std::marker::PhantomData;
use std::time::Duration;

/// One item of a [`TensorBatcher`]: the values of the data input, and how many of them are real
/// (the rest is padding, masked out for models with an attention-mask input).
pub trait TensorItem: Send + 'static {
    /// The item's values, flattened.
    fn values(&self) -> &[f32];
    /// Leading values that are real rather than padding.
    fn valid_len(&self) -> usize {
        self.values().len()
    }
}

impl TensorItem for Vec<f32> {
    fn values(&self) -> &[f32] {
        self
    }
}

/// Per-lane overrides of the manifests' batching defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOverrides {
    /// Most items per run, for every lane.
    pub max_batch: Option<usize>,
    /// Longest wait for a batch to fill, for every lane.
    pub max_delay: Option<Duration>,
}

/// A batch-dimension-first `f32` model whose items are `I`.
pub struct TensorBatcher<I = Vec<f32>> {
    model: String,
    session: Session,
    input: String,
    mask: Option<String>,
    mask_buffer: Vec<i64>,
    item_shape: Vec<usize>,
    item_len: usize,
    outputs: Vec<(String, usize)>,
    buffer: Vec<f32>,
    /// Whether the session runs on CUDA, where every batch is padded to `fixed_rows`.
    cuda: bool,
    /// Rows of every CUDA batch (the lane's `max_batch`, set by [`TensorBatcher::warm_up`]).
    fixed_rows: Option<usize>,
    item: PhantomData<fn(I)>,
}

/// One item's outputs, in manifest order, each flattened.
pub type TensorOutputs = Vec<Vec<f32>>;

impl<I: TensorItem> TensorBatcher<I> {
    /// Loads the model of `manifest` on the runtime's device.
    pub fn load(runtime: &Runtime, manifest: &Manifest) -> Result<(Self, Device), ModelError> {
        let (session, device) =
            runtime.session(&manifest.name, &manifest.model_path(), manifest.cuda)?;
        let input = manifest.main_input();
        let item_shape: Vec<usize> = input
            .shape
            .iter()
            .skip(1)
            .map(|&d| usize::try_from(d))
            .collect::<Result<_, _>>()
            .map_err(|_| ModelError::Manifest {
                path: manifest.dir.display().to_string(),
                message: format!(
                    "input {} must have fixed dimensions after the batch",
                    input.name
                ),
            })?;
        let batcher = TensorBatcher {
            model: manifest.name.clone(),
            session,
            input: input.name.clone(),
            mask: manifest.mask_input().map(str::to_owned),
            mask_buffer: Vec::new(),
            item_len: item_shape.iter().product(),
            item_shape,
            outputs: manifest
                .outputs
                .iter()
                .map(|o| (o.name.clone(), o.item_len()))
                .collect(),
            buffer: Vec::new(),
            cuda: device == Device::Cuda,
            fixed_rows: None,
            item: PhantomData,
        };
        Ok((batcher, device))
    }

    /// Elements one item must have.
    pub fn item_len(&self) -> usize {
        self.item_len
    }

    /// On CUDA, fixes every batch at `max_batch` rows and runs that shape once, so no request
    /// pays for its first run. Nothing on CPU, where a batch runs at its own size.
    pub fn warm_up(&mut self, max_batch: usize) -> Result<(), ModelError> {
        if !self.cuda {
            return Ok(());
        }
        self.fixed_rows = Some(max_batch.max(1));
        self.buffer.clear();
        self.mask_buffer.clear();
        self.execute(0)?;
        Ok(())
    }

    /// Runs the batch of `n` real items already in the buffers (padded to the fixed rows on
    /// CUDA) and splits the outputs of the real items.
    fn execute(&mut self, n: usize) -> Result<Vec<TensorOutputs>, ModelError> {
        let rows = self.fixed_rows.map_or(n, |fixed| fixed.max(n));
        self.buffer.resize(rows * self.item_len, 0.0);
        if self.mask.is_some() {
            self.mask_buffer.resize(rows * self.item_len, 0);
        }
        let mut shape = Vec::with_capacity(self.item_shape.len() + 1);
        shape.push(rows);
        shape.extend_from_slice(&self.item_shape);
        let model = &self.model;
        let tensor = TensorRef::from_array_view((shape.clone(), &self.buffer[..]))
            .map_err(|e| ModelError::ort(model, "build input", e))?;
        let mut inputs = ort::inputs![self.input.as_str() => tensor];
        if let Some(mask) = &self.mask {
            let tensor = TensorRef::from_array_view((shape, &self.mask_buffer[..]))
                .map_err(|e| ModelError::ort(model, "build mask", e))?;
            inputs.extend(ort::inputs![mask.as_str() => tensor]);
        }
        let out = self
            .session
            .run(inputs)
            .map_err(|e| ModelError::ort(model, "run", e))?;
        let mut per_item: Vec<TensorOutputs> = (0..n)
            .map(|_| Vec::with_capacity(self.outputs.len()))
            .collect();
        for (name, len) in &self.outputs {
            let (_, data) = out[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| ModelError::ort(model, "read output", e))?;
            if data.len() != rows * len {
                return Err(ModelError::Ort {
                    model: model.clone(),
                    operation: "read output",
                    message: format!(
                        "output {name} has {} values, expected {}",
                        data.len(),
                        rows * len
                    ),
                });
            }
            for (i, chunk) in data.chunks_exact(*len).take(n).enumerate() {
                per_item[i].push(chunk.to_vec());
            }
        }
        Ok(per_item)
    }
}

impl<I: TensorItem> Batcher for TensorBatcher<I> {
    type Item = I;
    type Output = TensorOutputs;

    fn run(&mut self, items: &[I]) -> Result<Vec<TensorOutputs>, ModelError> {
        let n = items.len();
        self.buffer.clear();
        self.mask_buffer.clear();
        for item in items {
            let values = item.values();
            if values.len() != self.item_len {
                return Err(ModelError::Ort {
                    model: self.model.clone(),
                    operation: "assemble batch",
                    message: format!(
                        "item has {} values, expected {}",
                        values.len(),
                        self.item_len
                    ),
                });
            }
            self.buffer.extend_from_slice(values);
            if self.mask.is_some() {
                let valid = item.valid_len().min(self.item_len);
                self.mask_buffer
                    .extend((0..self.item_len).map(|i| i64::from(i < valid)));
            }
        }
        self.execute(n)
    }
}

/// Loads the model (one session per replica, [`Runtime::replicas`]) and starts its lane with the
/// manifest's batching defaults for its device, overridden by `max_batch` /
/// `max_delay` when given.
pub fn spawn_tensor_lane<I: TensorItem>(
    runtime: &Runtime,
    manifest: &Manifest,
    max_batch: Option<usize>,
    max_delay: Option<Duration>,
) -> Result<(Lane<TensorBatcher<I>>, Device), ModelError> {
    let (mut batchers, device) = load_replicas(runtime, || TensorBatcher::load(runtime, manifest))?;
    let max_batch = max_batch
        .unwrap_or(manifest.batching.max_batch_on(device))
        .max(1);
    for batcher in &mut batchers {
        batcher.warm_up(max_batch)?;
    }
    let config = LaneConfig {
        name: manifest.name.clone(),
        max_batch,
        max_delay: max_delay.unwrap_or_else(|| manifest.batching.max_delay_on(device)),
        capacity: max_batch * 16,
        max_batch_cost: None,
        sort_by_cost: false,
    };
    let lane = Lane::spawn_replicas(batchers, config).map_err(|e| ModelError::LaneStopped {
        lane: format!("{} (thread spawn failed: {e})", manifest.name),
    })?;
    Ok((lane, device))
}

/// Loads [`Runtime::replicas`] batchers for the device the first one got.
pub(crate) fn load_replicas<B>(
    runtime: &Runtime,
    load: impl Fn() -> Result<(B, Device), ModelError>,
) -> Result<(Vec<B>, Device), ModelError> {
    let (first, device) = load()?;
    let mut batchers = vec![first];
    while batchers.len() < runtime.replicas(device) {
        batchers.push(load()?.0);
    }
    Ok((batchers, device))
}
