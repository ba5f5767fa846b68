//! The state of an outbound queue under its lock: the items, what they cost, and who writes.

use std::collections::VecDeque;

use super::budget::QueueBudget;
use super::item::Outgoing;
use super::{DirectSink, DroppedOldest};

#[derive(Default)]
pub(super) struct QueueState {
    pub(super) items: VecDeque<Outgoing>,
    /// The cost ([`Outgoing::cost`]) of `items`.
    pub(super) bytes: usize,
    /// How many of `items` are large (cost above the queue's `large_above`), and the cost of
    /// the others: what tells a client that keeps up (at most one large frame being written
    /// and a little behind it) from one with a backlog.
    pub(super) large: usize,
    pub(super) small: usize,
    /// The cost of the items the consumer has taken and not yet written (its batch).
    pub(super) taken: usize,
    pub(super) closed: bool,
    /// Someone (the consumer, or a router flushing directly) is writing taken items out; nobody
    /// else may take items until it is done, which keeps the bytes in order.
    pub(super) writing: bool,
    /// Where routers may put items directly while the consumer is idle; `None` for streams that
    /// only their writer task may write, and once the queue is closed.
    pub(super) sink: Option<DirectSink>,
}

impl QueueState {
    /// Moves the queued items of an in-process client into its event channel, as many as it
    /// has room for; the consumer (which waits for room) gets the rest. Nobody else sends on
    /// the channel meanwhile: the consumer only sends while it holds a batch (`writing`).
    pub(super) fn send_now(&mut self, budget: &QueueBudget, large_above: usize) {
        let QueueState {
            items,
            bytes,
            large,
            small,
            sink: Some(DirectSink::Channel(channel)),
            ..
        } = self
        else {
            return;
        };
        while channel.room() > 0 {
            let Some(item) = items.pop_front() else {
                break;
            };
            let cost = item.cost();
            *bytes -= cost;
            budget.release(cost);
            if cost > large_above {
                *large -= 1;
            } else {
                *small -= cost;
            }
            channel.put(item);
        }
    }

    /// Counts a queued item of `cost`.
    pub(super) fn add(&mut self, cost: usize, large_above: usize) {
        self.bytes += cost;
        if cost > large_above {
            self.large += 1;
        } else {
            self.small += cost;
        }
    }

    /// Forgets every queued item (taken or written at once).
    pub(super) fn take_counts(&mut self) -> usize {
        self.large = 0;
        self.small = 0;
        std::mem::take(&mut self.bytes)
    }

    /// The large items and the cost of the small ones once an item of `cost` is added.
    pub(super) fn with(&self, cost: usize, large_above: usize) -> (usize, usize) {
        if cost > large_above {
            (self.large + 1, self.small)
        } else {
            (self.large, self.small + cost)
        }
    }

    /// Removes the oldest item that may be dropped (anything but the rest of a frame that is
    /// being written), releasing its cost.
    pub(super) fn drop_oldest(
        &mut self,
        budget: &QueueBudget,
        large_above: usize,
        dropped: &mut DroppedOldest,
    ) -> bool {
        let index = usize::from(matches!(self.items.front(), Some(Outgoing::Rest(_))));
        let Some(old) = self.items.remove(index) else {
            return false;
        };
        let cost = old.cost();
        self.bytes -= cost;
        if cost > large_above {
            self.large -= 1;
        } else {
            self.small -= cost;
        }
        budget.release(cost);
        let (frames, bytes) = old.counted();
        dropped.items += 1;
        dropped.counted_frames += frames;
        dropped.counted_bytes += bytes;
        true
    }
}
