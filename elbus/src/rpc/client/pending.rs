//! The table of calls awaiting their replies: ids, the callee each waits on, and where each
//! outcome goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::rpc::error::RpcError;
use crate::rpc::faults;
use crate::rpc::payload::RpcEvent;
use crate::sync::recover;

/// How a call ends: its reply, or why there is none.
pub(super) type Outcome = Result<RpcEvent, RpcError>;

/// A call awaiting its reply: the callee's primary name (to fail it when the callee goes away)
/// and where the outcome goes.
struct PendingCall {
    primary: Box<str>,
    tx: oneshot::Sender<Outcome>,
}

/// The calls and whether the table is closed. `closed` is set, under the same lock, when the
/// event channel ends, so that no call can register after the final sweep and then wait in vain.
#[derive(Default)]
struct Table {
    calls: HashMap<u32, PendingCall>,
    closed: bool,
}

/// The calls awaiting replies, and the next call id.
pub(super) struct PendingCalls {
    table: Mutex<Table>,
    next_id: AtomicU32,
}

impl PendingCalls {
    /// An empty, open table; ids start at 1.
    pub(super) fn new() -> Self {
        PendingCalls {
            table: Mutex::new(Table::default()),
            next_id: AtomicU32::new(1),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        recover(self.table.lock())
    }

    /// Registers a new call to `target`, giving its id and the receiver of its outcome.
    pub(super) fn register(
        &self,
        target: &str,
    ) -> Result<(u32, oneshot::Receiver<Outcome>), RpcError> {
        let mut table = self.table();
        if table.closed {
            return Err(faults::connection_closed());
        }
        let (tx, rx) = oneshot::channel();
        loop {
            // Ids count 1, 2, ... and wrap to 1 (0 means "no reply"). After a wrap, an id may
            // still be waiting; skip it rather than steal its reply.
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 && !table.calls.contains_key(&id) {
                let primary = crate::protocol::primary_name(target).into();
                table.calls.insert(id, PendingCall { primary, tx });
                return Ok((id, rx));
            }
        }
    }

    /// Takes call `id` out of the table, giving where its outcome goes; `None` when nobody
    /// waits for that id.
    pub(super) fn take(&self, id: u32) -> Option<oneshot::Sender<Outcome>> {
        self.table().calls.remove(&id).map(|call| call.tx)
    }

    /// Fails every waiting call, and every later one, once the connection is gone.
    pub(super) fn close(&self) {
        let calls = {
            let mut table = self.table();
            table.closed = true;
            std::mem::take(&mut table.calls)
        };
        for (_, waiter) in calls {
            let _ = waiter.tx.send(Err(faults::connection_closed()));
        }
    }

    /// Fails the calls waiting on `primary` or one of its secondaries.
    pub(super) fn fail_target(&self, primary: &str) {
        let failed: Vec<PendingCall> = {
            let mut table = self.table();
            let ids: Vec<u32> = table
                .calls
                .iter()
                .filter(|(_, call)| &*call.primary == primary)
                .map(|(&id, _)| id)
                .collect();
            ids.iter().filter_map(|id| table.calls.remove(id)).collect()
        };
        for call in failed {
            let _ = call.tx.send(Err(faults::target_gone(primary)));
        }
    }

    /// Fails every waiting call without closing: the client may reconnect, and later calls go
    /// over the new connection.
    pub(super) fn fail_all(&self) {
        let calls = std::mem::take(&mut self.table().calls);
        for (_, call) in calls {
            let _ = call.tx.send(Err(faults::connection_lost()));
        }
    }

    /// How many calls are waiting.
    pub(super) fn len(&self) -> usize {
        self.table().calls.len()
    }

    /// Whether the final sweep has run.
    pub(super) fn is_closed(&self) -> bool {
        self.table().closed
    }
}

/// Removes a call's pending entry when the call ends in any way: reply, error, timeout, or the
/// caller dropping the future.
pub(super) struct PendingGuard<'a> {
    pub(super) calls: &'a PendingCalls,
    pub(super) id: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.calls.take(self.id);
    }
}
