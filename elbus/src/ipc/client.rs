//! [`Client`]: connecting and registering (§2), and the [`AsyncClient`] operations over the
//! connection's writer and reader tasks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::config::{Config, Transport};
use super::state::{wait_shutdown, State};
use super::{reader, writer, writer::Outgoing};
use crate::command::{encode_request, join_topics};
use crate::protocol::{Op, GREETING, PROTOCOL_VERSION, SECONDARY_SEP};
use crate::{AsyncClient, Error, ErrorKind, EventChannel, OpConfirm, QoS};

type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A client connected to a broker over a UNIX or TCP socket.
///
/// A cheap handle: clones share the one connection. The connection closes cleanly (queued frames
/// are written, then the socket is shut down) on [`disconnect`](Client::disconnect) or when the
/// last handle is dropped; it is lost when the broker closes it or a write fails or times out.
/// Then [`is_connected`](AsyncClient::is_connected) turns false, every pending ACK fails with
/// [`ErrorKind::Eof`], and the event channel ends.
///
/// Must be used inside a Tokio runtime: connecting spawns the connection's tasks.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    queue: mpsc::Sender<Outgoing>,
    state: Arc<State>,
    events: Mutex<Option<EventChannel>>,
    next_secondary: AtomicUsize,
}

impl Client {
    /// Connects to the broker at `config.path()` and registers as `config.name()`.
    ///
    /// Connecting and the whole handshake are bounded by the configured timeout. A refused
    /// registration fails with the broker's code: [`ErrorKind::Data`] for an empty or `.`-prefixed
    /// name, [`ErrorKind::Busy`] for a taken one, [`ErrorKind::NotRegistered`] for a secondary
    /// whose primary is not connected, [`ErrorKind::Access`] when AAA refuses it.
    pub async fn connect(config: &Config) -> Result<Client, Error> {
        let name = config.name();
        let name_len = u16::try_from(name.len())
            .map_err(|_| Error::data("the client name is longer than 65535 bytes"))?;
        let transport = config.transport()?;
        let timeout = config.get_timeout();
        let (rd, wr) = tokio::time::timeout(timeout, async {
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
        })??;

        let state = Arc::new(State::new());
        let (queue, queue_rx) = mpsc::channel(config.get_queue_size());
        let (events_tx, events_rx) = mpsc::channel(config.get_queue_size());
        tokio::spawn(reader::run(
            rd,
            events_tx,
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
        Ok(Client {
            inner: Arc::new(Inner {
                config: config.clone(),
                queue,
                state,
                events: Mutex::new(Some(events_rx)),
                next_secondary: AtomicUsize::new(0),
            }),
        })
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
    /// [`ErrorKind::Eof`]. Affects every clone of this handle.
    ///
    /// Bounded by the timeout; a writer that cannot finish by then is cut off.
    pub async fn disconnect(&self) {
        let state = &self.inner.state;
        state.mark_disconnecting();
        let mut shutdown = state.subscribe_shutdown();
        let graceful = async {
            if self.inner.queue.send(Outgoing::Close).await.is_ok() {
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

    /// The configuration the client was connected with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Queues one encoded frame, assigning its op id and registering its ACK waiter under one
    /// lock, so op ids appear on the wire in order and no ACK can beat its registration.
    async fn submit(&self, mut frame: BytesMut, qos: QoS) -> Result<OpConfirm, Error> {
        let state = &self.inner.state;
        if !state.is_connected() {
            return Err(Error::eof());
        }
        // Waiting for room outside the lock; the slot is then filled synchronously under it. If
        // the writer dies meanwhile, `reserve` fails (the queue is closed) or `closed` is set.
        let permit = self.inner.queue.reserve().await.map_err(|_| Error::eof())?;
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
            Some(rx) => OpConfirm::pending(rx, self.inner.config.get_timeout()),
            None => OpConfirm::ready(Ok(())),
        })
    }

    /// Encodes a frame (op id 0 for now; [`submit`](Self::submit) fills it in) and queues it.
    async fn request(&self, op: Op, qos: QoS, pieces: &[&[u8]]) -> Result<OpConfirm, Error> {
        let mut frame = BytesMut::new();
        encode_request(&mut frame, 0, op, qos, pieces)?;
        self.submit(frame, qos).await
    }

    async fn topics_request(&self, op: Op, topics: &[&str], qos: QoS) -> Result<OpConfirm, Error> {
        let body = join_topics(topics)?;
        self.request(op, qos, &[&body]).await
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
        if !self.inner.state.is_connected() {
            return Err(Error::eof());
        }
        let (tx, rx) = oneshot::channel();
        self.inner
            .queue
            .send(Outgoing::Ping(Some(tx)))
            .await
            .map_err(|_| Error::eof())?;
        // The writer answers after the write (itself bounded by the timeout), or drops the
        // sender when it stops first.
        rx.await.unwrap_or_else(|_| Err(Error::eof()))
    }

    fn is_connected(&self) -> bool {
        self.inner.state.is_connected()
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.inner.config.get_timeout())
    }
}
