//! The lane thread's waiting room: which waiting items go into the next batch.
//!
//! Interactive items go before bulk ones. A batch holds at most `max_batch` items and, when the
//! lane has a cost budget (`max_batch_cost`, e.g. a token budget for text), at most that much
//! *padded* cost: `items x the largest item's cost`, which is what a batch padded to its longest
//! member really costs (the rule TEI applies to padded models). Costs default to 1, so a lane
//! without a budget behaves exactly as a plain `max_batch` lane.
//!
//! With `sort_by_cost`, each class is ordered by cost before a batch is cut from it, so items of
//! similar length share a batch and padding shrinks. To keep that from starving long items under
//! steady load, every batch is cut around the class's *oldest* item: the oldest waiting item always
//! runs in the next batch of its class, joined by its neighbours in cost order, grown greedily on
//! the side that adds less padding. Used only by [`super::LaneThread`].

use std::collections::VecDeque;
use std::time::Instant;

/// What the backlog needs to know about a waiting item.
pub(super) trait Waiting {
    /// The item's cost (tokens for text, 1 elsewhere).
    fn cost(&self) -> u64;
    /// When it was submitted.
    fn enqueued(&self) -> Instant;
}

/// How a batch is cut from the backlog.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    /// Most items per batch.
    pub max_batch: usize,
    /// Most padded cost per batch, if any.
    pub max_cost: Option<u64>,
    /// Order each class by cost and cut around its oldest item.
    pub sort_by_cost: bool,
}

/// The batch being filled, and whether one more item still fits.
struct Budget {
    cut: Cut,
    items: usize,
    largest: u64,
}

impl Budget {
    fn fits(&self, cost: u64) -> bool {
        if self.items >= self.cut.max_batch {
            return false;
        }
        // The first item always fits: a single item over the budget still has to run, alone.
        if self.items == 0 {
            return true;
        }
        let padded = self.largest.max(cost).saturating_mul(self.items as u64 + 1);
        self.cut.max_cost.is_none_or(|max| padded <= max)
    }
    fn add(&mut self, cost: u64) {
        self.items += 1;
        self.largest = self.largest.max(cost);
    }
}

/// Waiting items, interactive before bulk.
pub(super) struct Backlog<R> {
    interactive: VecDeque<R>,
    bulk: VecDeque<R>,
    /// Sum of the waiting items' costs.
    cost: u64,
}

impl<R> Default for Backlog<R> {
    fn default() -> Self {
        Backlog {
            interactive: VecDeque::new(),
            bulk: VecDeque::new(),
            cost: 0,
        }
    }
}

impl<R: Waiting> Backlog<R> {
    /// Adds an item to its class.
    pub fn push(&mut self, item: R, interactive: bool) {
        self.cost = self.cost.saturating_add(item.cost());
        if interactive {
            self.interactive.push_back(item);
        } else {
            self.bulk.push_back(item);
        }
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.interactive.len() + self.bulk.len()
    }

    /// True when what waits already fills a batch, so waiting for more would not grow it. By
    /// cost this is a lower bound (the sum of costs, not the padded cost), so it never cuts a
    /// wait short wrongly.
    pub fn fills(&self, cut: Cut) -> bool {
        self.len() >= cut.max_batch || cut.max_cost.is_some_and(|max| self.cost >= max)
    }

    /// When the oldest waiting item was submitted (classes may be sorted by cost, so scan).
    pub fn oldest(&self) -> Option<Instant> {
        self.interactive
            .iter()
            .chain(&self.bulk)
            .map(Waiting::enqueued)
            .min()
    }

    /// Cuts the next batch: interactive items first, then bulk ones while the budget allows.
    pub fn take(&mut self, cut: Cut) -> Vec<R> {
        let mut budget = Budget {
            cut,
            items: 0,
            largest: 0,
        };
        let mut batch = take_from(&mut self.interactive, &mut budget);
        batch.extend(take_from(&mut self.bulk, &mut budget));
        let taken: u64 = batch.iter().map(Waiting::cost).sum();
        self.cost = self.cost.saturating_sub(taken);
        batch
    }
}

fn take_from<R: Waiting>(queue: &mut VecDeque<R>, budget: &mut Budget) -> Vec<R> {
    if !budget.cut.sort_by_cost {
        // First come, first served: stop at the first item that does not fit rather than let
        // later items overtake it.
        let mut n = 0;
        while n < queue.len() && budget.fits(queue[n].cost()) {
            budget.add(queue[n].cost());
            n += 1;
        }
        return queue.drain(..n).collect();
    }
    // Stable sort: equal costs keep their arrival order.
    queue.make_contiguous().sort_by_key(Waiting::cost);
    let Some(anchor) = (0..queue.len()).min_by_key(|&i| queue[i].enqueued()) else {
        return Vec::new();
    };
    if !budget.fits(queue[anchor].cost()) {
        return Vec::new();
    }
    budget.add(queue[anchor].cost());
    let (mut lo, mut hi) = (anchor, anchor + 1);
    // Grow the run in cost order by whichever neighbour adds less padding: a cheaper item pads
    // itself up to the current longest; a dearer one pads every item already in.
    loop {
        let left = (lo > 0 && budget.fits(queue[lo - 1].cost()))
            .then(|| budget.largest.saturating_sub(queue[lo - 1].cost()));
        let right = (hi < queue.len() && budget.fits(queue[hi].cost())).then(|| {
            queue[hi]
                .cost()
                .saturating_sub(budget.largest)
                .saturating_mul(budget.items as u64)
        });
        let take_left = match (left, right) {
            (Some(l), Some(r)) => l <= r,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_left {
            lo -= 1;
            budget.add(queue[lo].cost());
        } else {
            budget.add(queue[hi].cost());
            hi += 1;
        }
    }
    queue.drain(lo..hi).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Debug, PartialEq)]
    struct Item(u64, u32);

    impl Waiting for Item {
        fn cost(&self) -> u64 {
            self.0
        }
        fn enqueued(&self) -> Instant {
            // The second field orders arrival; a fixed base keeps the test deterministic.
            BASE.with(|b| *b + Duration::from_millis(u64::from(self.1)))
        }
    }

    thread_local! {
        static BASE: Instant = Instant::now();
    }

    fn backlog(costs: &[u64]) -> Backlog<Item> {
        let mut b = Backlog::default();
        for (i, &c) in costs.iter().enumerate() {
            b.push(Item(c, i as u32), false);
        }
        b
    }

    fn costs(batch: &[Item]) -> Vec<u64> {
        batch.iter().map(|i| i.0).collect()
    }

    const PLAIN: Cut = Cut {
        max_batch: 3,
        max_cost: None,
        sort_by_cost: false,
    };

    #[test]
    fn without_a_budget_batches_are_max_batch_in_arrival_order() {
        let mut b = backlog(&[9, 1, 5, 2]);
        assert_eq!(costs(&b.take(PLAIN)), [9, 1, 5]);
        assert_eq!(costs(&b.take(PLAIN)), [2]);
    }

    #[test]
    fn interactive_items_go_first() {
        let mut b = backlog(&[1, 1]);
        b.push(Item(7, 9), true);
        assert_eq!(costs(&b.take(PLAIN)), [7, 1, 1]);
    }

    #[test]
    fn the_budget_counts_padding_to_the_longest_item() {
        let cut = Cut {
            max_batch: 10,
            max_cost: Some(20),
            ..PLAIN
        };
        // 4 + 4 = 8, then 10 x 3 = 30 > 20: the third item waits.
        let mut b = backlog(&[4, 4, 10, 1]);
        assert_eq!(costs(&b.take(cut)), [4, 4]);
        assert_eq!(costs(&b.take(cut)), [10, 1]);
    }

    #[test]
    fn a_backlog_fills_a_batch_by_count_or_by_cost() {
        let cut = Cut {
            max_batch: 3,
            max_cost: Some(10),
            sort_by_cost: false,
        };
        assert!(!backlog(&[4, 5]).fills(cut));
        assert!(backlog(&[1, 1, 1]).fills(cut));
        let mut b = backlog(&[4, 6]);
        assert!(b.fills(cut));
        b.take(cut);
        assert!(!b.fills(cut));
    }

    #[test]
    fn an_item_over_the_budget_runs_alone() {
        let cut = Cut {
            max_batch: 10,
            max_cost: Some(5),
            ..PLAIN
        };
        let mut b = backlog(&[50, 1]);
        assert_eq!(costs(&b.take(cut)), [50]);
    }

    #[test]
    fn sorting_groups_similar_costs_around_the_oldest_item() {
        let cut = Cut {
            max_batch: 2,
            max_cost: None,
            sort_by_cost: true,
        };
        let mut b = backlog(&[9, 1, 8, 2]);
        // Oldest is 9; its nearest neighbour in cost order is 8.
        assert_eq!(costs(&b.take(cut)), [8, 9]);
        assert_eq!(costs(&b.take(cut)), [1, 2]);
    }

    #[test]
    fn sorting_grows_the_batch_on_the_side_that_pads_less() {
        let cut = Cut {
            max_batch: 3,
            max_cost: None,
            sort_by_cost: true,
        };
        // Sorted: 2 10 11 30; oldest is 10. Adding 2 pads 8, adding 11 pads 1 (x1), then
        // adding 2 pads 9 and adding 30 pads 19 x 2.
        let mut b = backlog(&[10, 30, 2, 11]);
        assert_eq!(costs(&b.take(cut)), [2, 10, 11]);
    }

    #[test]
    fn sorting_never_starves_the_oldest_item() {
        let cut = Cut {
            max_batch: 1,
            max_cost: None,
            sort_by_cost: true,
        };
        let mut b = backlog(&[100]);
        for i in 1..5 {
            b.push(Item(1, i), false);
        }
        assert_eq!(costs(&b.take(cut)), [100]);
    }
}
