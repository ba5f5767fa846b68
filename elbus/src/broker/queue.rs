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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::config::{OverflowPolicy, QueueLimits};
use super::sink::DirectWrite;
use crate::frame::FrameLayout;
use crate::protocol::{self, DELIVERY_HEADER_LEN};

/// One item of an outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A complete delivered frame (header and body), shared between all its recipients, and
    /// the bytes it was counted for in the `w_bytes` counters (as `busrtd` counts them: the
    /// body of the frame the sender sent), and its layout when the router knew it (an
    /// in-process recipient then reads the frame without parsing it).
    Frame {
        wire: Bytes,
        counted: u32,
        layout: Option<FrameLayout>,
    },
    /// The unwritten rest of a frame a direct write began: it is written before anything else
    /// and never dropped (that would cut a frame in two on the wire), and it was counted with
    /// its frame already.
    Rest(Bytes),
    /// An ACK of the client's own op.
    Ack { op_id: u32, code: u8 },
    /// A keepalive NOP.
    Nop,
}

// The queue slot that `QueueLimits::ITEM_OVERHEAD` counts.
const _: () = assert!(std::mem::size_of::<Outgoing>() <= 48);

impl Outgoing {
    /// A delivered frame of `layout`, counted for `counted` bytes in `w_bytes`.
    pub(crate) fn frame(wire: Bytes, layout: Option<FrameLayout>, counted: usize) -> Self {
        Outgoing::Frame {
            wire,
            counted: u32::try_from(counted).unwrap_or(u32::MAX),
            layout,
        }
    }

    /// What this item costs in memory while queued: counted against the queue's and the
    /// broker-wide byte limits. ACKs and NOPs live in their queue slot; a frame also holds its
    /// buffer and that buffer's allocation and sharing overhead.
    pub(crate) fn cost(&self) -> usize {
        match self {
            Outgoing::Frame { wire, .. } | Outgoing::Rest(wire) => {
                wire.len() + QueueLimits::ITEM_OVERHEAD
            }
            Outgoing::Ack { .. } | Outgoing::Nop => std::mem::size_of::<Outgoing>(),
        }
    }

    /// The frames and bytes this item was counted for in `w_frames` / `w_bytes` when queued
    /// (a NOP is not counted, the rest of a frame was counted with its frame).
    pub(crate) fn counted(&self) -> (u64, u64) {
        match self {
            Outgoing::Frame { counted, .. } => (1, u64::from(*counted)),
            Outgoing::Ack { .. } => (1, DELIVERY_HEADER_LEN as u64),
            Outgoing::Nop | Outgoing::Rest(_) => (0, 0),
        }
    }

    /// Appends the wire bytes of the item to `buf`.
    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            Outgoing::Frame { wire, .. } | Outgoing::Rest(wire) => buf.extend_from_slice(wire),
            Outgoing::Ack { op_id, code } => {
                buf.extend_from_slice(&protocol::ack_frame(*op_id, *code))
            }
            Outgoing::Nop => buf.extend_from_slice(&protocol::NOP_FRAME),
        }
    }
}

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

/// The broker-wide account of queued bytes ([`BrokerOptions::max_queued_bytes`]), shared by
/// every client's queue.
///
/// [`BrokerOptions::max_queued_bytes`]: super::BrokerOptions::max_queued_bytes
#[derive(Debug)]
pub(crate) struct QueueBudget {
    used: AtomicUsize,
    limit: usize,
}

impl QueueBudget {
    pub(crate) fn new(limit: usize) -> Self {
        QueueBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes `bytes` if they fit under the limit.
    fn try_charge(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit (a queue that holds nothing takes one frame).
    fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Bytes queued broker-wide now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
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

#[derive(Default)]
struct QueueState {
    items: VecDeque<Outgoing>,
    /// The cost ([`Outgoing::cost`]) of `items`.
    bytes: usize,
    /// How many of `items` are large (cost above the queue's `large_above`), and the cost of
    /// the others: what tells a client that keeps up (at most one large frame being written
    /// and a little behind it) from one with a backlog.
    large: usize,
    small: usize,
    /// The cost of the items the consumer has taken and not yet written (its batch).
    taken: usize,
    closed: bool,
    /// Someone (the consumer, or a router flushing directly) is writing taken items out; nobody
    /// else may take items until it is done, which keeps the bytes in order.
    writing: bool,
    /// Where routers may put items directly while the consumer is idle; `None` for streams that
    /// only their writer task may write, and once the queue is closed.
    sink: Option<DirectSink>,
}

impl QueueState {
    /// Moves the queued items of an in-process client into its event channel, as many as it
    /// has room for; the consumer (which waits for room) gets the rest. Nobody else sends on
    /// the channel meanwhile: the consumer only sends while it holds a batch (`writing`).
    fn send_now(&mut self, budget: &QueueBudget, large_above: usize) {
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
    fn add(&mut self, cost: usize, large_above: usize) {
        self.bytes += cost;
        if cost > large_above {
            self.large += 1;
        } else {
            self.small += cost;
        }
    }

    /// Forgets every queued item (taken or written at once).
    fn take_counts(&mut self) -> usize {
        self.large = 0;
        self.small = 0;
        std::mem::take(&mut self.bytes)
    }

    /// The large items and the cost of the small ones once an item of `cost` is added.
    fn with(&self, cost: usize, large_above: usize) -> (usize, usize) {
        if cost > large_above {
            (self.large + 1, self.small)
        } else {
            (self.large, self.small + cost)
        }
    }

    /// Removes the oldest item that may be dropped (anything but the rest of a frame that is
    /// being written), releasing its cost.
    fn drop_oldest(
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

/// A batch taken from the queue: its items and whether the queue is closed.
pub(crate) struct Batch {
    pub(crate) closed: bool,
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
        let mut dropped = DroppedOldest::default();
        if !fits(&state) {
            match self.limits.overflow {
                OverflowPolicy::Disconnect => {
                    drop(state);
                    self.close();
                    return not_queued(PushOutcome::Overflow);
                }
                OverflowPolicy::DropNewest => return not_queued(PushOutcome::Dropped),
                OverflowPolicy::DropOldest => {
                    while !fits(&state)
                        && state.drop_oldest(&self.budget, large_above, &mut dropped)
                    {
                    }
                    if !fits(&state) {
                        // Only the rest of a frame being written is left, and it leaves no room.
                        return not_queued(PushOutcome::Dropped);
                    }
                }
            }
        }
        // The broker-wide bound: the target pays, under its own policy, unless it holds nothing.
        while !self.budget.try_charge(cost) {
            let (large, small) = state.with(cost, large_above);
            if state.items.is_empty() || (large <= 1 && small <= large_above) {
                self.budget.charge(cost);
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
                        // Only the rest of a frame being written is left.
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
    /// the queue closes. Returns `closed = true` once the queue is closed and nothing is left.
    /// The consumer then writes the batch and calls [`OutQueue::end_batch`].
    pub(crate) async fn take_all(&self, out: &mut VecDeque<Outgoing>) -> Batch {
        loop {
            {
                let mut state = self.lock();
                if state.closed && state.items.is_empty() {
                    return Batch { closed: true };
                }
                if !state.items.is_empty() && !state.writing {
                    std::mem::swap(&mut state.items, out);
                    state.taken = state.take_counts();
                    state.writing = true;
                    return Batch { closed: false };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_frames: usize, max_bytes: usize, overflow: OverflowPolicy) -> QueueLimits {
        QueueLimits {
            max_frames,
            max_bytes,
            overflow,
        }
    }

    fn frame(n: u8) -> Outgoing {
        Outgoing::frame(Bytes::from(vec![n; 10]), None, 10)
    }

    /// The cost of one [`frame`].
    const FRAME_COST: usize = 10 + QueueLimits::ITEM_OVERHEAD;

    fn budget() -> Arc<QueueBudget> {
        Arc::new(QueueBudget::new(usize::MAX))
    }

    fn new_queue(limits: QueueLimits) -> OutQueue {
        OutQueue::new(limits, budget())
    }

    fn push(queue: &OutQueue, item: Outgoing) -> PushOutcome {
        queue.push(item).outcome
    }

    /// A socket that takes at most `room` more bytes, recording them.
    #[derive(Default)]
    struct FakeSocket {
        written: Mutex<Vec<u8>>,
        room: Mutex<usize>,
    }

    impl DirectWrite for FakeSocket {
        fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(*room);
            *room -= n;
            self.written.lock().unwrap().extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn peer_hung_up(&self) -> bool {
            false
        }
    }

    fn socket_queue(room: usize) -> (OutQueue, Arc<FakeSocket>) {
        socket_queue_with(room, QueueLimits::default())
    }

    fn socket_queue_with(room: usize, limits: QueueLimits) -> (OutQueue, Arc<FakeSocket>) {
        let queue = new_queue(limits);
        let socket = Arc::new(FakeSocket::default());
        *socket.room.lock().unwrap() = room;
        queue.set_sink(DirectSink::Socket(socket.clone()));
        (queue, socket)
    }

    #[tokio::test]
    async fn batches_come_out_in_order() {
        let queue = new_queue(QueueLimits::default());
        assert_eq!(push(&queue, frame(1)), PushOutcome::Queued);
        assert_eq!(
            push(&queue, Outgoing::Ack { op_id: 7, code: 1 }),
            PushOutcome::Queued
        );
        assert_eq!(queue.len(), 2);
        let mut out = VecDeque::new();
        assert!(!queue.take_all(&mut out).await.closed);
        assert_eq!(out, [frame(1), Outgoing::Ack { op_id: 7, code: 1 }]);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn only_the_push_that_fills_an_idle_queue_owes_a_flush() {
        let queue = new_queue(QueueLimits::default());
        assert!(queue.push(frame(1)).needs_flush);
        assert!(!queue.push(frame(2)).needs_flush);
    }

    #[test]
    fn flush_writes_everything_queued_into_the_socket_in_one_write() {
        let (queue, socket) = socket_queue(usize::MAX);
        assert!(queue.push(frame(1)).needs_flush);
        assert!(!queue.push(Outgoing::Ack { op_id: 7, code: 1 }).needs_flush);
        queue.flush();
        let mut expected = vec![1u8; 10];
        expected.extend_from_slice(&protocol::ack_frame(7, 1));
        assert_eq!(*socket.written.lock().unwrap(), expected);
        assert_eq!(queue.len(), 0);
        // The queue is idle again: the next push owes a flush of its own.
        assert!(queue.push(frame(2)).needs_flush);
    }

    #[tokio::test]
    async fn what_a_full_socket_does_not_take_goes_to_the_consumer_in_order() {
        let (queue, socket) = socket_queue(4);
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        queue.flush();
        assert_eq!(*socket.written.lock().unwrap(), [1u8; 4]);
        let mut out = VecDeque::new();
        assert!(!queue.take_all(&mut out).await.closed);
        let mut rest = Vec::new();
        for item in &out {
            item.encode_into(&mut rest);
        }
        let mut expected = vec![1u8; 6];
        expected.extend_from_slice(&[2u8; 10]);
        assert_eq!(rest, expected);
    }

    #[tokio::test]
    async fn nobody_flushes_while_the_consumer_writes() {
        let (queue, socket) = socket_queue(usize::MAX);
        let _ = queue.push(frame(1));
        let mut out = VecDeque::new();
        queue.take_all(&mut out).await;
        // Pushed while the consumer holds a batch: the consumer takes it next, not a router.
        assert!(!queue.push(frame(2)).needs_flush);
        queue.flush();
        assert!(socket.written.lock().unwrap().is_empty());
        queue.end_batch();
        out.clear();
        queue.take_all(&mut out).await;
        assert_eq!(out, [frame(2)]);
    }

    #[tokio::test]
    async fn overflow_disconnect_closes() {
        let queue = new_queue(limits(2, 1000, OverflowPolicy::Disconnect));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        assert_eq!(push(&queue, frame(3)), PushOutcome::Overflow);
        assert!(queue.is_closed());
        assert_eq!(push(&queue, frame(4)), PushOutcome::Closed);
        // What was accepted before the overflow is still written, then the consumer ends.
        let mut out = VecDeque::new();
        assert!(!queue.take_all(&mut out).await.closed);
        assert_eq!(out, [frame(1), frame(2)]);
        queue.end_batch();
        out.clear();
        assert!(queue.take_all(&mut out).await.closed);
    }

    #[test]
    fn overflow_drop_newest_keeps_the_queue() {
        let queue = new_queue(limits(100, 2 * FRAME_COST + 1, OverflowPolicy::DropNewest));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        assert_eq!(push(&queue, frame(3)), PushOutcome::Dropped);
        assert_eq!(queue.len(), 2);
    }

    #[tokio::test]
    async fn overflow_drop_oldest_makes_room() {
        let queue = new_queue(limits(2, 1000, OverflowPolicy::DropOldest));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        let dropped = DroppedOldest {
            items: 1,
            counted_frames: 1,
            counted_bytes: 10,
        };
        assert_eq!(
            push(&queue, frame(3)),
            PushOutcome::QueuedDroppingOldest(dropped)
        );
        let mut out = VecDeque::new();
        queue.take_all(&mut out).await;
        assert_eq!(out, [frame(2), frame(3)]);
    }

    #[tokio::test]
    async fn a_client_that_keeps_up_takes_a_frame_larger_than_its_byte_limit() {
        for overflow in [
            OverflowPolicy::Disconnect,
            OverflowPolicy::DropNewest,
            OverflowPolicy::DropOldest,
        ] {
            let queue = new_queue(limits(10, 100, overflow));
            let big = Outgoing::frame(Bytes::from(vec![0; 2000]), None, 2000);
            assert_eq!(
                push(&queue, big.clone()),
                PushOutcome::Queued,
                "{overflow:?}"
            );
            let mut out = VecDeque::new();
            queue.take_all(&mut out).await;
            // The writer's batch does not count against the client's own limit.
            assert_eq!(push(&queue, big), PushOutcome::Queued, "{overflow:?}");
            queue.end_batch();
        }
    }

    #[test]
    fn the_broker_wide_bound_is_paid_by_a_target_with_a_backlog() {
        let big = || Outgoing::frame(Bytes::from(vec![7; 70_000]), None, 70_000);
        let big_cost = big().cost();
        let shared = Arc::new(QueueBudget::new(3 * big_cost));
        let hog = OutQueue::new(
            limits(100, usize::MAX, OverflowPolicy::Disconnect),
            shared.clone(),
        );
        let reader = OutQueue::new(
            limits(100, usize::MAX, OverflowPolicy::DropNewest),
            shared.clone(),
        );
        for _ in 0..3 {
            assert_eq!(push(&hog, big()), PushOutcome::Queued);
        }
        // The bound is reached: a client holding nothing still gets a frame, and the small
        // items a client that keeps up has behind it...
        assert_eq!(push(&reader, big()), PushOutcome::Queued);
        assert_eq!(push(&reader, frame(9)), PushOutcome::Queued);
        // ...while a client with a backlog pays under its policy.
        assert_eq!(push(&reader, big()), PushOutcome::Dropped);
        assert_eq!(push(&hog, big()), PushOutcome::Overflow);
        assert_eq!(
            shared.used(),
            4 * big_cost + FRAME_COST,
            "a closed queue keeps its frames"
        );
        drop(hog);
        drop(reader);
        assert_eq!(shared.used(), 0, "dropped queues give their bytes back");
    }

    #[tokio::test]
    async fn drop_oldest_never_drops_the_rest_of_a_frame_being_written() {
        let (queue, socket) =
            socket_queue_with(4, limits(2, usize::MAX, OverflowPolicy::DropOldest));
        let _ = queue.push(frame(1));
        queue.flush();
        assert_eq!(*socket.written.lock().unwrap(), [1u8; 4]);
        let _ = queue.push(frame(2));
        let _ = queue.push(frame(3));
        let mut out = VecDeque::new();
        let mut rest = Vec::new();
        queue.take_all(&mut out).await;
        for item in &out {
            item.encode_into(&mut rest);
        }
        let mut expected = vec![1u8; 6];
        expected.extend_from_slice(&[3u8; 10]);
        assert_eq!(rest, expected, "the rest of frame 1, then the newest frame");
    }

    #[tokio::test]
    async fn consumer_wakes_on_flush() {
        let queue = std::sync::Arc::new(new_queue(QueueLimits::default()));
        let consumer = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut out = VecDeque::new();
                queue.take_all(&mut out).await;
                out
            })
        };
        assert!(queue.push(frame(9)).needs_flush);
        queue.flush();
        assert_eq!(consumer.await.unwrap(), [frame(9)]);
    }
}
