//! The outbound queue of one client: routed frames, ACKs and NOPs, in order, within limits.
//!
//! Senders push without waiting (routing never blocks on a slow client); one consumer (the socket
//! writer or the in-process forwarder) takes everything queued at once and writes it as a batch.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

use super::config::{OverflowPolicy, QueueLimits};
use crate::protocol::{self, DELIVERY_HEADER_LEN};

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

    /// Appends the wire bytes of a small item to `buf` (frames are appended by the caller, which
    /// may write large ones without copying).
    pub(crate) fn encode_small(&self, buf: &mut bytes::BytesMut) {
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

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<Outgoing>,
    bytes: usize,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue of [`Outgoing`] items.
#[derive(Debug)]
pub(crate) struct OutQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    limits: QueueLimits,
}

/// A batch taken from the queue: its items and whether the queue is closed.
pub(crate) struct Batch {
    pub(crate) closed: bool,
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

    /// Pushes an item, applying the overflow policy when it does not fit.
    pub(crate) fn push(&self, item: Outgoing) -> PushOutcome {
        let len = item.wire_len();
        let mut state = self.lock();
        if state.closed {
            return PushOutcome::Closed;
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
                    drop(state);
                    self.wake.notify_one();
                    return PushOutcome::Overflow;
                }
                OverflowPolicy::DropNewest => return PushOutcome::Dropped,
                OverflowPolicy::DropOldest => {
                    if len > self.limits.max_bytes {
                        return PushOutcome::Dropped;
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
        let was_empty = state.items.is_empty();
        state.items.push_back(item);
        state.bytes += len;
        drop(state);
        if was_empty {
            self.wake.notify_one();
        }
        if dropped_oldest > 0 {
            PushOutcome::QueuedDroppingOldest(dropped_oldest)
        } else {
            PushOutcome::Queued
        }
    }

    /// Moves every queued item into `out` (which should be empty), waiting until there is one or
    /// the queue closes. Returns `closed = true` once the queue is closed and nothing is left.
    pub(crate) async fn take_all(&self, out: &mut VecDeque<Outgoing>) -> Batch {
        loop {
            {
                let mut state = self.lock();
                if !state.items.is_empty() {
                    std::mem::swap(&mut state.items, out);
                    state.bytes = 0;
                    return Batch { closed: false };
                }
                if state.closed {
                    return Batch { closed: true };
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between the check above
            // and this await is not lost.
            self.wake.notified().await;
        }
    }

    /// Closes the queue: pushes fail from now on and the consumer ends after the current batch.
    /// Queued items are dropped.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.items = VecDeque::new();
        state.bytes = 0;
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

    #[tokio::test]
    async fn batches_come_out_in_order() {
        let queue = OutQueue::new(QueueLimits::default());
        assert_eq!(queue.push(frame(1)), PushOutcome::Queued);
        assert_eq!(
            queue.push(Outgoing::Ack { op_id: 7, code: 1 }),
            PushOutcome::Queued
        );
        assert_eq!(queue.len(), 2);
        let mut out = VecDeque::new();
        assert!(!queue.take_all(&mut out).await.closed);
        assert_eq!(out, [frame(1), Outgoing::Ack { op_id: 7, code: 1 }]);
        assert_eq!(queue.len(), 0);
    }

    #[tokio::test]
    async fn overflow_disconnect_closes() {
        let queue = OutQueue::new(limits(2, 1000, OverflowPolicy::Disconnect));
        queue.push(frame(1));
        queue.push(frame(2));
        assert_eq!(queue.push(frame(3)), PushOutcome::Overflow);
        assert!(queue.is_closed());
        assert_eq!(queue.push(frame(4)), PushOutcome::Closed);
        let mut out = VecDeque::new();
        assert!(queue.take_all(&mut out).await.closed);
    }

    #[test]
    fn overflow_drop_newest_keeps_the_queue() {
        let queue = OutQueue::new(limits(100, 25, OverflowPolicy::DropNewest));
        queue.push(frame(1));
        queue.push(frame(2));
        assert_eq!(queue.push(frame(3)), PushOutcome::Dropped);
        assert_eq!(queue.len(), 2);
    }

    #[tokio::test]
    async fn overflow_drop_oldest_makes_room() {
        let queue = OutQueue::new(limits(2, 1000, OverflowPolicy::DropOldest));
        queue.push(frame(1));
        queue.push(frame(2));
        assert_eq!(queue.push(frame(3)), PushOutcome::QueuedDroppingOldest(1));
        let mut out = VecDeque::new();
        queue.take_all(&mut out).await;
        assert_eq!(out, [frame(2), frame(3)]);
        let too_big = Outgoing::Frame(Bytes::from(vec![0; 2000]));
        assert_eq!(queue.push(too_big), PushOutcome::Dropped);
    }

    #[tokio::test]
    async fn consumer_wakes_on_push() {
        let queue = std::sync::Arc::new(OutQueue::new(QueueLimits::default()));
        let consumer = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut out = VecDeque::new();
                queue.take_all(&mut out).await;
                out
            })
        };
        queue.push(frame(9));
        assert_eq!(consumer.await.unwrap(), [frame(9)]);
    }
}
