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
//!
//! With one shape per session, a CUDA lane can also run from fixed device buffers and replay a
//! captured CUDA graph ([`crate::bound_run`], `--cuda-graph`, on by default); a model the graph
//! cannot capture falls back to plain runs, with a warning.

use crate::bound_run::{BoundRun, BoundShape, WARM_RUNS};
use crate::lane::{Batcher, Lane, LaneConfig};
use crate::manifest::Manifest;
use crate::{Device, ModelError, Runtime};
use ort::session::Session;
use ort::value::TensorRef;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// Each output's dimensions after the batch, as the manifest declares them.
    output_dims: Vec<Vec<i64>>,
    buffer: Vec<f32>,
    /// Whether the session runs on CUDA, where every batch is padded to `fixed_rows`.
    cuda: bool,
    /// Rows of every CUDA batch (the lane's `max_batch`, set by [`TensorBatcher::fix_rows`]).
    fixed_rows: Option<usize>,
    /// Where to build a CUDA graph session from at warm-up (CUDA with `--cuda-graph` only).
    graph_source: Option<(Runtime, PathBuf)>,
    /// The fixed buffers of a CUDA graph session, once warmed up.
    bound: Option<BoundRun>,
    /// Rows of the bound input that hold a real item from the last batch (zeroed when unused).
    dirty_rows: usize,
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
            output_dims: manifest
                .outputs
                .iter()
                .map(|o| o.shape.iter().skip(1).copied().collect())
                .collect(),
            buffer: Vec::new(),
            cuda: device == Device::Cuda,
            fixed_rows: None,
            graph_source: (device == Device::Cuda && runtime.cuda_graph())
                .then(|| (runtime.clone(), manifest.model_path())),
            bound: None,
            dirty_rows: 0,
            item: PhantomData,
        };
        Ok((batcher, device))
    }

    /// Elements one item must have.
    pub fn item_len(&self) -> usize {
        self.item_len
    }

    /// On CUDA, fixes every batch at `max_batch` rows; [`Batcher::prepare`] then runs that shape
    /// once (or captures its CUDA graph) on the lane's thread, so no request pays for its first
    /// run. Nothing on CPU, where a batch runs at its own size.
    pub fn fix_rows(&mut self, max_batch: usize) {
        if self.cuda {
            self.fixed_rows = Some(max_batch.max(1));
        }
    }

    /// The warm-up of [`TensorBatcher::fix_rows`]: a CUDA graph captured when asked for and
    /// possible, else one plain run of the fixed shape.
    fn warm_up(&mut self) -> Result<(), ModelError> {
        if self.fixed_rows.is_none() {
            return Ok(());
        }
        if let Some((runtime, path)) = self.graph_source.take() {
            match self.capture_graph(&runtime, &path) {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(
                    model = %self.model,
                    error = %e,
                    "CUDA graph unavailable for this model: plain runs"
                ),
            }
        }
        self.buffer.clear();
        self.mask_buffer.clear();
        self.execute(0)?;
        Ok(())
    }

    /// Builds a CUDA graph session with fixed buffers for the fixed rows and runs it until its
    /// graph is captured and replayed once; on success it replaces the plain session.
    fn capture_graph(
        &mut self,
        runtime: &Runtime,
        path: &std::path::Path,
    ) -> Result<(), ModelError> {
        let rows = self.fixed_rows.unwrap_or(1);
        let mut session = runtime.graph_session(&self.model, path)?;
        let mut shape = vec![rows];
        shape.extend_from_slice(&self.item_shape);
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for ((name, _), dims) in self.outputs.iter().zip(&self.output_dims) {
            let mut shape = vec![rows];
            for &d in dims {
                shape.push(usize::try_from(d).map_err(|_| {
                    ModelError::ort(
                        &self.model,
                        "bind CUDA buffers",
                        format!("output {name} has a dynamic dimension"),
                    )
                })?);
            }
            outputs.push((name.as_str(), shape));
        }
        let io = BoundShape {
            input: &self.input,
            mask: self.mask.as_deref(),
            shape: &shape,
            outputs,
        };
        let mut bound = BoundRun::new(&session, &io)
            .map_err(|e| ModelError::ort(&self.model, "bind CUDA buffers", e))?;
        for _ in 0..WARM_RUNS {
            bound.run(&mut session).map_err(|(step, e)| {
                ModelError::ort(&self.model, "capture CUDA graph", format!("{step}: {e}"))
            })?;
        }
        self.session = session;
        self.bound = Some(bound);
        tracing::info!(model = %self.model, rows, "CUDA graph captured");
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
        let mut per_item = empty_outputs(n, self.outputs.len());
        for (name, len) in &self.outputs {
            let (_, data) = out[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| ModelError::ort(model, "read output", e))?;
            split_rows(&mut per_item, model, name, data, rows, *len)?;
        }
        Ok(per_item)
    }

    /// Runs `items` through the bound CUDA graph session: each item written into its row of the
    /// host input, rows that held an item last time and none now zeroed.
    fn run_bound(&mut self, items: &[I]) -> Result<Vec<TensorOutputs>, ModelError> {
        let (n, len, model) = (items.len(), self.item_len, &self.model);
        let rows = self.fixed_rows.unwrap_or(n);
        if n > rows {
            return Err(ModelError::ort(
                model,
                "assemble batch",
                format!("{n} items for a batch of {rows} rows"),
            ));
        }
        let Some(bound) = self.bound.as_mut() else {
            return Err(ModelError::ort(model, "run", "no bound CUDA buffers"));
        };
        let started = Instant::now();
        let stale = n * len..self.dirty_rows.max(n) * len;
        let input = bound
            .input_mut()
            .map_err(|e| ModelError::ort(model, "build input", e))?;
        for (row, item) in input.chunks_exact_mut(len).zip(items) {
            row.copy_from_slice(item.values());
        }
        input[stale.clone()].fill(0.0);
        if let Some(mask) = bound
            .mask_mut()
            .map_err(|e| ModelError::ort(model, "build mask", e))?
        {
            for (row, item) in mask.chunks_exact_mut(len).zip(items) {
                let valid = item.valid_len().min(len);
                row[..valid].fill(1);
                row[valid..].fill(0);
            }
            mask[stale].fill(0);
        }
        self.dirty_rows = n;
        let gathered = started.elapsed();
        let times = bound
            .run(&mut self.session)
            .map_err(|(step, e)| ModelError::ort(model, "run", format!("{step}: {e}")))?;
        let split_started = Instant::now();
        let mut per_item = empty_outputs(n, self.outputs.len());
        for (i, (name, len)) in self.outputs.iter().enumerate() {
            let data = bound
                .output(i)
                .map_err(|e| ModelError::ort(model, "read output", e))?;
            split_rows(&mut per_item, model, name, data, rows, *len)?;
        }
        // Where a bound run's time goes (SOYL_LOG=soyl_models::tensor_lane=trace).
        tracing::trace!(
            lane = %model,
            items = n,
            gather_us = gathered.as_micros() as u64,
            upload_us = times.upload.as_micros() as u64,
            run_us = times.run.as_micros() as u64,
            download_us = times.download.as_micros() as u64,
            split_us = split_started.elapsed().as_micros() as u64,
            "bound run"
        );
        Ok(per_item)
    }
}

/// Room for `n` items' outputs.
fn empty_outputs(n: usize, outputs: usize) -> Vec<TensorOutputs> {
    (0..n).map(|_| Vec::with_capacity(outputs)).collect()
}

/// Appends each real item's row of output `name` (`rows` rows of `len` values in `data`).
fn split_rows(
    per_item: &mut [TensorOutputs],
    model: &str,
    name: &str,
    data: &[f32],
    rows: usize,
    len: usize,
) -> Result<(), ModelError> {
    if data.len() != rows * len {
        return Err(ModelError::ort(
            model,
            "read output",
            format!(
                "output {name} has {} values, expected {}",
                data.len(),
                rows * len
            ),
        ));
    }
    for (item, chunk) in per_item.iter_mut().zip(data.chunks_exact(len)) {
        item.push(chunk.to_vec());
    }
    Ok(())
}

impl<I: TensorItem> Batcher for TensorBatcher<I> {
    type Item = I;
    type Output = TensorOutputs;

    fn prepare(&mut self) -> Result<(), ModelError> {
        self.warm_up()
    }

    fn run(&mut self, items: &[I]) -> Result<Vec<TensorOutputs>, ModelError> {
        let n = items.len();
        if let Some(item) = items.iter().find(|i| i.values().len() != self.item_len) {
            return Err(ModelError::Ort {
                model: self.model.clone(),
                operation: "assemble batch",
                message: format!(
                    "item has {} values, expected {}",
                    item.values().len(),
                    self.item_len
                ),
            });
        }
        if self.bound.is_some() {
            return self.run_bound(items);
        }
        self.buffer.clear();
        self.mask_buffer.clear();
        for item in items {
            let values = item.values();
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
        batcher.fix_rows(max_batch);
    }
    let config = LaneConfig {
        name: manifest.name.clone(),
        max_batch,
        max_delay: max_delay.unwrap_or_else(|| manifest.batching.max_delay_on(device)),
        capacity: max_batch * 16,
        max_batch_cost: None,
        sort_by_cost: false,
    };
    let lane = Lane::spawn_replicas(batchers, config)?;
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
