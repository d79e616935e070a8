//! Permits for a fixed number of threads, handed out interactive first: whenever a thread frees
//! up, a waiting interactive step gets it before any waiting bulk step, and each class is served
//! in arrival order. Used by [`crate::Preprocess`], so that a backlog of bulk jobs (a reprocess of
//! thousands of photos) keeps the cores busy without interactive jobs queueing behind its decodes.
//!
//! Cancel-safe: a waiter dropped before or after it was granted a permit gives it back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// The pool. Cheap to clone; clones share the permits.
#[derive(Debug, Clone)]
pub(crate) struct PriorityPermits {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    free: usize,
    /// Waiters by class: interactive, then bulk.
    waiting: [VecDeque<oneshot::Sender<()>>; 2],
}

/// One permit; dropping it frees its thread for the next waiter.
#[derive(Debug)]
pub(crate) struct Permit {
    pool: PriorityPermits,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pool.release();
    }
}

/// A wait for a permit. Dropped unfinished (its future cancelled), it gives back a permit that
/// was granted in the meantime.
struct Waiter {
    pool: PriorityPermits,
    granted: oneshot::Receiver<()>,
    done: bool,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // After `close`, no grant can arrive; one that arrived before is taken here and returned.
        self.granted.close();
        if self.granted.try_recv().is_ok() {
            self.pool.release();
        }
    }
}

impl PriorityPermits {
    /// A pool of `permits` permits.
    pub fn new(permits: usize) -> Self {
        PriorityPermits {
            state: Arc::new(Mutex::new(State {
                free: permits,
                waiting: [VecDeque::new(), VecDeque::new()],
            })),
        }
    }

    /// Waits for a permit: ahead of every bulk waiter when `interactive`, behind every
    /// interactive one otherwise.
    pub async fn acquire(&self, interactive: bool) -> Permit {
        let granted = {
            let mut state = self.lock();
            let class = usize::from(!interactive);
            let ahead = state.waiting[0].len()
                + if interactive {
                    0
                } else {
                    state.waiting[1].len()
                };
            if state.free > 0 && ahead == 0 {
                state.free -= 1;
                return Permit { pool: self.clone() };
            }
            let (grant, granted) = oneshot::channel();
            state.waiting[class].push_back(grant);
            granted
        };
        let mut waiter = Waiter {
            pool: self.clone(),
            granted,
            done: false,
        };
        // The sender lives in the queue until it grants, so it is never dropped unsent.
        let _ = (&mut waiter.granted).await;
        waiter.done = true;
        Permit { pool: self.clone() }
    }

    /// Hands a freed permit to the first live waiter, interactive first, or keeps it.
    fn release(&self) {
        let mut state = self.lock();
        loop {
            let next = match state.waiting[0].pop_front() {
                Some(grant) => Some(grant),
                None => state.waiting[1].pop_front(),
            };
            match next {
                // A waiter that was dropped refuses the grant: offer it to the next.
                Some(grant) => {
                    if grant.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    state.free += 1;
                    return;
                }
            }
        }
    }

    /// Permits free now.
    #[cfg(test)]
    fn free(&self) -> usize {
        self.lock().free
    }

    /// The state, taking over a poisoned lock (no code panics while holding it).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_freed_permit_goes_to_interactive_waiters_before_earlier_bulk_ones() {
        let pool = PriorityPermits::new(1);
        let held = pool.acquire(false).await;
        // Waiters 0 and 1 are bulk, 2 is interactive, 3 is bulk: all queue behind the held one.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, interactive) in [false, false, true, false].into_iter().enumerate() {
            let (pool, order) = (pool.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = pool.acquire(interactive).await;
                order.lock().unwrap().push(i);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody runs while the permit is held"
        );
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![2, 0, 1, 3]);
        assert_eq!(pool.free(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_never_keeps_a_permit() {
        let pool = PriorityPermits::new(1);
        let held = pool.acquire(true).await;
        // Queued, then cancelled before the permit frees.
        let cancelled = tokio::time::timeout(Duration::from_millis(10), pool.acquire(true)).await;
        assert!(cancelled.is_err());
        drop(held);
        assert_eq!(
            pool.free(),
            1,
            "the freed permit skipped the cancelled waiter"
        );

        // Granted, then dropped before it was polled again.
        let held = pool.acquire(false).await;
        let mut waiting = Box::pin(pool.acquire(false));
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        drop(held); // grants the waiting future
        drop(waiting); // which is dropped before it ran
        assert_eq!(pool.free(), 1, "the granted permit came back");
        let _again = pool.acquire(true).await;
        assert_eq!(pool.free(), 0);
    }

    #[tokio::test]
    async fn free_permits_are_taken_without_waiting_while_nobody_queues() {
        let pool = PriorityPermits::new(2);
        let a = pool.acquire(false).await;
        let b = pool.acquire(true).await;
        assert_eq!(pool.free(), 0);
        drop((a, b));
        assert_eq!(pool.free(), 2);
    }

    /// Polls `future` once; `Some` when it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
