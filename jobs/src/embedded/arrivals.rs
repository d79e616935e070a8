//! What this process knows about arrivals on one embedded queue: the wake-up that ends long
//! polls when a message is sent here, and the last look that found the queue empty.
//!
//! A worker's receive round looks at the interactive queue, then the bulk queue, then long-polls
//! the interactive queue, which looks once more before it waits: three database calls that find
//! nothing for every job that arrives, each a trip to the one database thread that every submit
//! and result also waits for. [`Arrivals::recently_empty`] lets a look skip the database while
//! nothing can have arrived since the last empty one: no message was sent or released here
//! (each bumps an epoch) and the look is younger than the long polls' own poll interval.
//! Messages that other processes send, and messages whose visibility timeout lapses, are found
//! within that interval, as a long poll already finds them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The arrivals of one queue, shared by every handle on it in this process.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// Rung when a message becomes visible here (a send, a release without delay).
    wake: Notify,
    /// Bumped before every ring: a look that read an older epoch may have missed a message.
    epoch: AtomicU64,
    /// The epoch read before the last look that left nothing behind, and when that look started.
    empty: Mutex<Option<(u64, Instant)>>,
}

/// Taken before a look at the queue; [`Arrivals::found_empty`] records it when nothing was there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Look {
    epoch: u64,
    started: Instant,
}

impl Arrivals {
    /// A message became visible: ends the long polls waiting here, and the empty look with them.
    pub(crate) fn arrived(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_waiters();
    }

    /// A future that resolves at the next [`Arrivals::arrived`]; enable it before looking.
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Starts a look. Read before the database call, so an arrival committed after the epoch was
    /// read (and so possibly after the look's query) changes the epoch and voids the look.
    pub(crate) fn look(&self) -> Look {
        Look {
            epoch: self.epoch.load(Ordering::Acquire),
            started: Instant::now(),
        }
    }

    /// Records that `look` left the queue empty (it found nothing, or took all it found).
    pub(crate) fn found_empty(&self, look: Look) {
        let mut empty = self.empty.lock().unwrap_or_else(PoisonError::into_inner);
        if empty.is_none_or(|(_, started)| started <= look.started) {
            *empty = Some((look.epoch, look.started));
        }
    }

    /// True when a look that left the queue empty started less than `fresh` ago and nothing has
    /// arrived in this process since it started.
    pub(crate) fn recently_empty(&self, fresh: Duration) -> bool {
        let epoch = self.epoch.load(Ordering::Acquire);
        let empty = *self.empty.lock().unwrap_or_else(PoisonError::into_inner);
        empty.is_some_and(|(seen, started)| seen == epoch && started.elapsed() < fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH: Duration = Duration::from_secs(60);

    #[test]
    fn an_empty_look_holds_until_something_arrives() {
        let arrivals = Arrivals::default();
        assert!(!arrivals.recently_empty(FRESH), "nothing looked yet");
        arrivals.found_empty(arrivals.look());
        assert!(arrivals.recently_empty(FRESH));
        arrivals.arrived();
        assert!(!arrivals.recently_empty(FRESH));
    }

    #[test]
    fn an_arrival_during_a_look_voids_it() {
        let arrivals = Arrivals::default();
        let look = arrivals.look();
        arrivals.arrived();
        arrivals.found_empty(look);
        assert!(!arrivals.recently_empty(FRESH));
    }

    #[test]
    fn an_empty_look_goes_stale() {
        let arrivals = Arrivals::default();
        arrivals.found_empty(arrivals.look());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!arrivals.recently_empty(Duration::from_millis(10)));
        assert!(arrivals.recently_empty(FRESH));
    }

    #[test]
    fn an_older_look_does_not_replace_a_newer_one() {
        let arrivals = Arrivals::default();
        let old = arrivals.look();
        arrivals.arrived();
        arrivals.found_empty(arrivals.look());
        arrivals.found_empty(old);
        assert!(arrivals.recently_empty(FRESH), "the newer look stands");
    }
}
