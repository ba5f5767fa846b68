//! The outbound queue of one client: routed frames, ACKs and NOPs, in order, within limits.
//!
//! Senders push without waiting (routing never blocks on a slow client). A push that makes an
//! idle queue non-empty owes a [flush](OutQueue::flush): the sender, once its batch is routed,
//! writes everything queued straight into the client's socket or in-process channel when that
//! takes it without waiting. Whatever is left goes to the one consumer (the socket writer task or
//! the in-process forwarder), which takes everything queued at once and writes it as a batch. One
//! writer at a time, under the queue's lock, keeps the bytes in order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::config::{OverflowPolicy, QueueLimits};
use super::sink::DirectWrite;
use crate::protocol::{self, DELIVERY_HEADER_LEN};
use crate::Frame;
use tokio::sync::mpsc;
use tracing::warn;

/// One item of an outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A complete delivered frame (header and body), shared between all its recipients.
    Frame(Bytes),
    /// An ACK of the client's own op.
    Ack { op_id: u32, code: u8 },
    /// A keepalive NOP.
    Nop,
}

impl Outgoing {
    /// Bytes this item occupies on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        match self {
            Outgoing::Frame(frame) => frame.len(),
            Outgoing::Ack { .. } | Outgoing::Nop => DELIVERY_HEADER_LEN,
        }
    }

    /// The frame an in-process client receives for this item: `None` for ACKs and NOPs (which
    /// only sockets carry) and, logged, for a frame that does not decode.
    pub(crate) fn into_event(self, client: &str) -> Option<Frame> {
        let Outgoing::Frame(wire) = self else {
            return None;
        };
        Frame::from_wire(wire)
            .inspect_err(|err| warn!("{client}: undecodable frame: {err}"))
            .ok()
    }

    /// Appends the wire bytes of the item to `buf`.
    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            Outgoing::Frame(frame) => buf.extend_from_slice(frame),
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
    /// Queued after dropping this many older items (policy [`OverflowPolicy::DropOldest`]).
    QueuedDroppingOldest(usize),
    /// Not queued: the queue was full (policy [`OverflowPolicy::DropNewest`]).
    Dropped,
    /// Not queued: the queue was full and is now closed; its client must be disconnected
    /// (policy [`OverflowPolicy::Disconnect`]).
    Overflow,
    /// Not queued: the queue was already closed (its client is going away).
    Closed,
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
    bytes: usize,
    closed: bool,
    /// Someone (the consumer, or a router flushing directly) is writing taken items out; nobody
    /// else may take items until it is done, which keeps the bytes in order.
    writing: bool,
    /// Where routers may put items directly while the consumer is idle; `None` for streams that
    /// only their writer task may write, and once the queue is closed.
    sink: Option<DirectSink>,
}

impl QueueState {
    /// Moves the queued frames of an in-process client into its event channel, as many as it
    /// has room for; the consumer (which waits for room) gets the rest. Nobody else sends on
    /// the channel meanwhile: the consumer only sends while it holds a batch (`writing`).
    fn send_now(&mut self) {
        let QueueState {
            items,
            bytes,
            sink: Some(DirectSink::Channel(channel)),
            ..
        } = self
        else {
            return;
        };
        while channel.capacity() > 0 {
            let Some(item) = items.pop_front() else {
                break;
            };
            *bytes -= item.wire_len();
            // A receiver that was dropped discards frames, as the consumer does.
            if let Some(frame) = item.into_event("in-process client") {
                let _ = channel.try_send(frame);
            }
        }
    }
}

/// Where a router may put a client's queued items itself, without waking the consumer.
pub(crate) enum DirectSink {
    /// The client's socket.
    Socket(Arc<dyn DirectWrite>),
    /// The event channel of an in-process client.
    Channel(mpsc::Sender<Frame>),
}

/// A bounded multi-producer, single-consumer queue of [`Outgoing`] items.
pub(crate) struct OutQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    limits: QueueLimits,
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

/// Most bytes a router writes directly at once; a larger backlog is left to the writer task,
/// which can wait for the socket.
const DIRECT_WRITE_MAX: usize = 64 * 1024;

thread_local! {
    /// The bytes of a direct write, reused by every flush on this thread.
    static DIRECT_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl OutQueue {
    pub(crate) fn new(limits: QueueLimits) -> Self {
        OutQueue {
            state: Mutex::new(QueueState::default()),
            wake: Notify::new(),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue inconsistent (every update is
        // a few field writes), so a poisoned lock is still safe to use.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Pushes an item, applying the overflow policy when it does not fit.
    pub(crate) fn push(&self, item: Outgoing) -> Pushed {
        let not_queued = |outcome| Pushed {
            outcome,
            needs_flush: false,
        };
        let len = item.wire_len();
        let mut state = self.lock();
        if state.closed {
            return not_queued(PushOutcome::Closed);
        }
        let fits = |state: &QueueState| {
            state.items.len() < self.limits.max_frames && state.bytes + len <= self.limits.max_bytes
        };
        let mut dropped_oldest = 0;
        if !fits(&state) {
            match self.limits.overflow {
                OverflowPolicy::Disconnect => {
                    state.closed = true;
                    state.items = VecDeque::new();
                    state.bytes = 0;
                    state.sink = None;
                    drop(state);
                    self.wake.notify_one();
                    return not_queued(PushOutcome::Overflow);
                }
                OverflowPolicy::DropNewest => return not_queued(PushOutcome::Dropped),
                OverflowPolicy::DropOldest => {
                    if len > self.limits.max_bytes {
                        return not_queued(PushOutcome::Dropped);
                    }
                    while !fits(&state) {
                        let Some(old) = state.items.pop_front() else {
                            break;
                        };
                        state.bytes -= old.wire_len();
                        dropped_oldest += 1;
                    }
                }
            }
        }
        let needs_flush = state.items.is_empty() && !state.writing;
        state.items.push_back(item);
        state.bytes += len;
        drop(state);
        Pushed {
            outcome: if dropped_oldest > 0 {
                PushOutcome::QueuedDroppingOldest(dropped_oldest)
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
                state.send_now();
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
            state.bytes = 0;
            drop(state);
            let written = write_now(&*socket, buf);
            let mut state = self.lock();
            state.writing = false;
            if written < buf.len() && !state.closed {
                // The socket is full (or broken): the consumer writes the rest, in order, once
                // the socket drains (or meets the error and ends the connection).
                let rest = Bytes::copy_from_slice(&buf[written..]);
                state.bytes += rest.len();
                state.items.push_front(Outgoing::Frame(rest));
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
                    state.bytes = 0;
                    state.writing = true;
                    return Batch { closed: false };
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check above
            // and this await is not lost.
            self.wake.notified().await;
        }
    }

    /// Ends the consumer's batch: items pushed meanwhile may be taken again.
    pub(crate) fn end_batch(&self) {
        self.lock().writing = false;
    }

    /// Closes the queue: pushes fail from now on and the consumer ends after the current batch.
    /// Queued items are dropped.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.items = VecDeque::new();
        state.bytes = 0;
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
        Outgoing::Frame(Bytes::from(vec![n; 10]))
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
        let queue = OutQueue::new(QueueLimits::default());
        let socket = Arc::new(FakeSocket::default());
        *socket.room.lock().unwrap() = room;
        queue.set_sink(DirectSink::Socket(socket.clone()));
        (queue, socket)
    }

    #[tokio::test]
    async fn batches_come_out_in_order() {
        let queue = OutQueue::new(QueueLimits::default());
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
        let queue = OutQueue::new(QueueLimits::default());
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
    async fn flush_fills_an_in_process_channel_up_to_its_room() {
        let queue = OutQueue::new(QueueLimits::default());
        let (tx, mut rx) = mpsc::channel(1);
        queue.set_sink(DirectSink::Channel(tx));
        let wire = |n: u8| {
            let kind = crate::protocol::FrameKind::Message;
            Outgoing::Frame(
                crate::frame::encode_delivery(kind, "s", None, &[&[n, n]], false).unwrap(),
            )
        };
        let _ = queue.push(wire(1));
        let _ = queue.push(wire(2));
        queue.flush();
        assert_eq!(rx.recv().await.unwrap().payload(), [1, 1]);
        // The second frame waits for the consumer, which waits for room.
        assert_eq!(queue.len(), 1);
    }

    #[tokio::test]
    async fn overflow_disconnect_closes() {
        let queue = OutQueue::new(limits(2, 1000, OverflowPolicy::Disconnect));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        assert_eq!(push(&queue, frame(3)), PushOutcome::Overflow);
        assert!(queue.is_closed());
        assert_eq!(push(&queue, frame(4)), PushOutcome::Closed);
        let mut out = VecDeque::new();
        assert!(queue.take_all(&mut out).await.closed);
    }

    #[test]
    fn overflow_drop_newest_keeps_the_queue() {
        let queue = OutQueue::new(limits(100, 25, OverflowPolicy::DropNewest));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        assert_eq!(push(&queue, frame(3)), PushOutcome::Dropped);
        assert_eq!(queue.len(), 2);
    }

    #[tokio::test]
    async fn overflow_drop_oldest_makes_room() {
        let queue = OutQueue::new(limits(2, 1000, OverflowPolicy::DropOldest));
        let _ = queue.push(frame(1));
        let _ = queue.push(frame(2));
        assert_eq!(push(&queue, frame(3)), PushOutcome::QueuedDroppingOldest(1));
        let mut out = VecDeque::new();
        queue.take_all(&mut out).await;
        assert_eq!(out, [frame(2), frame(3)]);
        let too_big = Outgoing::Frame(Bytes::from(vec![0; 2000]));
        assert_eq!(push(&queue, too_big), PushOutcome::Dropped);
    }

    #[tokio::test]
    async fn consumer_wakes_on_flush() {
        let queue = std::sync::Arc::new(OutQueue::new(QueueLimits::default()));
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
