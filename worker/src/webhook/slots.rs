//! How many webhook requests run at once: at most `total` across all hosts and at most
//! `per_host` to any one host, so that one slow or dead endpoint (a bulk batch of thousands of
//! jobs with a callback that times out) cannot hold every slot while other tenants' webhooks
//! wait. A delivery holds a slot for one attempt only, never while it waits to retry
//! ([`super::Deliverer::deliver`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits and the hosts with requests in flight or waiting.
#[derive(Debug, Clone)]
pub struct Slots {
    total: Arc<Semaphore>,
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// The right to send one request to one host; frees both slots when dropped.
#[derive(Debug)]
pub struct Slot {
    total: Option<OwnedSemaphorePermit>,
    host: Option<OwnedSemaphorePermit>,
    name: String,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Slots {
    /// At most `total` requests at once, `per_host` of them to one host (both at least 1).
    pub fn new(total: usize, per_host: usize) -> Self {
        Slots {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_host: per_host.max(1),
            hosts: Arc::default(),
        }
    }

    /// Waits for a slot for `host`: first the host's own (so that requests waiting on a busy
    /// host hold none of the shared ones), then a shared one.
    pub async fn acquire(&self, host: &str) -> Slot {
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        // Neither semaphore is ever closed.
        let host_permit = semaphore.acquire_owned().await.ok();
        let total = self.total.clone().acquire_owned().await.ok();
        Slot {
            total,
            host: host_permit,
            name: host.to_owned(),
            hosts: self.hosts.clone(),
        }
    }

    /// Hosts currently tracked (with a request in flight or waiting).
    pub fn hosts_tracked(&self) -> usize {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.total.take();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        self.host.take();
        // Forget a host nobody else holds or waits on (the map's own handle is the last).
        if hosts
            .get(&self.name)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            hosts.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn acquired_within(slots: &Slots, host: &str, ms: u64) -> Option<Slot> {
        tokio::time::timeout(Duration::from_millis(ms), slots.acquire(host))
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_busy_host_waits_while_other_hosts_go_and_is_forgotten_when_idle() {
        let slots = Slots::new(4, 2);
        let a1 = slots.acquire("a.example").await;
        let a2 = slots.acquire("a.example").await;
        assert!(
            acquired_within(&slots, "a.example", 50).await.is_none(),
            "a third request to one host waits"
        );
        let b = acquired_within(&slots, "b.example", 50).await;
        assert!(b.is_some(), "another host is not held up");
        drop(a1);
        let a3 = acquired_within(&slots, "a.example", 50).await;
        assert!(a3.is_some(), "a freed slot goes to the host's next request");
        drop((a2, a3, b));
        assert_eq!(slots.hosts_tracked(), 0, "idle hosts are forgotten");
    }

    #[tokio::test]
    async fn the_total_caps_requests_across_hosts() {
        let slots = Slots::new(2, 2);
        let _a = slots.acquire("a.example").await;
        let _b = slots.acquire("b.example").await;
        assert!(acquired_within(&slots, "c.example", 50).await.is_none());
    }
}
