//! [`Client`]: connecting and registering (§2), and the [`AsyncClient`] operations over the
//! connection's writer and reader tasks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::config::{Config, Transport};
use super::reconnect::{self, ConnectionState, Supervision, Topics};
use super::state::{wait_shutdown, State};
use super::{reader, writer, writer::Outgoing};
use crate::command::{encode_request, join_topics};
use crate::protocol::{Op, GREETING, PROTOCOL_VERSION, SECONDARY_SEP};
use crate::{AsyncClient, Error, ErrorKind, EventChannel, Frame, OpConfirm, QoS};

type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

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
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    /// The current connection; replaced by a reconnect.
    link: Mutex<Link>,
    events: Mutex<Option<EventChannel>>,
    next_secondary: AtomicUsize,
    /// What to restore after a reconnect (`None`: no reconnect policy, nothing tracked). An async
    /// lock, held across a topic op's submission so the record and the wire cannot disagree.
    topics: Option<tokio::sync::Mutex<Topics>>,
    supervision: Arc<Supervision>,
}

/// One connection: its outbound queue and the state its tasks share.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    queue: mpsc::Sender<Outgoing>,
    pub(crate) state: Arc<State>,
}

impl Inner {
    /// The current connection.
    pub(crate) fn link(&self) -> Link {
        self.link
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Connects again, restores the subscriptions and exclusions (waiting for their ACKs), and
    /// only then makes the new connection the current one, so the application's operations
    /// always come after the restored state on the wire.
    pub(crate) async fn reconnect(&self, events: mpsc::Sender<Frame>) -> Result<(), Error> {
        let (rd, wr) = open_registered(&self.config).await?;
        let link = start_link(&self.config, rd, wr, events);
        let timeout = self.config.get_timeout();
        let topics = match &self.topics {
            Some(topics) => Some(topics.lock().await),
            None => None,
        };
        for (op, list) in topics.iter().flat_map(|topics| topics.replay()) {
            let list: Vec<&str> = list.iter().map(String::as_str).collect();
            let mut frame = BytesMut::new();
            encode_request(&mut frame, 0, op, QoS::Processed, &[&join_topics(&list)?])?;
            let restored = submit_on(&link, frame, QoS::Processed, timeout)
                .await?
                .await;
            if let Err(err) = restored {
                link.state.close();
                return Err(err);
            }
        }
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
        Ok(())
    }
}

/// Opens the socket and registers `config.name()`, all within the configured timeout.
async fn open_registered(config: &Config) -> Result<(ReadHalf, WriteHalf), Error> {
    let name = config.name();
    let name_len = u16::try_from(name.len())
        .map_err(|_| Error::data("the client name is longer than 65535 bytes"))?;
    let transport = config.transport()?;
    tokio::time::timeout(config.get_timeout(), async {
        let (mut rd, mut wr) = open(transport).await?;
        handshake(&mut rd, &mut wr, name, name_len).await?;
        Ok::<_, Error>((rd, wr))
    })
    .await
    .map_err(|_| {
        Error::new(
            ErrorKind::Timeout,
            format!("connecting to {} timed out", config.path()),
        )
    })?
}

/// Starts a registered connection's reader, writer and pinger.
fn start_link(config: &Config, rd: ReadHalf, wr: WriteHalf, events: mpsc::Sender<Frame>) -> Link {
    let timeout = config.get_timeout();
    let state = Arc::new(State::new());
    let (queue, queue_rx) = mpsc::channel(config.get_queue_size());
    tokio::spawn(reader::run(
        rd,
        events,
        state.clone(),
        config.get_buf_size(),
        timeout,
    ));
    tokio::spawn(writer::run(
        wr,
        queue_rx,
        state.clone(),
        config.get_buf_size(),
        timeout,
    ));
    if let Some(interval) = config.get_ping_interval() {
        tokio::spawn(writer::run_pinger(
            queue.downgrade(),
            state.clone(),
            interval,
        ));
    }
    Link { queue, state }
}

/// Queues one encoded frame on `link`, assigning its op id and registering its ACK waiter under
/// one lock, so op ids appear on the wire in order and no ACK can beat its registration.
async fn submit_on(
    link: &Link,
    mut frame: BytesMut,
    qos: QoS,
    timeout: Duration,
) -> Result<OpConfirm, Error> {
    let state = &link.state;
    if !state.is_connected() {
        return Err(Error::eof());
    }
    // Waiting for room outside the lock; the slot is then filled synchronously under it. If
    // the writer dies meanwhile, `reserve` fails (the queue is closed) or `closed` is set.
    let permit = link.queue.reserve().await.map_err(|_| Error::eof())?;
    let waiter = {
        let mut pending = state.pending();
        if pending.is_closed() {
            return Err(Error::eof());
        }
        let op_id = pending.next_op_id();
        frame[..4].copy_from_slice(&op_id.to_le_bytes());
        let waiter = qos.needs_ack().then(|| {
            let (tx, rx) = oneshot::channel();
            pending.register(op_id, tx);
            rx
        });
        permit.send(Outgoing::Frame(frame));
        waiter
    };
    Ok(match waiter {
        Some(rx) => OpConfirm::pending(rx, timeout),
        None => OpConfirm::ready(Ok(())),
    })
}

impl Client {
    /// Connects to the broker at `config.path()` and registers as `config.name()`.
    ///
    /// Connecting and the whole handshake are bounded by the configured timeout. A refused
    /// registration fails with the broker's code: [`ErrorKind::Data`] for an empty or `.`-prefixed
    /// name, [`ErrorKind::Busy`] for a taken one, [`ErrorKind::NotRegistered`] for a secondary
    /// whose primary is not connected, [`ErrorKind::Access`] when AAA refuses it. The first
    /// connection is not retried, even with [`Config::reconnect`] set.
    pub async fn connect(config: &Config) -> Result<Client, Error> {
        let (rd, wr) = open_registered(config).await?;
        let (events_tx, events_rx) = mpsc::channel(config.get_queue_size());
        let policy = config.get_reconnect();
        // With a reconnect policy the supervisor keeps a sender, so the channel outlives each
        // connection's reader; without one, the reader's is the only sender and its end ends it.
        let (reader_events, kept_events) = match policy {
            Some(_) => (events_tx.clone(), Some(events_tx)),
            None => (events_tx, None),
        };
        let link = start_link(config, rd, wr, reader_events);
        let supervision = Arc::new(Supervision::new());
        let inner = Arc::new(Inner {
            config: config.clone(),
            link: Mutex::new(link),
            events: Mutex::new(Some(events_rx)),
            next_secondary: AtomicUsize::new(0),
            topics: policy.map(|_| tokio::sync::Mutex::new(Topics::default())),
            supervision: supervision.clone(),
        });
        tokio::spawn(reconnect::supervise(
            Arc::downgrade(&inner),
            supervision,
            policy,
            kept_events,
        ));
        Ok(Client { inner })
    }

    /// Connects a secondary client `NAME%%<n>` (n = 0, 1, 2, … per primary handle) with the same
    /// configuration. A secondary cannot register secondaries of its own.
    pub async fn register_secondary(&self) -> Result<Client, Error> {
        let name = self.inner.config.name();
        if name.contains(SECONDARY_SEP) {
            return Err(Error::not_supported(
                "a secondary client cannot register secondaries",
            ));
        }
        let n = self.inner.next_secondary.fetch_add(1, Ordering::Relaxed);
        let config = self
            .inner
            .config
            .with_name(format!("{name}{SECONDARY_SEP}{n}"));
        Client::connect(&config).await
    }

    /// Closes the connection cleanly: frames queued so far are written, then the socket is shut
    /// down so the broker unregisters the client at once. ACKs not yet received fail with
    /// [`ErrorKind::Eof`]. Affects every clone of this handle, and ends reconnecting: the state
    /// becomes [`ConnectionState::Disconnected`] and the event channel ends.
    ///
    /// Bounded by the timeout; a writer that cannot finish by then is cut off.
    pub async fn disconnect(&self) {
        self.inner.supervision.close();
        let link = self.inner.link();
        let state = &link.state;
        state.mark_disconnecting();
        let mut shutdown = state.subscribe_shutdown();
        let graceful = async {
            if link.queue.send(Outgoing::Close).await.is_ok() {
                wait_shutdown(&mut shutdown).await;
            }
        };
        if tokio::time::timeout(self.inner.config.get_timeout(), graceful)
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
        &self.inner.config
    }

    /// Queues one encoded frame on the current connection.
    async fn submit(&self, frame: BytesMut, qos: QoS) -> Result<OpConfirm, Error> {
        let link = self.inner.link();
        submit_on(&link, frame, qos, self.inner.config.get_timeout()).await
    }

    /// Encodes a frame (op id 0 for now; [`submit_on`] fills it in) and queues it.
    async fn request(&self, op: Op, qos: QoS, pieces: &[&[u8]]) -> Result<OpConfirm, Error> {
        let mut frame = BytesMut::new();
        encode_request(&mut frame, 0, op, qos, pieces)?;
        self.submit(frame, qos).await
    }

    /// A subscribe-family op; with a reconnect policy, recorded for replay once it is queued.
    async fn topics_request(&self, op: Op, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        let body = join_topics(topics)?;
        let Some(tracked) = &self.inner.topics else {
            return self.request(op, qos, &[&body]).await;
        };
        let mut tracked = tracked.lock().await;
        let confirm = self.request(op, qos, &[&body]).await?;
        tracked.apply(op, topics);
        Ok(confirm)
    }
}

/// Opens the socket `transport` names and splits it into owned halves.
async fn open(transport: Transport<'_>) -> Result<(ReadHalf, WriteHalf), Error> {
    let context = |path: &str, err: std::io::Error| {
        let message = format!("{path}: {err}");
        Error::new(Error::from(err).kind(), message)
    };
    match transport {
        #[cfg(unix)]
        Transport::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|err| context(path, err))?;
            let (rd, wr) = stream.into_split();
            Ok((Box::new(rd), Box::new(wr)))
        }
        #[cfg(not(unix))]
        Transport::Unix(path) => Err(Error::not_supported(format!(
            "{path}: UNIX sockets are not available on this platform"
        ))),
        Transport::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|err| context(addr, err))?;
            // Frames are written whole, one batch per write; Nagle would only add latency.
            stream.set_nodelay(true)?;
            let (rd, wr) = stream.into_split();
            Ok((Box::new(rd), Box::new(wr)))
        }
    }
}

/// The client side of §2: check and echo the greeting, then register `name`.
async fn handshake(
    rd: &mut ReadHalf,
    wr: &mut WriteHalf,
    name: &str,
    name_len: u16,
) -> Result<(), Error> {
    let mut greeting = [0u8; 3];
    rd.read_exact(&mut greeting).await?;
    if greeting[0] != GREETING {
        return Err(Error::not_supported(format!(
            "invalid greeting byte {:#04x}",
            greeting[0]
        )));
    }
    let version = u16::from_le_bytes([greeting[1], greeting[2]]);
    if version != PROTOCOL_VERSION {
        return Err(Error::not_supported(format!(
            "unsupported protocol version {version}"
        )));
    }
    wr.write_all(&greeting).await?;
    read_result(rd, "greeting").await?;
    let mut registration = Vec::with_capacity(2 + name.len());
    registration.extend_from_slice(&name_len.to_le_bytes());
    registration.extend_from_slice(name.as_bytes());
    wr.write_all(&registration).await?;
    read_result(rd, "registration").await
}

/// Reads one result byte of the handshake; EOF instead of it is an error of its own.
async fn read_result(rd: &mut ReadHalf, step: &str) -> Result<(), Error> {
    let mut code = [0u8; 1];
    match rd.read_exact(&mut code).await {
        Ok(_) => Error::check_code(code[0])
            .map_err(|err| Error::new(err.kind(), format!("{step} refused by the broker"))),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::new(
            ErrorKind::Eof,
            format!("the broker closed the connection without answering the {step}"),
        )),
        Err(err) => Err(err.into()),
    }
}

impl AsyncClient for Client {
    fn name(&self) -> &str {
        self.inner.config.name()
    }

    fn take_event_channel(&self) -> Option<EventChannel> {
        self.inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
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
        let link = self.inner.link();
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
        self.inner.link().state.is_connected()
    }

    fn connection_changes(&self) -> Option<watch::Receiver<ConnectionState>> {
        Some(self.watch_connection())
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.inner.config.get_timeout())
    }
}
