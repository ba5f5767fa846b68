//! The client API shared by socket and in-process clients: the [`AsyncClient`] trait, ACK
//! confirmations and the incoming event channel.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Sleep};

use crate::{Error, Frame, QoS};

/// Whether a client is connected, as a socket client reports it (`ipc::Client::watch_connection`,
/// [`AsyncClient::connection_changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected and registered; operations go to the broker.
    Connected,
    /// The connection was lost and a reconnect is under way (the socket client's
    /// `Config::reconnect` is set). Operations fail with [`ErrorKind::Eof`](crate::ErrorKind::Eof)
    /// meanwhile; the event channel stays open.
    Reconnecting,
    /// Disconnected for good: the client was disconnected, every handle was dropped, or the
    /// connection was lost without a reconnect policy. The event channel ends.
    Disconnected,
}

/// The receiving end of a client's incoming frames (messages, broadcasts, publications).
pub type EventChannel = mpsc::Receiver<Frame>;

/// The broker's answer to one client operation.
///
/// Await it to learn the ACK's result. For QoS 0 and 2 there is no ACK and it resolves to `Ok(())`
/// at once; for QoS 1 and 3 it resolves when the ACK arrives, fails with the ACK's error code, fails
/// with [`ErrorKind::Eof`](crate::ErrorKind::Eof) if the connection drops first, and with
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) after the client's timeout.
pub struct OpConfirm {
    rx: Option<oneshot::Receiver<Result<(), Error>>>,
    /// When the wait fails with a timeout; `None` when a caller's own deadline bounds it.
    due: Option<Instant>,
    /// The timer for `due`, armed only once the ACK is not there at the first look.
    timer: Option<Pin<Box<Sleep>>>,
    ready: Option<Result<(), Error>>,
}

impl OpConfirm {
    /// A confirmation that is already resolved.
    pub fn ready(result: Result<(), Error>) -> Self {
        OpConfirm {
            rx: None,
            due: None,
            timer: None,
            ready: Some(result),
        }
    }

    /// A confirmation that waits for `rx` for at most `timeout`.
    pub fn pending(rx: oneshot::Receiver<Result<(), Error>>, timeout: Duration) -> Self {
        OpConfirm {
            rx: Some(rx),
            due: Instant::now().checked_add(timeout),
            timer: None,
            ready: None,
        }
    }

    /// The same wait without its own timeout, for a caller that bounds it with a deadline of
    /// its own (the RPC client's call deadline): one timer per call instead of one per layer.
    pub(crate) fn within_callers_deadline(mut self) -> Self {
        self.due = None;
        self.timer = None;
        self
    }

    /// Whether an ACK is still awaited.
    pub fn is_pending(&self) -> bool {
        self.rx.is_some()
    }
}

impl Future for OpConfirm {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(result) = self.ready.take() {
            return Poll::Ready(result);
        }
        let this = &mut *self;
        let Some(rx) = this.rx.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        if let Poll::Ready(outcome) = Pin::new(rx).poll(cx) {
            this.rx = None;
            this.timer = None;
            return Poll::Ready(outcome.unwrap_or_else(|_closed| Err(Error::eof())));
        }
        let Some(due) = this.due else {
            return Poll::Pending;
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                this.rx = None;
                this.timer = None;
                Poll::Ready(Err(Error::timeout()))
            }
        }
    }
}

impl std::fmt::Debug for OpConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpConfirm")
            .field("pending", &self.rx.is_some())
            .finish()
    }
}

/// Operations every elbus client offers, whether it talks to the broker over a socket or lives in
/// the broker's process.
///
/// All methods take `&self`: clients are cheap handles that may be shared between tasks. Each
/// send-type method returns once the frame is handed to the connection; the returned
/// [`OpConfirm`] then yields the broker's ACK.
pub trait AsyncClient: Send + Sync {
    /// The client's full registered name.
    fn name(&self) -> &str;

    /// Takes the channel of incoming frames. It can be taken once; later calls return `None`.
    fn take_event_channel(&self) -> Option<EventChannel>;

    /// Sends a one-to-one message to `target` (op `0x12`).
    fn send(
        &self,
        target: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Sends a one-to-one message whose payload is `header` followed by `payload`, without
    /// joining them first (the RPC layer uses this for its headers).
    fn zc_send(
        &self,
        target: &str,
        header: &[u8],
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Broadcasts to every client whose name matches `mask` (op `0x13`).
    fn send_broadcast(
        &self,
        mask: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Publishes to `topic` (op `0x01`).
    fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Publishes to the subscribers of `topic` whose primary name is `receiver` (op `0x06`).
    fn publish_for(
        &self,
        topic: &str,
        receiver: &str,
        payload: &[u8],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Subscribes to every pattern in `topics` with one frame (op `0x02`).
    fn subscribe_bulk(
        &self,
        topics: &[&str],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Unsubscribes from every pattern in `topics` with one frame (op `0x03`).
    fn unsubscribe_bulk(
        &self,
        topics: &[&str],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Excludes every pattern in `topics` from this client's deliveries (op `0x04`).
    fn exclude_bulk(
        &self,
        topics: &[&str],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Removes exclusions (op `0x05`).
    fn unexclude_bulk(
        &self,
        topics: &[&str],
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send;

    /// Subscribes to one pattern.
    fn subscribe(
        &self,
        topic: &str,
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        async move { self.subscribe_bulk(&[topic], qos).await }
    }

    /// Unsubscribes from one pattern.
    fn unsubscribe(
        &self,
        topic: &str,
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        async move { self.unsubscribe_bulk(&[topic], qos).await }
    }

    /// Excludes one pattern.
    fn exclude(
        &self,
        topic: &str,
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        async move { self.exclude_bulk(&[topic], qos).await }
    }

    /// Removes one exclusion.
    fn unexclude(
        &self,
        topic: &str,
        qos: QoS,
    ) -> impl Future<Output = Result<OpConfirm, Error>> + Send {
        async move { self.unexclude_bulk(&[topic], qos).await }
    }

    /// Sends a ping (9 zero bytes) so the broker's idle timer restarts. A no-op in process.
    fn ping(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether the client is still connected to the broker.
    fn is_connected(&self) -> bool;

    /// The client's timeout for waits (`None` for in-process clients, which never wait on I/O).
    fn timeout(&self) -> Option<Duration>;

    /// Changes of the connection's state, for layers built over any client (the RPC client
    /// fails its pending calls when the connection is lost, even if the client reconnects).
    /// `None` (the default) for clients whose connection is not supervised, such as in-process
    /// ones.
    fn connection_changes(&self) -> Option<watch::Receiver<ConnectionState>> {
        None
    }
}
