//! One socket connection: handshake and registration, then a reader that routes the client's
//! frames and a writer that drains the client's outbound queue.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{timeout, timeout_at, Instant, Sleep};
use tracing::{debug, error};

use super::access::{AccessControl, AccessRule};
use super::peer::Peer;
use super::queue::{DirectSink, Outgoing, PushOutcome, Taken};
use super::registry::ClientEntry;
use super::router::RouteScratch;
use super::sink::{ConnectionWriter, DirectWrite};
use super::stats::Op;
use super::{registration_code, BrokerInner, ServerConfig};
use crate::logging::Escaped;
use crate::protocol::{self, RequestHeader, GREETING_BYTES, REQUEST_HEADER_LEN};
use crate::{Command, Error, ErrorKind};

/// Frames at least this large are written straight from their shared buffer instead of being
/// copied into the write batch.
const DIRECT_WRITE_MIN: usize = 16 * 1024;
/// A write batch is sent once it holds this many bytes, so each write stays bounded in time.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Most queue slots a writer keeps allocated between batches: a deque that grew for a large
/// backlog is given back once the backlog is written.
const KEEP_BATCH_SLOTS: usize = 1024;

/// Serves one accepted connection until it closes. `socket`, when given, is the connection's
/// write side shared with the routers, which then write to it directly while `writer` is idle.
pub(crate) async fn serve<R, W>(
    broker: Arc<BrokerInner>,
    mut reader: R,
    mut writer: W,
    socket: Option<Arc<dyn DirectWrite>>,
    config: Arc<ServerConfig>,
    peer: Peer,
) where
    R: AsyncRead + Unpin + Send,
    W: ConnectionWriter,
{
    let entry = match handshake(&broker, &mut reader, &mut writer, socket, &config, &peer).await {
        Ok(entry) => entry,
        Err((err, name)) => {
            log_client_error(&broker, peer.label(), name.as_deref(), &err);
            return;
        }
    };
    debug!("elbus client registered: {}", entry.name);
    let (result, writer_first) = {
        let read = read_loop(&broker, &entry, &mut reader, &config);
        let write = write_loop(&entry, &mut writer, &config);
        tokio::pin!(read, write);
        let (result, written) = tokio::select! {
            read = &mut read => (read, false),
            written = &mut write => (written, true),
        };
        // Cleanup first, so a client that reconnects at once under the same name is accepted.
        broker.unregister_entry(&entry, true);
        if !written {
            // The queue is closed now; what was accepted for the client before is still
            // written (a client cut off for a full queue reads it before EOF), within one more
            // timeout.
            let _ = timeout(config.timeout, &mut write).await;
        }
        (result, written)
    };
    if let Err(err) = &result {
        if matches!(err.kind(), ErrorKind::Data | ErrorKind::Timeout) {
            entry.counters.count_forced_disconnect();
            broker.counters.count_forced_disconnect();
        }
        log_client_error(&broker, peer.label(), Some(&entry.name), err);
    }
    let _ = timeout(config.timeout, writer.shutdown()).await;
    if writer_first {
        // The broker ended the connection while the client may still be sending. Its write
        // side goes first (the peer reads everything written, then EOF), and what the client
        // still sends is read and discarded until it closes (within one timeout): closing a
        // TCP socket with unread input resets the connection, and a reset discards whatever
        // the client had not read yet.
        drop(writer);
        let _ = timeout(config.timeout, discard_until_eof(&mut reader)).await;
    }
    debug!("elbus client disconnected: {}", entry.name);
}

/// Registers `entry`. When its name is still held by a socket client whose peer has already
/// hung up (a client reconnecting right after it closed, before its old session has read the
/// end of the stream), waits for that session to let the name go, until `deadline` at most,
/// instead of answering Busy (0x76) to a client that did nothing wrong.
async fn register_when_released(
    broker: &BrokerInner,
    entry: &Arc<ClientEntry>,
    deadline: Instant,
) -> Result<(), Error> {
    loop {
        // Enabled before the attempt, so an unregistration right after it is not missed.
        let released = broker.registry.released();
        tokio::pin!(released);
        released.as_mut().enable();
        match broker.register_entry(entry) {
            Err(err) if err.kind() == ErrorKind::Busy && broker.holder_hung_up(&entry.name) => {
                if timeout_at(deadline, released).await.is_err() {
                    return Err(err);
                }
            }
            result => return result,
        }
    }
}

/// Logs why a session ended (rate-limited: a client can end a session per connection; the
/// name and the error, which may quote what the client sent, are escaped).
fn log_client_error(broker: &BrokerInner, port: &str, name: Option<&str>, err: &Error) {
    if err.kind() == ErrorKind::Eof || !broker.client_error_log.allow() {
        return;
    }
    let err = Escaped(err);
    match name {
        Some(name) => error!("client {port} error: {err} [{}]", Escaped(name)),
        None => error!("client {port} error: {err}"),
    }
}

/// The rule `name` is held to, or why it may not register (`Ok(None)`: no rules in force).
fn access_rule(
    rules: Option<&AccessControl>,
    peer: &Peer,
    name: &str,
) -> Result<Option<Arc<AccessRule>>, Error> {
    rules
        .map(|rules| rules.check_registration(name, peer.access_address()))
        .transpose()
}

/// Performs the handshake of `protocol.md` §2 and registers the client.
async fn handshake<R, W>(
    broker: &Arc<BrokerInner>,
    reader: &mut R,
    writer: &mut W,
    socket: Option<Arc<dyn DirectWrite>>,
    config: &ServerConfig,
    peer: &Peer,
) -> Result<Arc<ClientEntry>, (Error, Option<String>)>
where
    R: AsyncRead + Unpin + Send,
    W: ConnectionWriter,
{
    // The rules in force as the connection is served: a later reload applies to later
    // connections only.
    let rules = config.access.as_ref().map(|shared| shared.current());
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
    if protocol::check_greeting(&greeting).is_err() {
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
    let registered = broker
        .check_socket_name(&name)
        .and_then(|()| {
            access_rule(rules.as_deref(), peer, &name).inspect_err(|err| {
                broker.count_denied(None, err);
            })
        })
        .map(|access| broker.new_entry(&name, peer.clone(), access, config.queue));
    let registered = match registered {
        Ok(entry) => register_when_released(broker, &entry, deadline)
            .await
            .map(|()| entry),
        Err(err) => Err(err),
    };
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
    // Frames routed to the client before this point wait for its writer task; from now on the
    // registration answer is out, and routers may write to the socket directly.
    if let Some(socket) = socket {
        entry.queue.set_sink(DirectSink::Socket(socket));
    }
    Ok(entry)
}

/// When a read must complete: the client's idle limit while no frame is under way, and the
/// progress and total bounds of `crate::frame_deadline` once part of a frame has arrived (a
/// large frame that keeps moving is not cut off; one trickled a byte at a time still is).
///
/// One timer serves the whole connection and is re-armed only when it fires, so a busy client
/// costs a clock read per socket read instead of a timer insertion per frame.
struct ReadDeadline {
    idle: Option<Duration>,
    frame: Duration,
    last_read: Instant,
    /// When the frame that is partly buffered began to arrive.
    frame_start: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl ReadDeadline {
    fn new(config: &ServerConfig) -> Self {
        ReadDeadline {
            idle: config.idle_timeout,
            frame: config.timeout,
            last_read: Instant::now(),
            frame_start: None,
            timer: None,
        }
    }

    /// The error of a read that missed its deadline, naming which one, for the log.
    fn expired(&self, partial_frame: Option<usize>) -> Error {
        let message = match (partial_frame, self.idle) {
            (Some(len), _) => {
                let total = crate::frame_deadline::total_bound(self.frame, len);
                let started = self.frame_start.unwrap_or(self.last_read);
                if Instant::now() >= started + total {
                    format!("frame not complete within {total:?}")
                } else {
                    format!(
                        "frame not complete within {:?} of its last progress",
                        self.frame
                    )
                }
            }
            (None, Some(idle)) => format!("idle for longer than {idle:?}"),
            (None, None) => "read timed out".to_owned(),
        };
        Error::new(ErrorKind::Timeout, message)
    }

    /// A frame was completed: the next partial one starts its bounds afresh.
    fn frame_done(&mut self) {
        self.frame_start = None;
    }

    /// The deadline of the next read, `None` when it may wait forever. `partial_frame` is the
    /// length of the frame under way (header included, as far as it is known).
    fn due(&mut self, partial_frame: Option<usize>) -> Option<Instant> {
        match partial_frame {
            Some(len) => {
                let start = *self.frame_start.get_or_insert_with(Instant::now);
                Some(crate::frame_deadline::frame_due(
                    start,
                    self.last_read.max(start),
                    self.frame,
                    len,
                ))
            }
            None => {
                self.frame_start = None;
                self.idle.map(|idle| self.last_read + idle)
            }
        }
    }

    /// Reads more bytes into `buf`, within the deadline that applies.
    async fn read<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        buf: &mut BytesMut,
        partial_frame: Option<usize>,
    ) -> Result<(), Error> {
        let Some(due) = self.due(partial_frame) else {
            return read_some(reader, buf).await;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        // A timer armed for a later deadline must be brought forward; one armed for an earlier
        // deadline (the client was active meanwhile) is only moved when it fires.
        if timer.deadline() > due || timer.is_elapsed() {
            timer.as_mut().reset(due);
        }
        loop {
            tokio::select! {
                biased;
                read = read_some(reader, buf) => {
                    self.last_read = Instant::now();
                    return read;
                }
                () = timer.as_mut() => {
                    if Instant::now() >= due {
                        return Err(self.expired(partial_frame));
                    }
                    timer.as_mut().reset(due);
                }
            }
        }
    }
}

/// Reads and discards everything until EOF (or an error).
async fn discard_until_eof<R: AsyncRead + Unpin>(reader: &mut R) {
    let mut sink = [0u8; 4096];
    while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Reads what the socket has into `buf` (at least one byte).
async fn read_some<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut BytesMut) -> Result<(), Error> {
    if reader.read_buf(buf).await? == 0 {
        return Err(Error::eof());
    }
    Ok(())
}

/// Reads and routes the client's frames until it disconnects or breaks the protocol.
///
/// Every complete frame a read brought in is routed before anything is written, so a burst of
/// frames to one client (or of ACKs to this one) leaves in one write.
async fn read_loop<R: AsyncRead + Unpin>(
    broker: &BrokerInner,
    entry: &Arc<ClientEntry>,
    reader: &mut R,
    config: &ServerConfig,
) -> Result<(), Error> {
    let mut buf = BytesMut::with_capacity(config.buf_size);
    let mut scratch = RouteScratch::default();
    let mut deadline = ReadDeadline::new(config);
    // The share of the broker-wide reading bound held for the large frame being read.
    let mut reading: Option<tokio::sync::SemaphorePermit<'_>> = None;
    loop {
        if entry.queue.is_closed() {
            // The broker has let the client go (a full queue, an eviction, a forced
            // disconnect; counted and logged there): nothing more it sent is routed.
            return Ok(());
        }
        let buffered = buf.len();
        let routed = route_buffered(broker, entry, &mut buf, config, &mut scratch);
        if scratch.flush_in_process() {
            // In-process services (the `.broker` API) mostly answer at once: one scheduler turn
            // lets their replies join the ACKs in this batch's write, one syscall instead of two
            // here and one read instead of two in the client.
            tokio::task::yield_now().await;
        }
        scratch.flush();
        let needed = routed?;
        if buf.len() != buffered {
            deadline.frame_done();
        }
        if needed > config.buf_size {
            // A large frame: its whole length is reserved from the broker-wide reading bound
            // before its body is read. Until the reservation is granted nothing more is read
            // from this socket (the client's writes wait in the kernel), within the frame
            // timeout. The buffer is sized once for the whole frame, so it is not copied while
            // it grows; its pages become resident only as the bytes arrive.
            if reading.as_ref().map(|permit| permit.num_permits()) != Some(needed) {
                // Whatever an earlier frame held goes back first: holding it while waiting could
                // starve every reader.
                drop(reading.take());
                let permits = u32::try_from(needed).unwrap_or(u32::MAX);
                let due = deadline.due(Some(needed)).unwrap_or_else(Instant::now);
                let permit = timeout_at(due, broker.read_budget.acquire_many(permits))
                    .await
                    .map_err(|_| deadline.expired(Some(needed)))?
                    .map_err(|_| Error::eof())?;
                reading = Some(permit);
                buf.reserve(needed - buf.len());
            }
        } else {
            if reading.take().is_some() {
                // The large frame is routed: give its buffer back to the allocator.
                let rest = buf.split();
                buf = BytesMut::with_capacity(config.buf_size);
                buf.extend_from_slice(&rest);
            }
            buf.reserve(config.buf_size);
        }
        // The length of the frame under way, as far as its header tells.
        let partial_frame = (!buf.is_empty()).then_some(needed);
        deadline.read(reader, &mut buf, partial_frame).await?;
        broker.socket_input();
    }
}

/// Routes every complete frame at the start of `buf`; returns the length the buffer needs to
/// hold the next frame.
fn route_buffered(
    broker: &BrokerInner,
    entry: &Arc<ClientEntry>,
    buf: &mut BytesMut,
    config: &ServerConfig,
    scratch: &mut RouteScratch,
) -> Result<usize, Error> {
    loop {
        if buf.len() < REQUEST_HEADER_LEN {
            return Ok(REQUEST_HEADER_LEN);
        }
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
        if buf.len() < total {
            return Ok(total);
        }
        let body = &buf[REQUEST_HEADER_LEN..total];
        let command = Command::decode(op, body)?;
        entry.counters.count_read(body.len());
        broker.counters.count_read(body.len());
        broker.ops.count_received(Op::of(&command), body.len());
        let qos = header.qos();
        let executed = broker.execute(entry, command, qos, header.op_id, body.len(), scratch);
        buf.advance(total);
        executed?;
    }
}

/// Writes what the routers leave to the writer task (a backlog the socket would not take at
/// once, or everything for a stream without direct writes), one write per batch, and keeps the
/// connection alive with a NOP every `timeout / 2`.
async fn write_loop<W: ConnectionWriter>(
    entry: &ClientEntry,
    writer: &mut W,
    config: &ServerConfig,
) -> Result<(), Error> {
    let keepalive_period = (config.timeout / 2).max(Duration::from_millis(1));
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + keepalive_period, keepalive_period);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = VecDeque::new();
    // When a closed queue's last frames must be written by.
    let mut drain_due = None;
    // Allocated on first use: with direct writes most connections never need it.
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            taken = entry.queue.take_all(&mut batch) => {
                if taken == Taken::Closed {
                    return Ok(());
                }
            }
            _ = keepalive.tick() => {
                let pushed = entry.queue.push(Outgoing::Nop);
                match pushed.outcome {
                    PushOutcome::Overflow => {
                        return Err(Error::new(ErrorKind::NotDelivered, "client queue overflow"))
                    }
                    PushOutcome::Closed => return Ok(()),
                    // Taken by the next turn of this loop, or by whoever is writing now.
                    _ => continue,
                }
            }
        }
        let written = if entry.queue.is_closed() {
            // The last batches of a closed queue: one timeout for all of them, however slowly
            // the client reads.
            let due = *drain_due.get_or_insert_with(|| Instant::now() + config.timeout);
            timeout_at(
                due,
                write_batch(writer, &mut batch, &mut buf, config.timeout),
            )
            .await
            .unwrap_or_else(|_| Err(Error::timeout()))
        } else {
            write_batch(writer, &mut batch, &mut buf, config.timeout).await
        };
        // Whatever was not written is dropped with its batch, and its cost released.
        batch.clear();
        if batch.capacity() > KEEP_BATCH_SLOTS {
            batch = VecDeque::new();
        }
        entry.queue.end_batch();
        written?;
    }
}

/// Writes a batch: small items gathered into `buf`, large frames straight from their shared
/// buffer, each write bounded by `limit`.
async fn write_batch<W: ConnectionWriter>(
    writer: &mut W,
    batch: &mut VecDeque<Outgoing>,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Result<(), Error> {
    for item in batch.drain(..) {
        match item {
            Outgoing::Frame { wire: frame, .. } | Outgoing::Rest(frame)
                if frame.len() >= DIRECT_WRITE_MIN =>
            {
                write_buf(writer, buf, limit).await?;
                timeout(limit, writer.write_all(&frame)).await??;
            }
            small => {
                small.encode_into(buf);
                if buf.len() >= MAX_BATCH_BYTES {
                    write_buf(writer, buf, limit).await?;
                }
            }
        }
    }
    write_buf(writer, buf, limit).await
}

async fn write_buf<W: ConnectionWriter>(
    writer: &mut W,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Result<(), Error> {
    if !buf.is_empty() {
        timeout(limit, writer.write_all(buf)).await??;
        buf.clear();
    }
    Ok(())
}
