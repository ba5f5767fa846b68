//! Opening a connection: the socket (§1), the handshake and registration (§2), the connection's
//! reader, writer and pinger tasks, and on a reconnect the restored subscriptions and
//! exclusions. It knows nothing of the [`Client`](super::Client) handle, which holds a
//! [`Connector`] and queues its frames on the connector's current [`Link`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::config::{Config, Transport};
use super::state::{queued_cost, State};
use super::topics::Topics;
use super::{reader, writer, writer::Outgoing};
use crate::command::{encode_request, join_topics};
use crate::protocol::check_greeting;
use crate::sync::recover;
use crate::{Error, ErrorKind, Frame, OpConfirm, QoS};

type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// One connection: its outbound queue and the state its tasks share.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) queue: mpsc::Sender<Outgoing>,
    pub(crate) state: Arc<State>,
}

impl Link {
    /// Queues one encoded frame on `link`, assigning its op id and registering its ACK waiter under
    /// one lock, so op ids appear on the wire in order and no ACK can beat its registration.
    pub(crate) async fn submit(
        &self,
        mut frame: BytesMut,
        qos: QoS,
        timeout: Duration,
    ) -> Result<OpConfirm, Error> {
        let state = &self.state;
        if !state.is_connected() {
            return Err(Error::eof());
        }
        // Waiting for room outside the lock, in bytes and then in frames; the slot is then filled
        // synchronously under it. If the writer dies meanwhile, the budget or the queue is
        // closed, or `closed` is set.
        let cost = queued_cost(frame.len());
        let share = state.take_queued(cost).await?;
        let permit = self.queue.reserve().await.map_err(|_| Error::eof())?;
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
            share.keep();
            waiter
        };
        Ok(match waiter {
            Some(rx) => OpConfirm::pending(rx, timeout),
            None => OpConfirm::ready(Ok(())),
        })
    }
}

/// Opens connections for one configuration: the current one, and new ones after a loss.
#[derive(Debug)]
pub(crate) struct Connector {
    config: Config,
    /// The current connection; replaced by a reconnect.
    link: Mutex<Link>,
    /// What to restore after a reconnect (`None`: no reconnect policy, nothing tracked). An async
    /// lock, held across a topic op's submission so the record and the wire cannot disagree.
    topics: Option<tokio::sync::Mutex<Topics>>,
}

impl Connector {
    /// Opens the first connection, delivering into `events`. The topic operations are tracked
    /// for replay when the configuration has a reconnect policy.
    pub(crate) async fn connect(
        config: &Config,
        events: mpsc::Sender<Frame>,
    ) -> Result<Connector, Error> {
        let (rd, wr) = open_registered(config).await?;
        let link = start_link(config, rd, wr, events);
        Ok(Connector {
            config: config.clone(),
            link: Mutex::new(link),
            topics: config
                .get_reconnect()
                .map(|_| tokio::sync::Mutex::new(Topics::default())),
        })
    }

    /// The configuration connections are opened with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The current connection.
    pub(crate) fn link(&self) -> Link {
        recover(self.link.lock()).clone()
    }

    /// The topic state to restore on a reconnect, if it is tracked.
    pub(crate) fn topics(&self) -> Option<&tokio::sync::Mutex<Topics>> {
        self.topics.as_ref()
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
            let restored = link.submit(frame, QoS::Processed, timeout).await?.await;
            if let Err(err) = restored {
                link.state.close();
                return Err(err);
            }
        }
        *recover(self.link.lock()) = link;
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
    check_greeting(&greeting)?;
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
