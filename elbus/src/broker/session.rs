//! One socket connection: handshake and registration, then a reader that routes the client's
//! frames and a writer that drains the client's outbound queue.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};
use tracing::{debug, error};

use super::access::{AccessControl, AccessRule, PeerAddress, PeerCredentials};
use super::queue::{Outgoing, PushOutcome};
use super::registry::{ClientEntry, ClientKind, Origin};
use super::router::RouteScratch;
use super::{registration_code, BrokerInner, ServerConfig};
use crate::protocol::{
    self, RequestHeader, GREETING, GREETING_BYTES, PROTOCOL_VERSION, REQUEST_HEADER_LEN,
};
use crate::{Command, Error, ErrorKind};

/// Frames at least this large are written straight from their shared buffer instead of being
/// copied into the write batch.
const DIRECT_WRITE_MIN: usize = 16 * 1024;
/// A write batch is sent once it holds this many bytes, so each write stays bounded in time.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Largest read-buffer growth step while a big frame body arrives: memory follows the bytes
/// actually received, not the length a client announces.
const MAX_READ_STEP: usize = 1 << 20;

/// Where a connection comes from, for the client table, the logs and the access rules.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) kind: ClientKind,
    pub(crate) source: Option<String>,
    pub(crate) port: Arc<str>,
    /// The peer's credentials (UNIX peers).
    pub(crate) credentials: Option<PeerCredentials>,
    /// The peer's address (TCP peers).
    pub(crate) ip: Option<IpAddr>,
    /// The access-control rules in force when the connection was accepted.
    pub(crate) access: Option<Arc<AccessControl>>,
}

impl Peer {
    /// The rule `name` is held to, or why it may not register (`Ok(None)`: no rules in force).
    fn access_rule(&self, name: &str) -> Result<Option<Arc<AccessRule>>, Error> {
        let Some(access) = &self.access else {
            return Ok(None);
        };
        let address = match self.ip {
            Some(ip) => PeerAddress::Tcp(ip),
            None => PeerAddress::Unix(self.credentials.as_ref()),
        };
        access.check_registration(name, address).map(Some)
    }
}

/// Serves one accepted connection until it closes.
pub(crate) async fn serve<R, W>(
    broker: Arc<BrokerInner>,
    mut reader: R,
    mut writer: W,
    config: Arc<ServerConfig>,
    peer: Peer,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let entry = match handshake(&broker, &mut reader, &mut writer, &config, &peer).await {
        Ok(entry) => entry,
        Err((err, name)) => {
            log_client_error(&peer.port, name.as_deref(), &err);
            return;
        }
    };
    debug!("elbus client registered: {}", entry.name);
    let result = tokio::select! {
        read = read_loop(&broker, &entry, &mut reader, &config) => read,
        written = write_loop(&entry, &mut writer, &config) => written,
    };
    // Cleanup first, so a client that reconnects at once under the same name is accepted.
    broker.unregister_entry(&entry, true);
    if let Err(err) = &result {
        if matches!(err.kind(), ErrorKind::Data | ErrorKind::Timeout) {
            entry.counters.count_forced_disconnect();
            broker.counters.count_forced_disconnect();
        }
        log_client_error(&peer.port, Some(&entry.name), err);
    }
    let _ = timeout(config.timeout, writer.shutdown()).await;
    debug!("elbus client disconnected: {}", entry.name);
}

fn log_client_error(port: &str, name: Option<&str>, err: &Error) {
    if err.kind() == ErrorKind::Eof {
        return;
    }
    match name {
        Some(name) => error!("client {port} error: {err} [{name}]"),
        None => error!("client {port} error: {err}"),
    }
}

/// Performs the handshake of `protocol.md` §2 and registers the client.
async fn handshake<R, W>(
    broker: &Arc<BrokerInner>,
    reader: &mut R,
    writer: &mut W,
    config: &ServerConfig,
    peer: &Peer,
) -> Result<Arc<ClientEntry>, (Error, Option<String>)>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    // One deadline for the whole handshake, not one per step: a client trickling a byte just
    // before each step's limit would otherwise hold the socket for several timeouts.
    let deadline = Instant::now() + config.timeout;
    let io = |err: Error| (err, None);
    timeout_at(deadline, writer.write_all(&GREETING_BYTES))
        .await
        .map_err(|e| io(e.into()))?
        .map_err(|e| io(e.into()))?;
    let mut greeting = [0u8; 3];
    timeout_at(deadline, reader.read_exact(&mut greeting))
        .await
        .map_err(|e| io(e.into()))?
        .map_err(|e| io(e.into()))?;
    if greeting[0] != GREETING || u16::from_le_bytes([greeting[1], greeting[2]]) != PROTOCOL_VERSION
    {
        let _ = timeout_at(deadline, writer.write_all(&[protocol::ERR_NOT_SUPPORTED])).await;
        return Err(io(Error::not_supported("unsupported protocol version")));
    }
    timeout_at(deadline, writer.write_all(&[protocol::RESPONSE_OK]))
        .await
        .map_err(|e| io(e.into()))?
        .map_err(|e| io(e.into()))?;
    let mut len = [0u8; 2];
    timeout_at(deadline, reader.read_exact(&mut len))
        .await
        .map_err(|e| io(e.into()))?
        .map_err(|e| io(e.into()))?;
    let mut name = vec![0u8; usize::from(u16::from_le_bytes(len))];
    timeout_at(deadline, reader.read_exact(&mut name))
        .await
        .map_err(|e| io(e.into()))?
        .map_err(|e| io(e.into()))?;
    // A name that is not UTF-8 gets no answer at all: the connection is just closed (§2).
    let name = String::from_utf8(name).map_err(|_| io(Error::data("client name is not UTF-8")))?;
    // The rules are checked before the registry is touched, so a refused client can never
    // evict a force-registered name it may not have.
    let registered = BrokerInner::validate_socket_name(&name)
        .and_then(|()| {
            peer.access_rule(&name).inspect_err(|err| {
                broker.count_denied(None, err);
            })
        })
        .map(|access| {
            let origin = Origin {
                kind: peer.kind,
                source: peer.source.clone(),
                port: Some(peer.port.clone()),
                credentials: peer.credentials,
                access,
            };
            broker.new_entry(&name, origin, config.queue)
        })
        .and_then(|entry| broker.register_entry(&entry).map(|()| entry));
    let answer = timeout_at(
        deadline,
        writer.write_all(&[registration_code(&registered)]),
    )
    .await;
    let entry = match registered {
        Ok(entry) => entry,
        Err(err) => return Err((err, Some(name))),
    };
    if let Err(err) = answer
        .map_err(Error::from)
        .and_then(|written| written.map_err(Error::from))
    {
        broker.unregister_entry(&entry, true);
        return Err((err, Some(name)));
    }
    Ok(entry)
}

/// Reads into `buf` until it holds `needed` bytes, by `deadline` (or forever when `None`).
async fn fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    needed: usize,
    deadline: Option<Instant>,
) -> Result<(), Error> {
    while buf.len() < needed {
        buf.reserve((needed - buf.len()).min(MAX_READ_STEP));
        let read = match deadline {
            Some(deadline) => timeout_at(deadline, reader.read_buf(buf)).await??,
            None => reader.read_buf(buf).await?,
        };
        if read == 0 {
            return Err(Error::eof());
        }
    }
    Ok(())
}

/// Reads and routes the client's frames until it disconnects or breaks the protocol.
async fn read_loop<R: AsyncRead + Unpin>(
    broker: &BrokerInner,
    entry: &ClientEntry,
    reader: &mut R,
    config: &ServerConfig,
) -> Result<(), Error> {
    let mut buf = BytesMut::with_capacity(config.buf_size);
    let mut scratch = RouteScratch::default();
    loop {
        if buf.is_empty() {
            // Idle: wait for the first byte of the next header for at most the idle limit.
            let deadline = config.idle_timeout.map(|idle| Instant::now() + idle);
            fill(reader, &mut buf, 1, deadline)
                .await
                .map_err(|err| match err.kind() {
                    ErrorKind::Timeout => Error::timeout(),
                    _ => err,
                })?;
        }
        let frame_deadline = Some(Instant::now() + config.timeout);
        fill(reader, &mut buf, REQUEST_HEADER_LEN, frame_deadline).await?;
        let mut header_bytes = [0u8; REQUEST_HEADER_LEN];
        header_bytes.copy_from_slice(&buf[..REQUEST_HEADER_LEN]);
        let header = RequestHeader::decode(&header_bytes);
        if header.is_ping() {
            // The length of a ping is garbage to ignore; no body follows (§3.1).
            buf.advance(REQUEST_HEADER_LEN);
            continue;
        }
        let op = header.op()?;
        if header.len > config.max_frame_size {
            return Err(Error::data(format!(
                "Payload size {} exceeds the limit of {} bytes",
                header.len, config.max_frame_size
            )));
        }
        let total = REQUEST_HEADER_LEN + header.len as usize;
        fill(reader, &mut buf, total, frame_deadline).await?;
        let body = &buf[REQUEST_HEADER_LEN..total];
        let command = Command::decode(op, body)?;
        entry.counters.count_read(body.len());
        broker.counters.count_read(body.len());
        let qos = header.qos();
        let code = broker.execute(entry, command, qos, header.op_id, &mut scratch);
        buf.advance(total);
        if let Some(code) = code {
            if qos.needs_ack() && !broker.ack(entry, header.op_id, code) {
                return Err(Error::new(ErrorKind::NotDelivered, "client queue overflow"));
            }
        }
    }
}

/// Drains the client's queue into the socket, one write per batch, and keeps the connection
/// alive with a NOP every `timeout / 2`.
async fn write_loop<W: AsyncWrite + Unpin>(
    entry: &ClientEntry,
    writer: &mut W,
    config: &ServerConfig,
) -> Result<(), Error> {
    let keepalive_period = (config.timeout / 2).max(Duration::from_millis(1));
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + keepalive_period, keepalive_period);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = VecDeque::new();
    let mut buf = BytesMut::with_capacity(config.buf_size);
    loop {
        tokio::select! {
            taken = entry.queue.take_all(&mut batch) => {
                if taken.closed {
                    return Ok(());
                }
            }
            _ = keepalive.tick() => {
                match entry.queue.push(Outgoing::Nop) {
                    PushOutcome::Overflow => {
                        return Err(Error::new(ErrorKind::NotDelivered, "client queue overflow"))
                    }
                    PushOutcome::Closed => return Ok(()),
                    _ => continue,
                }
            }
        }
        for item in batch.drain(..) {
            match item {
                Outgoing::Frame(frame) if frame.len() >= DIRECT_WRITE_MIN => {
                    write_buf(writer, &mut buf, config.timeout).await?;
                    timeout(config.timeout, writer.write_all(&frame)).await??;
                }
                small => {
                    small.encode_small(&mut buf);
                    if buf.len() >= MAX_BATCH_BYTES {
                        write_buf(writer, &mut buf, config.timeout).await?;
                    }
                }
            }
        }
        write_buf(writer, &mut buf, config.timeout).await?;
    }
}

async fn write_buf<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<(), Error> {
    if !buf.is_empty() {
        timeout(limit, writer.write_all(buf)).await??;
        buf.clear();
    }
    Ok(())
}
