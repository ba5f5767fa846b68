//! The outbound queue of one client: routed frames, ACKs and NOPs, in order, within limits.
//!
//! Senders push without waiting (routing never blocks on a slow client). A push that makes an
//! idle queue non-empty owes a [flush](OutQueue::flush): the sender, once its batch is routed,
//! writes everything queued straight into the client's socket or in-process channel when that
//! takes it without waiting. Whatever is left goes to the one consumer (the socket writer task or
//! the in-process forwarder), which takes everything queued at once and writes it as a batch. One
//! writer at a time, under the queue's lock, keeps the bytes in order.
//!
//! Every item is counted at its memory cost ([`Outgoing::cost`]: its wire bytes plus
//! [`QueueLimits::ITEM_OVERHEAD`]) against the client's [`QueueLimits::max_bytes`] and, through
//! the broker's [`QueueBudget`], against [`BrokerOptions::max_queued_bytes`], from the push until
//! it is written (items a writer has taken count until its batch ends) or dropped. A client
//! that keeps up (at most one large frame queued, over [`KEEPING_UP_BACKLOG`] or half its byte
//! limit, and no more than that behind it in smaller items) is never refused for the byte
//! limits: every frame a listener accepted, whatever its size, reaches it with the ACKs and
//! replies that arrive while it is written. When the broker-wide bound is reached, a client
//! with a larger backlog pays, under its own overflow policy.
//!
//! [`BrokerOptions::max_queued_bytes`]: super::BrokerOptions::max_queued_bytes

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::config::{OverflowPolicy, QueueLimits};
use super::sink::DirectWrite;

mod budget;
mod item;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use budget::QueueBudget;
pub(crate) use item::Outgoing;
use state::QueueState;

/// What happened to a pushed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// Queued.
    Queued,
    /// Queued after dropping older items (policy [`OverflowPolicy::DropOldest`]).
    QueuedDroppingOldest(DroppedOldest),
    /// Not queued: the queue was full (policy [`OverflowPolicy::DropNewest`]).
    Dropped,
    /// Not queued: the queue was full and is now closed; its client must be disconnected
    /// (policy [`OverflowPolicy::Disconnect`]).
    Overflow,
    /// Not queued: the queue was already closed (its client is going away).
    Closed,
    /// Not queued: an in-process client's application dropped its event channel, so nothing
    /// delivered to it would ever be read.
    ReceiverGone,
}

/// The items a drop-oldest push dropped to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DroppedOldest {
    /// Items dropped (keepalive NOPs included).
    pub(crate) items: u64,
    /// What the dropped items had been counted for in `w_frames` and `w_bytes` when queued,
    /// to be taken back: a dropped frame was never written.
    pub(crate) counted_frames: u64,
    pub(crate) counted_bytes: u64,
}

/// What a push asks of its caller besides the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a push that needs a flush must be followed by `OutQueue::flush`"]
pub(crate) struct Pushed {
    pub(crate) outcome: PushOutcome,
    /// The push made the queue non-empty while nobody was writing it: the pusher must call
    /// [`OutQueue::flush`] (at once, or after routing the rest of its batch). Otherwise whoever
    /// is writing, or the flush already owed, takes this item along.
    pub(crate) needs_flush: bool,
}

/// Where a router may put a client's queued items itself, without waking the consumer.
pub(crate) enum DirectSink {
    /// The client's socket.
    Socket(Arc<dyn DirectWrite>),
    /// The event channel of an in-process client.
    Channel(Arc<dyn ChannelSink>),
}

/// The event channel of an in-process client, as its queue sees it (the in-process client
/// turns items into frames, so this module knows nothing of them).
pub(crate) trait ChannelSink: Send + Sync {
    /// How many items the channel takes now without waiting.
    fn room(&self) -> usize;

    /// Hands over one item; called only when there is [room](ChannelSink::room).
    fn put(&self, item: Outgoing);

    /// Whether the client's application dropped its end of the channel: nothing put in it is
    /// ever read again.
    fn receiver_gone(&self) -> bool;
}

/// A bounded multi-producer, single-consumer queue of [`Outgoing`] items.
pub(crate) struct OutQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    limits: QueueLimits,
    /// Items that cost more are large: [`KEEPING_UP_BACKLOG`], or half the byte limit when
    /// that is smaller.
    large_above: usize,
    budget: Arc<QueueBudget>,
}

impl std::fmt::Debug for OutQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutQueue")
            .field("len", &self.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What the consumer got from [`OutQueue::take_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// A batch of items to write, then [`OutQueue::end_batch`].
    Batch,
    /// Nothing: the queue is closed and empty, the consumer's work is done.
    Closed,
}

/// What a client that keeps up may have queued in small items besides one large frame (an
/// ACK, a reply, a few frames that arrived while the large one is written): within it, and
/// with at most one larger item, a client is refused neither for its own byte limit nor for
/// the broker-wide bound.
pub(crate) const KEEPING_UP_BACKLOG: usize = DIRECT_WRITE_MAX;

/// Most bytes a router writes directly at once; a larger backlog is left to the writer task,
/// which can wait for the socket.
const DIRECT_WRITE_MAX: usize = 64 * 1024;

thread_local! {
    /// The bytes of a direct write, reused by every flush on this thread.
    static DIRECT_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl OutQueue {
    /// A queue within `limits`, its items also counted in the broker-wide `budget`.
    pub(crate) fn new(limits: QueueLimits, budget: Arc<QueueBudget>) -> Self {
        OutQueue {
            state: Mutex::new(QueueState::default()),
            wake: Notify::new(),
            large_above: KEEPING_UP_BACKLOG.min(limits.max_bytes / 2),
            limits,
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue inconsistent (every update is
        // a few field writes), so a poisoned lock is still safe to use.
        crate::sync::recover(self.state.lock())
    }

    /// Whether this queue feeds a socket whose peer has already hung up (the session will
    /// notice when it reads that far).
    pub(crate) fn peer_hung_up(&self) -> bool {
        match &self.lock().sink {
            Some(DirectSink::Socket(socket)) => socket.peer_hung_up(),
            _ => false,
        }
    }

    /// Lets routers put items into `sink` directly while the consumer is idle.
    pub(crate) fn set_sink(&self, sink: DirectSink) {
        let mut state = self.lock();
        if !state.closed {
            state.sink = Some(sink);
        }
    }

    /// Pushes an item, applying the overflow policy when it does not fit the queue's limits or
    /// the broker-wide bound. A queue that holds nothing takes the item whatever its size.
    pub(crate) fn push(&self, item: Outgoing) -> Pushed {
        let not_queued = |outcome| Pushed {
            outcome,
            needs_flush: false,
        };
        let cost = item.cost();
        let mut state = self.lock();
        if state.closed {
            return not_queued(PushOutcome::Closed);
        }
        if let Some(DirectSink::Channel(channel)) = &state.sink {
            if channel.receiver_gone() {
                return not_queued(PushOutcome::ReceiverGone);
            }
        }
        let large_above = self.large_above;
        // Within the limits, or a client that keeps up: one large frame (of any size) and a
        // little behind it.
        let fits = |state: &QueueState| {
            let (large, small) = state.with(cost, large_above);
            state.items.is_empty()
                || (state.items.len() < self.limits.max_frames
                    && (state.bytes + cost <= self.limits.max_bytes
                        || (large == 1 && small <= large_above)))
        };
        // The broker-wide bound: the target pays, under its own policy, unless it holds nothing
        // or keeps up. Charged once, only when the item fits its own queue.
        let budget_admits = |state: &QueueState| {
            self.budget.try_charge(cost) || {
                let (large, small) = state.with(cost, large_above);
                let keeps_up = state.items.is_empty() || (large <= 1 && small <= large_above);
                if keeps_up {
                    self.budget.charge(cost);
                }
                keeps_up
            }
        };
        let mut dropped = DroppedOldest::default();
        loop {
            let fits_queue = fits(&state);
            if fits_queue && budget_admits(&state) {
                break;
            }
            match self.limits.overflow {
                OverflowPolicy::Disconnect => {
                    drop(state);
                    self.close();
                    return not_queued(PushOutcome::Overflow);
                }
                OverflowPolicy::DropNewest => return not_queued(PushOutcome::Dropped),
                OverflowPolicy::DropOldest => {
                    if !state.drop_oldest(&self.budget, large_above, &mut dropped) {
                        // Only the rest of a frame being written is left: no room in the queue,
                        // but the broker-wide bound gives way rather than cut the frame.
                        if !fits_queue {
                            return not_queued(PushOutcome::Dropped);
                        }
                        self.budget.charge(cost);
                        break;
                    }
                }
            }
        }
        let needs_flush = state.items.is_empty() && !state.writing;
        state.items.push_back(item);
        state.add(cost, large_above);
        drop(state);
        Pushed {
            outcome: if dropped.items > 0 {
                PushOutcome::QueuedDroppingOldest(dropped)
            } else {
                PushOutcome::Queued
            },
            needs_flush,
        }
    }

    /// Gets the queued items written, owed after a push that [needs a flush](Pushed): writes
    /// them into the client's socket now if nobody is writing and the socket takes them without
    /// waiting; whatever is left is handed to the consumer.
    pub(crate) fn flush(&self) {
        let mut state = self.lock();
        if state.writing || state.items.is_empty() {
            return;
        }
        let socket = match &state.sink {
            Some(DirectSink::Socket(socket)) if state.bytes <= DIRECT_WRITE_MAX => socket.clone(),
            Some(DirectSink::Channel(_)) => {
                state.send_now(&self.budget, self.large_above);
                let more = !state.items.is_empty();
                drop(state);
                if more {
                    self.wake.notify_one();
                }
                return;
            }
            _ => {
                drop(state);
                self.wake.notify_one();
                return;
            }
        };
        state.writing = true;
        DIRECT_BUF.with_borrow_mut(|buf| {
            buf.clear();
            for item in state.items.drain(..) {
                item.encode_into(buf);
            }
            self.budget.release(state.take_counts());
            drop(state);
            let written = write_now(&*socket, buf);
            let mut state = self.lock();
            state.writing = false;
            if written < buf.len() && !state.closed {
                // The socket is full (or broken): the consumer writes the rest, in order, once
                // the socket drains (or meets the error and ends the connection).
                let rest = Outgoing::Rest(Bytes::copy_from_slice(&buf[written..]));
                let cost = rest.cost();
                state.add(cost, self.large_above);
                self.budget.charge(cost);
                state.items.push_front(rest);
            }
            let more = !state.items.is_empty();
            drop(state);
            if more {
                self.wake.notify_one();
            }
        });
    }

    /// Moves every queued item into `out` (which should be empty), waiting until there is one or
    /// the queue closes: [`Taken::Closed`] once the queue is closed and nothing is left.
    /// The consumer then writes the batch and calls [`OutQueue::end_batch`].
    pub(crate) async fn take_all(&self, out: &mut VecDeque<Outgoing>) -> Taken {
        loop {
            {
                let mut state = self.lock();
                if state.closed && state.items.is_empty() {
                    return Taken::Closed;
                }
                if !state.items.is_empty() && !state.writing {
                    std::mem::swap(&mut state.items, out);
                    state.taken = state.take_counts();
                    state.writing = true;
                    return Taken::Batch;
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check above
            // and this await is not lost.
            self.wake.notified().await;
        }
    }

    /// Ends the consumer's batch (written, or given up on): its cost is released and items
    /// pushed meanwhile may be taken again.
    pub(crate) fn end_batch(&self) {
        let mut state = self.lock();
        state.writing = false;
        self.budget.release(std::mem::take(&mut state.taken));
    }

    /// Closes the queue: pushes fail from now on. What was queued stays for the consumer,
    /// which writes it (within its write timeout) and then ends, so a client cut off for a
    /// full queue first gets every frame that was accepted for it.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.sink = None;
        drop(state);
        self.wake.notify_one();
    }

    /// Whether the queue is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Number of items queued now.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// The items queued now and their cost ([`Outgoing::cost`]), as counted against
    /// [`QueueLimits::max_bytes`]; a batch a writer has taken is no longer in either.
    pub(crate) fn depth(&self) -> (usize, usize) {
        let state = self.lock();
        (state.items.len(), state.bytes)
    }
}

impl Drop for OutQueue {
    fn drop(&mut self) {
        // Whatever was never written (a consumer that never ran, or gave up) leaves the
        // broker-wide account with its queue.
        let state = self.lock();
        self.budget.release(state.bytes + state.taken);
    }
}

/// Writes as much of `buf` as `socket` takes without waiting; returns the bytes written.
fn write_now(socket: &dyn DirectWrite, buf: &[u8]) -> usize {
    let mut written = 0;
    while written < buf.len() {
        match socket.try_write(&buf[written..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n,
        }
    }
    written
}
