//! The reusable state of one sender's routing: buffers, and the queues that owe a flush.

use std::sync::Arc;

use crate::broker::peer::ClientKind;
use crate::broker::queue::PushOutcome;
use crate::broker::queue::Pushed;
use crate::broker::registry::{ClientEntry, ClientId};

/// Reusable buffers of one sender, so routing allocates nothing per frame once warmed up, and
/// the queues its frames went to, to be flushed once the sender's batch is routed.
#[derive(Debug, Default)]
pub(crate) struct RouteScratch {
    pub(super) ids: Vec<ClientId>,
    pub(super) targets: Vec<Arc<ClientEntry>>,
    /// Queues that owe a flush ([`Pushed::needs_flush`]): flushing once per batch instead of
    /// once per frame turns a burst of frames to one client into one write.
    unflushed: Vec<Arc<ClientEntry>>,
    /// Whether `unflushed` holds an in-process client, so the common batch (socket clients
    /// only, perhaps a thousand of them) is not scanned for one.
    unflushed_in_process: bool,
}

impl RouteScratch {
    pub(super) fn pushed(&mut self, target: &Arc<ClientEntry>, pushed: Pushed) -> PushOutcome {
        if pushed.needs_flush {
            self.unflushed_in_process |= target.peer.kind == ClientKind::Internal;
            self.unflushed.push(target.clone());
        }
        pushed.outcome
    }

    /// Hands what was routed to in-process clients over to them, leaving the socket clients'
    /// queues unflushed; returns whether any in-process client got frames.
    pub(crate) fn flush_in_process(&mut self) -> bool {
        if !std::mem::take(&mut self.unflushed_in_process) {
            return false;
        }
        let before = self.unflushed.len();
        self.unflushed.retain(|target| {
            let in_process = target.peer.kind == ClientKind::Internal;
            if in_process {
                target.queue.flush();
            }
            !in_process
        });
        self.unflushed.len() != before
    }

    /// Gets everything routed so far written (directly into idle clients' sockets, or by their
    /// writers).
    pub(crate) fn flush(&mut self) {
        self.unflushed_in_process = false;
        for target in self.unflushed.drain(..) {
            target.queue.flush();
        }
    }
}

impl Drop for RouteScratch {
    fn drop(&mut self) {
        // Whatever path a sender leaves by, nothing it queued may stay unwritten.
        self.flush();
    }
}
