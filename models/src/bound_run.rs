//! A CUDA session run from fixed buffers through ONNX Runtime's I/O binding, so the session can
//! replay a captured CUDA graph instead of launching each kernel from the lane thread.
//!
//! Every bound input and output is a pair: a host buffer, which the lane writes batches into and
//! reads results from, and a device buffer bound to the session once. A run copies the host inputs
//! to their device twins, runs the session on the bound device buffers, and copies the device
//! outputs back. The device addresses never change, which is what a CUDA graph needs (ONNX Runtime
//! captures the kernels of one run and replays them on later runs with the same addresses).
//!
//! The host buffers are ordinary CPU memory, not page-locked: with pinned host buffers the copies
//! failed on ONNX Runtime 1.31.1 (`GPUDataTransfer::CopyTensorAsync`: `dst_data != src_data`, its
//! host-side same-buffer check, onnxruntime issue 29713), measured on an H200.
//!
//! Only for sessions whose input shape never changes: tensor lanes on CUDA pad every batch to
//! their `max_batch` ([`crate::tensor_lane`]).

use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session};
use ort::value::{PrimitiveTensorElementType, Tensor};
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How long the steps of one [`BoundRun::run`] took, for the lane's trace log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunTimes {
    /// Host inputs copied to the device.
    pub upload: Duration,
    /// The session run (a graph replay once captured), device to device. The call may return
    /// before the device has finished; the download then waits for it.
    pub run: Duration,
    /// Device outputs copied back to the host, with any wait for the run to finish.
    pub download: Duration,
}

/// Runs of a CUDA graph that ONNX Runtime needs before it replays: a regular run that allocates,
/// the run that captures, and one replay to check it.
pub(crate) const WARM_RUNS: usize = 3;

/// A host buffer and its device twin.
struct Staged<T: PrimitiveTensorElementType + Debug> {
    host: Tensor<T>,
    device: Tensor<T>,
}

impl<T: PrimitiveTensorElementType + Debug> Staged<T> {
    fn new(host: &Allocator, device: &Allocator, shape: &[usize]) -> ort::Result<Self> {
        Ok(Staged {
            host: Tensor::new(host, shape.to_vec())?,
            device: Tensor::new(device, shape.to_vec())?,
        })
    }

    fn upload(&mut self) -> ort::Result<()> {
        self.host.copy_into(&mut self.device)
    }

    fn download(&mut self) -> ort::Result<()> {
        self.device.copy_into(&mut self.host)
    }
}

/// The shapes and names of one bound session.
pub(crate) struct BoundShape<'a> {
    /// The data input's name.
    pub input: &'a str,
    /// The attention mask input's name, when the model has one (same shape as the data input).
    pub mask: Option<&'a str>,
    /// Shape of the data input, batch first.
    pub shape: &'a [usize],
    /// Each output's name and shape, batch first.
    pub outputs: Vec<(&'a str, Vec<usize>)>,
}

/// A session's inputs and outputs bound to fixed device buffers, with host twins.
pub(crate) struct BoundRun {
    binding: IoBinding,
    input: Staged<f32>,
    mask: Option<Staged<i64>>,
    outputs: Vec<Staged<f32>>,
}

impl BoundRun {
    /// Allocates the buffers on the session's CUDA device and binds them.
    pub fn new(session: &Session, io: &BoundShape<'_>) -> ort::Result<BoundRun> {
        let host = Allocator::default();
        let device = Allocator::new(
            session,
            MemoryInfo::new(
                AllocationDevice::CUDA,
                0,
                AllocatorType::Device,
                MemoryType::Default,
            )?,
        )?;
        let input = Staged::new(&host, &device, io.shape)?;
        let mask = match io.mask {
            Some(_) => Some(Staged::new(&host, &device, io.shape)?),
            None => None,
        };
        let outputs = io
            .outputs
            .iter()
            .map(|(_, shape)| Staged::new(&host, &device, shape))
            .collect::<ort::Result<Vec<_>>>()?;
        let mut binding = session.create_binding()?;
        binding.bind_input(io.input, &input.device)?;
        if let (Some(name), Some(staged)) = (io.mask, &mask) {
            binding.bind_input(name, &staged.device)?;
        }
        let mut run = BoundRun {
            binding,
            input,
            mask,
            outputs: Vec::new(),
        };
        for ((name, _), mut staged) in io.outputs.iter().zip(outputs) {
            run.binding.bind_output(*name, &mut staged.device)?;
            run.outputs.push(staged);
        }
        Ok(run)
    }

    /// The data input's host buffer, every row of the fixed batch.
    pub fn input_mut(&mut self) -> ort::Result<&mut [f32]> {
        Ok(self.input.host.try_extract_tensor_mut()?.1)
    }

    /// The mask input's host buffer, when the model has one.
    pub fn mask_mut(&mut self) -> ort::Result<Option<&mut [i64]>> {
        match &mut self.mask {
            Some(staged) => Ok(Some(staged.host.try_extract_tensor_mut()?.1)),
            None => Ok(None),
        }
    }

    /// Copies the inputs to the device, runs the session on them and copies the outputs back;
    /// answers how long each of the three took, or names the step that failed.
    pub fn run(&mut self, session: &mut Session) -> Result<RunTimes, (&'static str, ort::Error)> {
        let started = Instant::now();
        self.input
            .upload()
            .map_err(|e| ("copy input to the device", e))?;
        if let Some(mask) = &mut self.mask {
            mask.upload().map_err(|e| ("copy mask to the device", e))?;
        }
        let uploaded = Instant::now();
        session
            .run_binding(&self.binding)
            .map_err(|e| ("run on bound buffers", e))?;
        let ran = Instant::now();
        for output in &mut self.outputs {
            output
                .download()
                .map_err(|e| ("copy output from the device", e))?;
        }
        Ok(RunTimes {
            upload: uploaded - started,
            run: ran - uploaded,
            download: ran.elapsed(),
        })
    }

    /// Output `i`'s host buffer after [`BoundRun::run`], every row of the fixed batch.
    pub fn output(&self, i: usize) -> ort::Result<&[f32]> {
        Ok(self.outputs[i].host.try_extract_tensor()?.1)
    }
}
