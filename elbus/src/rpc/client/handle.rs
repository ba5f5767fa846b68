//! [`RpcClient`], the handle: calls, `call0`s and notifications, counters, and the background
//! tasks it owns.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::dispatch;
use super::options::{RpcOptions, RpcStats};
use super::pending::PendingGuard;
use super::pinger;
use super::shared::Shared;
use crate::client::AsyncClient;
use crate::rpc::error::RpcError;
use crate::rpc::faults;
use crate::rpc::handlers::RpcHandlers;
use crate::rpc::payload::{self, RpcEvent};
use crate::{Error, ErrorKind, QoS};

/// The background tasks of one RPC client, stopped when the last handle goes.
struct Tasks {
    processor: JoinHandle<()>,
    pinger: Option<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.processor.abort();
        if let Some(pinger) = &self.pinger {
            pinger.abort();
        }
    }
}

/// An RPC client over any elbus client `C` (a socket client or an in-process
/// [`broker::Client`](crate::broker::Client)).
///
/// It takes the client's event channel: replies complete calls, requests and notifications go
/// to the [`RpcHandlers`], and broadcasts and publications go to
/// [`RpcHandlers::handle_frame`] untouched. Use [`client`](Self::client) for pub/sub.
///
/// The handle is cheap to clone. When the last clone is dropped, request processing and
/// pinging stop (handlers already running finish) and the wrapped client is dropped, which
/// disconnects it: a server must keep a clone for as long as it serves, and a server's `main`
/// can await [`closed`](Self::closed) to serve until the connection ends.
///
/// ```no_run
/// # async fn demo(broker: elbus::broker::Broker) -> Result<(), Box<dyn std::error::Error>> {
/// use elbus::rpc::{DummyHandlers, RpcClient};
/// use elbus::QoS;
///
/// let rpc = RpcClient::new(broker.register_client("caller")?, DummyHandlers)?;
/// let reply = rpc.call("svc", "hello", b"", QoS::Processed).await?;
/// println!("{:?}", reply.payload());
/// # Ok(()) }
/// ```
#[must_use = "an RpcClient stops serving and disconnects when its last clone is dropped: keep it (a server's `main` can `.closed().await` it)"]
pub struct RpcClient<C: AsyncClient> {
    shared: Arc<Shared<C>>,
    tasks: Arc<Tasks>,
}

impl<C: AsyncClient> Clone for RpcClient<C> {
    fn clone(&self) -> Self {
        RpcClient {
            shared: self.shared.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

impl<C: AsyncClient> fmt::Debug for RpcClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("name", &self.shared.client.name())
            .field("pending_calls", &self.shared.pending.len())
            .field("options", &self.shared.options)
            .finish()
    }
}

impl<C: AsyncClient + 'static> RpcClient<C> {
    /// Wraps `client`, serving `handlers`, with default [`RpcOptions`].
    ///
    /// Must run inside a Tokio runtime. Fails if the client's event channel was already taken.
    pub fn new<H: RpcHandlers>(client: C, handlers: H) -> Result<Self, Error> {
        RpcClient::create(client, handlers, RpcOptions::default())
    }

    /// Wraps `client`, serving `handlers`, with `options`.
    ///
    /// If the client has a timeout (socket clients), it is pinged at once and then every half
    /// timeout, so the broker's idle timer never fires.
    pub fn create<H: RpcHandlers>(
        client: C,
        handlers: H,
        options: RpcOptions,
    ) -> Result<Self, Error> {
        let events = client
            .take_event_channel()
            .ok_or_else(|| Error::busy("the client's event channel is already taken"))?;
        let ping_every = client
            .timeout()
            .map(|timeout| (timeout / 2).max(Duration::from_millis(1)));
        let shared = Arc::new(Shared::new(client, options));
        let handlers = Arc::new(handlers);
        let processor = tokio::spawn(dispatch::process(shared.clone(), handlers, events));
        let pinger = ping_every.map(|every| tokio::spawn(pinger::ping(shared.clone(), every)));
        Ok(RpcClient {
            shared,
            tasks: Arc::new(Tasks { processor, pinger }),
        })
    }

    /// The wrapped client, for pub/sub, broadcasts and plain messages.
    pub fn client(&self) -> &C {
        &self.shared.client
    }

    /// Calls `method` of `target` with `params` and waits for the reply, for at most the
    /// client's timeout ([`RpcOptions::timeout`]).
    ///
    /// Use a QoS that asks for an ACK (`Processed`, `RealtimeProcessed`): then a missing target
    /// fails at once with -32113 instead of waiting for the timeout. The reply's
    /// [`payload`](RpcEvent::payload) is the result; an error reply is `Err` with its code and
    /// data. A bus failure is `-32000 - code`, a timeout -32120, a connection lost while
    /// waiting -32255, a method name that is empty or holds a NUL -32600.
    pub async fn call(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
    ) -> Result<RpcEvent, RpcError> {
        self.call_with_timeout(target, method, params, qos, self.shared.options.timeout)
            .await
    }

    /// [`call`](Self::call) with its own bound on the round trip.
    pub async fn call_with_timeout(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
        timeout: Duration,
    ) -> Result<RpcEvent, RpcError> {
        payload::validate_method(method)?;
        let (id, reply) = self.shared.pending.register(target)?;
        let _guard = PendingGuard {
            calls: &self.shared.pending,
            id,
        };
        let header = payload::request_header(id, method);
        let round_trip = async {
            self.shared
                .send_within_deadline(target, &header, params, qos)
                .await?;
            // The sender is only dropped by the final sweep, which sends an error first; treat
            // a bare drop the same way.
            reply
                .await
                .unwrap_or_else(|_| Err(faults::connection_closed()))
        };
        match tokio::time::timeout(timeout, round_trip).await {
            Ok(outcome) => outcome,
            Err(_) => Err(call_timed_out(timeout)),
        }
    }

    /// Calls `method` of `target` without wanting a reply (call id 0). Resolves once the broker
    /// has ACKed the message (at once for QoS without ACK); the handler's result is discarded.
    pub async fn call0(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        self.call0_with_timeout(target, method, params, qos, self.shared.options.timeout)
            .await
    }

    /// [`call0`](Self::call0) with its own bound on the send and its ACK.
    pub async fn call0_with_timeout(
        &self,
        target: &str,
        method: &str,
        params: &[u8],
        qos: QoS,
        timeout: Duration,
    ) -> Result<(), RpcError> {
        payload::validate_method(method)?;
        let header = payload::request_header(0, method);
        self.send_within(timeout, target, &header, params, qos)
            .await
    }

    /// Sends a notification with `data` to `target`. Resolves once the broker has ACKed it (at
    /// once for QoS without ACK).
    pub async fn notify(&self, target: &str, data: &[u8], qos: QoS) -> Result<(), RpcError> {
        let timeout = self.shared.options.timeout;
        self.send_within(timeout, target, &payload::NOTIFICATION_HEADER, data, qos)
            .await
    }

    /// Sends one RPC message, bounding its send and ACK by `timeout`.
    async fn send_within(
        &self,
        timeout: Duration,
        target: &str,
        header: &[u8],
        data: &[u8],
        qos: QoS,
    ) -> Result<(), RpcError> {
        let send = self.shared.send_within_deadline(target, header, data, qos);
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or_else(|_| Err(call_timed_out(timeout)))
    }

    /// How many calls are waiting for a reply right now.
    pub fn pending_calls(&self) -> usize {
        self.shared.pending.len()
    }

    /// Counters of invalid and orphaned payloads received so far.
    pub fn stats(&self) -> RpcStats {
        RpcStats {
            invalid_payloads: self.shared.invalid_payloads.load(Ordering::Relaxed),
            orphaned_replies: self.shared.orphaned_replies.load(Ordering::Relaxed),
        }
    }

    /// Whether the client is connected and its events are still being received.
    pub fn is_connected(&self) -> bool {
        !self.shared.pending.is_closed() && self.shared.client.is_connected()
    }

    /// Waits until the client's events end (the connection closed or the broker went away) and
    /// says why. A server's `main` awaits it to keep serving:
    ///
    /// ```no_run
    /// # async fn demo(rpc: elbus::rpc::RpcClient<elbus::ipc::Client>) {
    /// let reason = rpc.closed().await;
    /// eprintln!("stopped serving: {reason}");
    /// # }
    /// ```
    ///
    /// Resolves at once if they already ended. A socket client that reconnects by itself keeps
    /// its events, so this waits across reconnects.
    pub async fn closed(&self) -> Error {
        let mut closed = self.shared.closed.subscribe();
        // The sender lives in `shared`, which `self` holds, so this only ends once it is set.
        let _ = closed.wait_for(|closed| *closed).await;
        Error::new(
            ErrorKind::Eof,
            format!(
                "{}: the client's event channel closed",
                self.shared.client.name()
            ),
        )
    }

    /// The options the client runs with.
    pub fn options(&self) -> RpcOptions {
        self.shared.options
    }
}

fn call_timed_out(timeout: Duration) -> RpcError {
    RpcError::bus(ErrorKind::Timeout, format!("no reply within {timeout:?}"))
}
