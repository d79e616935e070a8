//! Recycled input buffers for a lane whose items are large: the face detector's is 921 KB of
//! `f32` per image (320x240x3). An item gives its buffer back to the pool when the lane drops
//! it, and the next image is written into memory that is already mapped. A fresh allocation of
//! that size often gets pages the kernel must fault in and zero first (docs/performance.md,
//! page faults: ~57 per face1 job on a 2-core VM, several microseconds each).
//!
//! The pool keeps at most `keep` buffers; more in flight at once are allocated and freed as
//! usual, so it holds at most `keep` x item size while idle.

use crate::tensor_lane::TensorItem;
use std::sync::{Arc, Mutex, PoisonError};

/// Buffers waiting for their next item.
#[derive(Debug)]
pub struct TensorPool {
    free: Mutex<Vec<Vec<f32>>>,
    keep: usize,
}

impl TensorPool {
    /// A pool that keeps up to `keep` buffers.
    pub fn new(keep: usize) -> Arc<TensorPool> {
        Arc::new(TensorPool {
            free: Mutex::new(Vec::with_capacity(keep)),
            keep,
        })
    }

    /// An empty item whose buffer has the capacity of an earlier one, when one is free.
    pub fn take(self: &Arc<Self>) -> PooledTensor {
        let values = self.lock().pop().unwrap_or_default();
        PooledTensor {
            values,
            pool: Arc::clone(self),
        }
    }

    /// Buffers waiting now.
    pub fn free(&self) -> usize {
        self.lock().len()
    }

    fn give(&self, mut values: Vec<f32>) {
        values.clear();
        let mut free = self.lock();
        if free.len() < self.keep && values.capacity() > 0 {
            free.push(values);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<f32>>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A lane item whose buffer returns to its [`TensorPool`] when dropped.
#[derive(Debug)]
pub struct PooledTensor {
    values: Vec<f32>,
    pool: Arc<TensorPool>,
}

impl PooledTensor {
    /// The buffer, to fill (it starts empty).
    pub fn values_mut(&mut self) -> &mut Vec<f32> {
        &mut self.values
    }
}

impl TensorItem for PooledTensor {
    fn values(&self) -> &[f32] {
        &self.values
    }
}

impl Drop for PooledTensor {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_item_lends_its_memory_to_the_next_and_the_pool_keeps_at_most_keep() {
        let pool = TensorPool::new(2);
        let mut first = pool.take();
        first.values_mut().extend_from_slice(&[1.0; 1000]);
        let address = first.values().as_ptr();
        drop(first);
        assert_eq!(pool.free(), 1);

        let mut second = pool.take();
        assert!(second.values().is_empty(), "a reused buffer starts empty");
        second.values_mut().extend_from_slice(&[2.0; 1000]);
        assert_eq!(
            second.values().as_ptr(),
            address,
            "the same memory, not a new block"
        );
        assert_eq!(pool.free(), 0);

        let items: Vec<PooledTensor> = (0..3)
            .map(|_| {
                let mut item = pool.take();
                item.values_mut().push(0.0);
                item
            })
            .collect();
        drop(items);
        drop(second);
        assert_eq!(pool.free(), 2, "buffers beyond keep are freed");
    }

    #[test]
    fn an_item_never_filled_gives_nothing_back() {
        let pool = TensorPool::new(4);
        drop(pool.take());
        assert_eq!(pool.free(), 0);
    }
}
