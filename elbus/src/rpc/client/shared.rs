//! [`Shared`], the core the handles, the dispatch loop, the pinger and the request tasks share:
//! the wrapped client, the pending calls, the counters, sending and replying.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

use super::options::RpcOptions;
use super::pending::PendingCalls;
use crate::client::AsyncClient;
use crate::logging::{Escaped, LogLimiter};
use crate::rpc::error::RpcError;
use crate::rpc::payload::{self, RpcEvent};
use crate::{Frame, QoS};

/// What the handles, the dispatch loop, the pinger and the request tasks share.
pub(super) struct Shared<C> {
    pub(super) client: C,
    pub(super) pending: PendingCalls,
    pub(super) invalid_payloads: AtomicU64,
    pub(super) orphaned_replies: AtomicU64,
    pub(super) options: RpcOptions,
    /// Limits the warnings peers can trigger (invalid payloads, orphaned replies, callers gone
    /// before their reply): a peer sending them in a loop must not flood the log.
    pub(super) peer_warnings: LogLimiter,
    /// Set once the dispatch loop has ended (the event channel closed): what
    /// [`RpcClient::closed`](super::RpcClient::closed) waits for.
    pub(super) closed: tokio::sync::watch::Sender<bool>,
}

impl<C: AsyncClient> Shared<C> {
    /// A core over `client` with no calls pending.
    pub(super) fn new(client: C, options: RpcOptions) -> Self {
        Shared {
            client,
            pending: PendingCalls::new(),
            invalid_payloads: AtomicU64::new(0),
            orphaned_replies: AtomicU64::new(0),
            options,
            peer_warnings: LogLimiter::with_default_rate("RPC warnings about peers"),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Sends one RPC message and waits for its ACK when the QoS asks for one, for at most the
    /// client's timeout.
    pub(super) async fn send(
        &self,
        target: &str,
        header: &[u8],
        data: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        self.client
            .zc_send(target, header, data, qos)
            .await?
            .await?;
        Ok(())
    }

    /// [`send`](Self::send) inside a deadline the caller holds: the ACK wait arms no timer of
    /// its own, so a call costs one timer, not one per layer.
    pub(super) async fn send_within_deadline(
        &self,
        target: &str,
        header: &[u8],
        data: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        self.client
            .zc_send(target, header, data, qos)
            .await?
            .within_callers_deadline()
            .await?;
        Ok(())
    }

    /// Sends the outcome of a request back to its sender, mirroring the request's realtime flag.
    pub(super) async fn reply(
        &self,
        request: &Frame,
        id: u32,
        result: Result<Option<Vec<u8>>, RpcError>,
    ) {
        let qos = if request.is_realtime() {
            QoS::RealtimeProcessed
        } else {
            QoS::Processed
        };
        let sent = match &result {
            Ok(data) => {
                let data = data.as_deref().unwrap_or_default();
                self.send(request.sender(), &payload::reply_header(id), data, qos)
                    .await
            }
            Err(err) => {
                let data = err.data().unwrap_or_default();
                let header = payload::error_header(id, err.code());
                self.send(request.sender(), &header, data, qos).await
            }
        };
        if let Err(err) = sent {
            // The caller left or the connection dropped: nobody to tell but the log.
            if self.peer_warnings.allow() {
                warn!(
                    "{}: unable to reply to {} (call id {id}): {err}",
                    Escaped(self.client.name()),
                    Escaped(request.sender())
                );
            }
        }
    }

    /// Hands a reply or error reply to the call waiting for it.
    pub(super) fn complete(&self, event: RpcEvent) {
        let Some(waiter) = self.pending.take(event.id()) else {
            self.orphaned_replies.fetch_add(1, Ordering::Relaxed);
            if self.peer_warnings.allow() {
                warn!(
                    "{}: orphaned RPC response {} from {}",
                    Escaped(self.client.name()),
                    event.id(),
                    Escaped(event.sender())
                );
            }
            return;
        };
        let outcome = match event.to_error() {
            Some(err) => Err(err),
            None => Ok(event),
        };
        // The caller may have given up between the lookup and now; that is fine.
        let _ = waiter.send(outcome);
    }
}
