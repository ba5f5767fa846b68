//! The state a connection's handle, reader and writer share: the connected flag, op ids, the
//! pending-ACK map, the byte budget of the outbound queue and the shutdown signal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{oneshot, watch, Semaphore, TryAcquireError};

use crate::sync::recover;
use crate::Error;

/// Where an ACK's result goes.
pub(crate) type AckSender = oneshot::Sender<Result<(), Error>>;

/// Most bytes of frames queued on one connection and not yet written: 4 MiB. A caller whose
/// frame does not fit waits (inside its `send`) until the writer has written enough; a frame
/// larger than this is admitted alone, once everything before it is written.
pub(crate) const QUEUED_BYTES: usize = 4 << 20;

/// The share of [`QUEUED_BYTES`] a frame of `len` bytes holds while it is queued.
pub(crate) fn queued_cost(len: usize) -> u32 {
    // QUEUED_BYTES fits in u32; the `min` keeps a larger frame admissible on its own.
    len.min(QUEUED_BYTES) as u32
}

/// Pending-ACK map size below which abandoned entries are not looked for.
const PURGE_MIN: usize = 1024;

/// Shared by the [`Client`](super::Client) handles and the connection's tasks.
#[derive(Debug)]
pub(crate) struct State {
    connected: AtomicBool,
    pending: Mutex<Pending>,
    /// The bytes the outbound queue may still take ([`QUEUED_BYTES`] in all): taken by
    /// a caller before its frame is queued, given back by the writer once it is written.
    queued_budget: Semaphore,
    /// Becomes `true` once the connection is closed; the tasks select on it so that whichever
    /// side ends first stops the others.
    shutdown: watch::Sender<bool>,
}

/// Op ids and the ACK waiters, under one lock so that id order, registration and enqueueing agree.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Set (under the lock) by [`State::close`]; nothing may be registered afterwards, or its
    /// waiter would only learn of the disconnect from its timeout.
    closed: bool,
    last_id: u32,
    acks: HashMap<u32, AckSender>,
    purge_at: usize,
}

impl Pending {
    /// The next op id: 1, 2, 3, … wrapping from `u32::MAX` to 1, never 0.
    pub(crate) fn next_op_id(&mut self) -> u32 {
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        self.last_id
    }

    /// Registers the waiter of op `id`.
    pub(crate) fn register(&mut self, id: u32, tx: AckSender) {
        // A waiter whose OpConfirm was dropped or timed out stays in the map until its ACK arrives,
        // which may be never; sweep such entries when the map has doubled since the last sweep, so
        // the cost stays amortised O(1) per op.
        if self.acks.len() >= self.purge_at {
            self.acks.retain(|_, tx| !tx.is_closed());
            self.purge_at = (self.acks.len() * 2).max(PURGE_MIN);
        }
        // After 2^32 ops an id can come round while an abandoned waiter still holds it; replacing
        // it drops that waiter, which then reads as Eof.
        self.acks.insert(id, tx);
    }

    /// Whether the connection is closed (no frame may be queued any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}

impl State {
    /// A connected state.
    pub(crate) fn new() -> Self {
        State {
            connected: AtomicBool::new(true),
            pending: Mutex::new(Pending {
                closed: false,
                last_id: 0,
                acks: HashMap::new(),
                purge_at: PURGE_MIN,
            }),
            queued_budget: Semaphore::new(QUEUED_BYTES),
            shutdown: watch::Sender::new(false),
        }
    }

    /// Whether the connection is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Refuses new frames from now on while the queued ones are still written (a graceful close).
    pub(crate) fn mark_disconnecting(&self) {
        self.connected.store(false, Ordering::Release);
    }

    /// Locks the op-id and pending-ACK state.
    pub(crate) fn pending(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics while holding the lock; if something ever did, the map is still coherent.
        recover(self.pending.lock())
    }

    /// Takes `cost` bytes of the outbound queue's budget, waiting while the queue is that full;
    /// `Eof` once the connection is closed. The bytes go back when the returned share is dropped,
    /// unless it is [`kept`](QueuedShare::keep) for a frame that was queued.
    pub(crate) async fn take_queued(&self, cost: u32) -> Result<QueuedShare<'_>, Error> {
        let permit = match self.queued_budget.try_acquire_many(cost) {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => self
                .queued_budget
                .acquire_many(cost)
                .await
                .map_err(|_| Error::eof())?,
            Err(TryAcquireError::Closed) => return Err(Error::eof()),
        };
        Ok(QueuedShare(Some(permit)))
    }

    /// Gives back `cost` bytes of the outbound queue's budget (frames written or dropped).
    pub(crate) fn release_queued(&self, cost: usize) {
        if cost > 0 {
            self.queued_budget.add_permits(cost);
        }
    }

    /// Delivers an ACK to its waiter; an id nobody waits for is logged and dropped.
    pub(crate) fn resolve_ack(&self, op_id: u32, code: u8) {
        let waiter = self.pending().acks.remove(&op_id);
        match waiter {
            // The waiter may have given up (timeout, dropped OpConfirm): nothing to do then.
            Some(tx) => drop(tx.send(Error::check_code(code))),
            None => tracing::warn!("orphaned elbus op ack {op_id}"),
        }
    }

    /// Closes the connection's state: disconnected at once, every pending ACK fails with Eof, and
    /// the tasks are told to stop. Idempotent.
    pub(crate) fn close(&self) {
        self.connected.store(false, Ordering::Release);
        let acks = {
            let mut pending = self.pending();
            pending.closed = true;
            std::mem::take(&mut pending.acks)
        };
        for (_, tx) in acks {
            let _ = tx.send(Err(Error::eof()));
        }
        // Callers waiting for queue room learn of the end at once.
        self.queued_budget.close();
        self.shutdown.send_replace(true);
    }

    /// A receiver of the shutdown signal, for [`wait_shutdown`].
    pub(crate) fn subscribe_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// A caller's share of the outbound queue's byte budget, taken before its frame is queued; given
/// back if the caller gives up (a timeout, a closed connection) before the frame is queued.
pub(crate) struct QueuedShare<'a>(Option<tokio::sync::SemaphorePermit<'a>>);

impl QueuedShare<'_> {
    /// The frame is queued: its share stays taken until the writer gives it back in bulk
    /// ([`State::release_queued`], one call per write).
    pub(crate) fn keep(mut self) {
        if let Some(permit) = self.0.take() {
            permit.forget();
        }
    }
}

/// Resolves once the connection is closed.
pub(crate) async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    // The sender lives in `State`, which every waiter keeps alive, so `Err` (sender gone) cannot
    // happen while we wait; treat it as closed anyway.
    let _ = rx.wait_for(|closed| *closed).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn op_ids_count_from_one_and_skip_zero_on_wrap() {
        let state = State::new();
        let mut pending = state.pending();
        assert_eq!(pending.next_op_id(), 1);
        assert_eq!(pending.next_op_id(), 2);
        pending.last_id = u32::MAX - 1;
        assert_eq!(pending.next_op_id(), u32::MAX);
        assert_eq!(pending.next_op_id(), 1);
    }

    #[tokio::test]
    async fn acks_resolve_and_close_fails_the_rest() {
        let state = State::new();
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        let (tx3, rx3) = oneshot::channel();
        {
            let mut pending = state.pending();
            pending.register(1, tx1);
            pending.register(2, tx2);
            pending.register(3, tx3);
        }
        state.resolve_ack(1, 0x01);
        state.resolve_ack(2, 0x71);
        // Unknown id: logged, not a panic.
        state.resolve_ack(99, 0x01);
        assert_eq!(rx1.await.unwrap(), Ok(()));
        assert_eq!(
            rx2.await.unwrap().unwrap_err().kind(),
            ErrorKind::NotRegistered
        );
        let mut shutdown = state.subscribe_shutdown();
        assert!(state.is_connected());
        state.close();
        assert!(!state.is_connected());
        assert!(state.pending().is_closed());
        assert_eq!(rx3.await.unwrap().unwrap_err().kind(), ErrorKind::Eof);
        wait_shutdown(&mut shutdown).await;
        state.close();
    }

    #[test]
    fn abandoned_waiters_are_swept() {
        let state = State::new();
        let mut pending = state.pending();
        let mut kept = Vec::new();
        for id in 1..=PURGE_MIN as u32 * 3 {
            let (tx, rx) = oneshot::channel();
            pending.register(id, tx);
            // Keep one receiver in ten alive; the rest are abandoned.
            if id % 10 == 0 {
                kept.push((id, rx));
            }
        }
        assert!(pending.acks.len() < PURGE_MIN * 2);
        assert!(kept.iter().all(|(id, _rx)| pending.acks.contains_key(id)));
    }
}
