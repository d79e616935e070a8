//! A [`Batcher`] for models with one fixed-shape `f32` input and `f32` outputs (the face detector,
//! the face-emotion classifier, fixed-window voice models): items are concatenated along the batch
//! dimension into a reused buffer, run once, and each output is split back per item.

use crate::lane::{Batcher, Lane, LaneConfig};
use crate::manifest::Manifest;
use crate::{Device, ModelError, Runtime};
use ort::session::Session;
use ort::value::TensorRef;
use std::time::Duration;

/// A batch-dimension-first `f32` model.
pub struct TensorBatcher {
    model: String,
    session: Session,
    input: String,
    item_shape: Vec<usize>,
    item_len: usize,
    outputs: Vec<(String, usize)>,
    buffer: Vec<f32>,
}

/// One item's outputs, in manifest order, each flattened.
pub type TensorOutputs = Vec<Vec<f32>>;

impl TensorBatcher {
    /// Loads the model of `manifest` on the runtime's device.
    pub fn load(runtime: &Runtime, manifest: &Manifest) -> Result<(Self, Device), ModelError> {
        let (session, device) = runtime.session(&manifest.name, &manifest.model_path())?;
        let input = &manifest.inputs[0];
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
            item_len: item_shape.iter().product(),
            item_shape,
            outputs: manifest
                .outputs
                .iter()
                .map(|o| (o.name.clone(), o.item_len()))
                .collect(),
            buffer: Vec::new(),
        };
        Ok((batcher, device))
    }

    /// Elements one item must have.
    pub fn item_len(&self) -> usize {
        self.item_len
    }
}

impl Batcher for TensorBatcher {
    type Item = Vec<f32>;
    type Output = TensorOutputs;

    fn run(&mut self, items: &[Vec<f32>]) -> Result<Vec<TensorOutputs>, ModelError> {
        let n = items.len();
        self.buffer.clear();
        for item in items {
            if item.len() != self.item_len {
                return Err(ModelError::Ort {
                    model: self.model.clone(),
                    operation: "assemble batch",
                    message: format!("item has {} values, expected {}", item.len(), self.item_len),
                });
            }
            self.buffer.extend_from_slice(item);
        }
        let mut shape = Vec::with_capacity(self.item_shape.len() + 1);
        shape.push(n);
        shape.extend_from_slice(&self.item_shape);
        let model = &self.model;
        let tensor = TensorRef::from_array_view((shape, &self.buffer[..]))
            .map_err(|e| ModelError::ort(model, "build input", e))?;
        let out = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| ModelError::ort(model, "run", e))?;
        let mut per_item: Vec<TensorOutputs> = (0..n)
            .map(|_| Vec::with_capacity(self.outputs.len()))
            .collect();
        for (name, len) in &self.outputs {
            let (_, data) = out[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| ModelError::ort(model, "read output", e))?;
            if data.len() != n * len {
                return Err(ModelError::Ort {
                    model: model.clone(),
                    operation: "read output",
                    message: format!(
                        "output {name} has {} values, expected {}",
                        data.len(),
                        n * len
                    ),
                });
            }
            for (i, chunk) in data.chunks_exact(*len).enumerate() {
                per_item[i].push(chunk.to_vec());
            }
        }
        Ok(per_item)
    }
}

/// Loads the model and starts its lane with the manifest's batching defaults, overridden by
/// `max_batch` / `max_delay` when given.
pub fn spawn_tensor_lane(
    runtime: &Runtime,
    manifest: &Manifest,
    max_batch: Option<usize>,
    max_delay: Option<Duration>,
) -> Result<(Lane<TensorBatcher>, Device), ModelError> {
    let (batcher, device) = TensorBatcher::load(runtime, manifest)?;
    let max_batch = max_batch.unwrap_or(manifest.batching.max_batch).max(1);
    let config = LaneConfig {
        name: manifest.name.clone(),
        max_batch,
        max_delay: max_delay.unwrap_or(Duration::from_millis(manifest.batching.max_delay_ms)),
        capacity: max_batch * 16,
        max_batch_cost: None,
        sort_by_cost: false,
    };
    let lane = Lane::spawn(batcher, config).map_err(|e| ModelError::LaneStopped {
        lane: format!("{} (thread spawn failed: {e})", manifest.name),
    })?;
    Ok((lane, device))
}
