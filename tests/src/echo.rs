//! A queue wrapper that delivers each message to two consumers at once, as an at-least-once queue
//! may: [`pair`] gives two views of one real queue; a first delivery received through either view
//! is also handed, same body and receipt, to the next receive of the other view. Later deliveries
//! (redeliveries) are not echoed. Used by the duplicate-delivery tests.

use async_trait::async_trait;
use soyl_jobs::{Delivery, JobQueue, QueueMessage, Receipt, Result};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a view waiting on the real queue looks for an echoed delivery.
const LOOK_EVERY: Duration = Duration::from_millis(20);

type Mailbox = Arc<Mutex<Vec<(usize, Delivery)>>>;

/// One consumer's view of the queue.
pub struct Echo {
    inner: Arc<dyn JobQueue>,
    me: usize,
    mailbox: Mailbox,
}

/// Two views of `inner` that echo first deliveries to each other.
pub fn pair(inner: Arc<dyn JobQueue>) -> (Echo, Echo) {
    let mailbox = Mailbox::default();
    let view = |me| Echo {
        inner: inner.clone(),
        me,
        mailbox: mailbox.clone(),
    };
    (view(0), view(1))
}

impl Echo {
    /// Takes up to `max` deliveries the other view echoed.
    fn echoed(&self, max: usize) -> Vec<Delivery> {
        let mut mailbox = self.mailbox.lock().expect("mailbox lock");
        let mut taken = Vec::new();
        mailbox.retain(|(from, delivery)| {
            if *from != self.me && taken.len() < max {
                taken.push(delivery.clone());
                false
            } else {
                true
            }
        });
        taken
    }
}

#[async_trait]
impl JobQueue for Echo {
    async fn send(&self, message: &QueueMessage) -> Result<()> {
        self.inner.send(message).await
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = Instant::now() + wait;
        loop {
            let echoed = self.echoed(max);
            if !echoed.is_empty() {
                return Ok(echoed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let got = self.inner.receive(max, left.min(LOOK_EVERY)).await?;
            if !got.is_empty() || left.is_zero() {
                let mut mailbox = self.mailbox.lock().expect("mailbox lock");
                for delivery in got.iter().filter(|d| d.receive_count == 1) {
                    mailbox.push((self.me, delivery.clone()));
                }
                return Ok(got);
            }
        }
    }
    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        self.inner.ack(receipt).await
    }
    async fn extend(&self, receipt: &Receipt, by: Duration) -> Result<()> {
        self.inner.extend(receipt, by).await
    }
    async fn release(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        self.inner.release(receipt, delay).await
    }
    async fn depth(&self) -> Result<u64> {
        self.inner.depth().await
    }
}
