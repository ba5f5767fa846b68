//! [`Client`], the handle: the [`AsyncClient`] operations, queued on the current connection of
//! its [`Connector`], and disconnecting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot, watch};

use super::config::Config;
use super::connector::Connector;
use super::reconnect::{self, Supervision};
use super::state::wait_shutdown;
use super::writer::Outgoing;
use crate::client::ConnectionState;
use crate::command::{encode_request, join_topics};
use crate::protocol::{Op, SECONDARY_SEP};
use crate::sync::recover;
use crate::{AsyncClient, Error, EventChannel, OpConfirm, QoS};

/// A client connected to a broker over a UNIX or TCP socket.
///
/// A cheap handle: clones share the one connection. The connection closes cleanly (queued frames
/// are written, then the socket is shut down) on [`disconnect`](Client::disconnect) or when the
/// last handle is dropped; it is lost when the broker closes it or a write fails or times out.
/// Then [`is_connected`](AsyncClient::is_connected) turns false, every pending ACK fails with
/// [`ErrorKind::Eof`], and the event channel ends — unless [`Config::reconnect`] is set: then
/// the client connects again with backoff, registers, restores its subscriptions and exclusions,
/// and keeps delivering into the same event channel. [`Client::watch_connection`] reports each
/// change.
///
/// Must be used inside a Tokio runtime: connecting spawns the connection's tasks.
///
/// [`ErrorKind::Eof`]: crate::ErrorKind::Eof
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// What the handles share: the connector (and through it the current connection), the event
/// channel until it is taken, and the supervision of reconnects.
#[derive(Debug)]
struct Inner {
    connector: Arc<Connector>,
    events: Mutex<Option<EventChannel>>,
    next_secondary: AtomicUsize,
    supervision: Arc<Supervision>,
}

impl Client {
    /// Connects to the broker at `config.path()` and registers as `config.name()`.
    ///
    /// Connecting and the whole handshake are bounded by the configured timeout. A refused
    /// registration fails with the broker's code: [`ErrorKind::Data`] for an empty or `.`-prefixed
    /// name, [`ErrorKind::Busy`] for a taken one, [`ErrorKind::NotRegistered`] for a secondary
    /// whose primary is not connected, [`ErrorKind::Access`] when AAA refuses it. The first
    /// connection is not retried, even with [`Config::reconnect`] set.
    ///
    /// [`ErrorKind::Data`]: crate::ErrorKind::Data
    /// [`ErrorKind::Busy`]: crate::ErrorKind::Busy
    /// [`ErrorKind::NotRegistered`]: crate::ErrorKind::NotRegistered
    /// [`ErrorKind::Access`]: crate::ErrorKind::Access
    pub async fn connect(config: &Config) -> Result<Client, Error> {
        let (events_tx, events_rx) = mpsc::channel(config.get_queue_size());
        let policy = config.get_reconnect();
        // With a reconnect policy the supervisor keeps a sender, so the channel outlives each
        // connection's reader; without one, the reader's is the only sender and its end ends it.
        let (reader_events, kept_events) = match policy {
            Some(_) => (events_tx.clone(), Some(events_tx)),
            None => (events_tx, None),
        };
        let connector = Arc::new(Connector::connect(config, reader_events).await?);
        let supervision = Arc::new(Supervision::new());
        tokio::spawn(reconnect::supervise(
            Arc::downgrade(&connector),
            supervision.clone(),
            policy,
            kept_events,
        ));
        let inner = Arc::new(Inner {
            connector,
            events: Mutex::new(Some(events_rx)),
            next_secondary: AtomicUsize::new(0),
            supervision,
        });
        Ok(Client { inner })
    }

    /// Connects a secondary client `NAME%%<n>` (n = 0, 1, 2, … per primary handle) with the same
    /// configuration. A secondary cannot register secondaries of its own.
    pub async fn register_secondary(&self) -> Result<Client, Error> {
        let name = self.inner.connector.config().name();
        if name.contains(SECONDARY_SEP) {
            return Err(Error::not_supported(
                "a secondary client cannot register secondaries",
            ));
        }
        let n = self.inner.next_secondary.fetch_add(1, Ordering::Relaxed);
        let config = self
            .inner
            .connector
            .config()
            .with_name(format!("{name}{SECONDARY_SEP}{n}"));
        Client::connect(&config).await
    }

    /// Closes the connection cleanly: frames queued so far are written, then the socket is shut
    /// down so the broker unregisters the client at once. ACKs not yet received fail with
    /// [`ErrorKind::Eof`]. Affects every clone of this handle, and ends reconnecting: the state
    /// becomes [`ConnectionState::Disconnected`] and the event channel ends.
    ///
    /// Bounded by the timeout; a writer that cannot finish by then is cut off.
    ///
    /// [`ErrorKind::Eof`]: crate::ErrorKind::Eof
    pub async fn disconnect(&self) {
        self.inner.supervision.close();
        let link = self.inner.connector.link();
        let state = &link.state;
        state.mark_disconnecting();
        let mut shutdown = state.subscribe_shutdown();
        let graceful = async {
            if link.queue.send(Outgoing::Close).await.is_ok() {
                wait_shutdown(&mut shutdown).await;
            }
        };
        if tokio::time::timeout(self.inner.connector.config().get_timeout(), graceful)
            .await
            .is_err()
        {
            state.close();
        }
    }

    /// The connection state now.
    pub fn connection_state(&self) -> ConnectionState {
        *self.inner.supervision.status.borrow()
    }

    /// A receiver of connection state changes: [`ConnectionState::Reconnecting`] as soon as a
    /// connection is lost (with a reconnect policy), [`ConnectionState::Connected`] once a new
    /// one is registered and its subscriptions restored, [`ConnectionState::Disconnected`] at
    /// the end. `changed()` / `wait_for()` on it await the next change.
    pub fn watch_connection(&self) -> watch::Receiver<ConnectionState> {
        self.inner.supervision.status.subscribe()
    }

    /// The configuration the client was connected with.
    pub fn config(&self) -> &Config {
        self.inner.connector.config()
    }

    /// Queues one encoded frame on the current connection.
    async fn submit(&self, frame: BytesMut, qos: QoS) -> Result<OpConfirm, Error> {
        let timeout = self.inner.connector.config().get_timeout();
        self.inner
            .connector
            .link()
            .submit(frame, qos, timeout)
            .await
    }

    /// Encodes a frame (op id 0 for now; `Link::submit` fills it in) and queues it.
    async fn request(&self, op: Op, qos: QoS, pieces: &[&[u8]]) -> Result<OpConfirm, Error> {
        let mut frame = BytesMut::new();
        encode_request(&mut frame, 0, op, qos, pieces)?;
        self.submit(frame, qos).await
    }

    /// A subscribe-family op; with a reconnect policy, recorded for replay once it is queued.
    async fn topics_request(&self, op: Op, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        let body = join_topics(topics)?;
        let Some(tracked) = self.inner.connector.topics() else {
            return self.request(op, qos, &[&body]).await;
        };
        let mut tracked = tracked.lock().await;
        let confirm = self.request(op, qos, &[&body]).await?;
        tracked.apply(op, topics);
        Ok(confirm)
    }
}

impl AsyncClient for Client {
    fn name(&self) -> &str {
        self.inner.connector.config().name()
    }

    fn take_event_channel(&self) -> Option<EventChannel> {
        recover(self.inner.events.lock()).take()
    }

    async fn send(&self, target: &str, payload: &[u8], qos: QoS) -> Result<OpConfirm, Error> {
        self.request(Op::Message, qos, &[target.as_bytes(), &[0], payload])
            .await
    }

    async fn zc_send(
        &self,
        target: &str,
        header: &[u8],
        payload: &[u8],
        qos: QoS,
    ) -> Result<OpConfirm, Error> {
        self.request(
            Op::Message,
            qos,
            &[target.as_bytes(), &[0], header, payload],
        )
        .await
    }

    async fn send_broadcast(
        &self,
        mask: &str,
        payload: &[u8],
        qos: QoS,
    ) -> Result<OpConfirm, Error> {
        self.request(Op::Broadcast, qos, &[mask.as_bytes(), &[0], payload])
            .await
    }

    async fn publish(&self, topic: &str, payload: &[u8], qos: QoS) -> Result<OpConfirm, Error> {
        self.request(Op::Publish, qos, &[topic.as_bytes(), &[0], payload])
            .await
    }

    async fn publish_for(
        &self,
        topic: &str,
        receiver: &str,
        payload: &[u8],
        qos: QoS,
    ) -> Result<OpConfirm, Error> {
        self.request(
            Op::PublishFor,
            qos,
            &[topic.as_bytes(), &[0], receiver.as_bytes(), &[0], payload],
        )
        .await
    }

    async fn subscribe_bulk(&self, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        self.topics_request(Op::Subscribe, topics, qos).await
    }

    async fn unsubscribe_bulk(&self, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        self.topics_request(Op::Unsubscribe, topics, qos).await
    }

    async fn exclude_bulk(&self, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        self.topics_request(Op::Exclude, topics, qos).await
    }

    async fn unexclude_bulk(&self, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        self.topics_request(Op::Unexclude, topics, qos).await
    }

    /// Writes a ping (9 zero bytes) and waits until it has been written.
    async fn ping(&self) -> Result<(), Error> {
        let link = self.inner.connector.link();
        if !link.state.is_connected() {
            return Err(Error::eof());
        }
        let (tx, rx) = oneshot::channel();
        link.queue
            .send(Outgoing::Ping(Some(tx)))
            .await
            .map_err(|_| Error::eof())?;
        // The writer answers after the write (itself bounded by the timeout), or drops the
        // sender when it stops first.
        rx.await.unwrap_or_else(|_| Err(Error::eof()))
    }

    fn is_connected(&self) -> bool {
        self.inner.connector.link().state.is_connected()
    }

    fn connection_changes(&self) -> Option<watch::Receiver<ConnectionState>> {
        Some(self.watch_connection())
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.inner.connector.config().get_timeout())
    }
}
