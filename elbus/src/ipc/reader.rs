//! The inbound half of a connection: reads 6-byte broker headers (§4), resolves ACKs and hands
//! delivered frames to the application's bounded event channel.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::state::{wait_shutdown, State};
use crate::frame_deadline::frame_due;
use crate::protocol::{DeliveryHeader, FrameKind, DELIVERY_HEADER_LEN};
use crate::{Error, ErrorKind, Frame};

/// The most a body buffer is allocated ahead of the bytes that fill it: the length field comes
/// from the peer, and a bogus 4 GiB length must not allocate 4 GiB before any of it arrives. A
/// body up to this size (the broker's default frame limit, 64 MiB, and its header) gets its
/// whole buffer at once, so it is never copied while it grows; the allocation is virtual
/// memory, whose pages become resident only as the bytes arrive.
const MAX_PREALLOC: usize = (64 << 20) + 4096;

/// Runs the reader until EOF, a protocol error or shutdown; then closes the shared state and,
/// by returning, drops the event channel's sender so the application sees the end.
pub(crate) async fn run<R>(
    sock: R,
    events: mpsc::Sender<Frame>,
    state: Arc<State>,
    buf_size: usize,
    timeout: Duration,
) where
    R: AsyncRead + Unpin,
{
    let mut shutdown = state.subscribe_shutdown();
    let mut sock = BufReader::with_capacity(buf_size, sock);
    let result = tokio::select! {
        biased;
        () = wait_shutdown(&mut shutdown) => Ok(()),
        result = read_loop(&mut sock, &events, &state, timeout) => result,
    };
    match result {
        Ok(()) => tracing::debug!("elbus client reader stopped"),
        Err(err) if err.kind() == ErrorKind::Eof => {
            tracing::debug!("elbus client connection closed: {err}");
        }
        Err(err) => tracing::warn!("elbus client read failed: {err}"),
    }
    // Disconnected and every ACK waiter failed before the event channel closes, so a consumer that
    // sees the channel end also sees `is_connected() == false`.
    state.close();
    drop(events);
}

async fn read_loop<R>(
    sock: &mut BufReader<R>,
    events: &mpsc::Sender<Frame>,
    state: &State,
    timeout: Duration,
) -> Result<(), Error>
where
    R: AsyncRead + Unpin,
{
    let mut bytes = [0u8; DELIVERY_HEADER_LEN];
    loop {
        // No timeout here: a client may sit idle as long as it likes (the broker's NOPs arrive
        // every timeout/2 anyway).
        sock.read_exact(&mut bytes).await?;
        let header = DeliveryHeader::decode(&bytes)?;
        match header.kind() {
            // A keepalive: exactly 6 bytes, no body (§16.1).
            FrameKind::Nop => {}
            FrameKind::Ack => state.resolve_ack(header.op_id(), header.code()),
            kind @ (FrameKind::Message | FrameKind::Broadcast | FrameKind::Publish) => {
                let len = usize::try_from(header.body_len())
                    .map_err(|_| Error::data("frame too large"))?;
                let body = read_body(sock, len, timeout).await?;
                let frame = Frame::from_body(kind, header.is_realtime(), body)?;
                // Waits while the channel is full: the socket is then not read, which is the
                // backpressure §8.4 describes. If the application dropped the receiver, frames are
                // discarded but ACKs keep being read.
                let _ = events.send(frame).await;
            }
        }
    }
}

/// Reads exactly `len` body bytes, growing the buffer as they arrive, within the bounds of
/// `crate::frame_deadline` (no `timeout` without progress; a total that grows with `len`).
async fn read_body<R>(
    sock: &mut BufReader<R>,
    len: usize,
    timeout: Duration,
) -> Result<Bytes, Error>
where
    R: AsyncRead + Unpin,
{
    let start = Instant::now();
    let mut progress = start;
    let mut body = BytesMut::with_capacity(len.min(MAX_PREALLOC));
    while body.len() < len {
        let remaining = len - body.len();
        if body.capacity() == body.len() {
            body.reserve(remaining.min(body.len().max(MAX_PREALLOC)));
        }
        // `take` keeps the read inside this body even if `reserve` gave more room than asked for.
        let due = frame_due(start, progress, timeout, len);
        let read =
            tokio::time::timeout_at(due, (&mut *sock).take(remaining as u64).read_buf(&mut body))
                .await
                .map_err(|_| Error::new(ErrorKind::Timeout, "frame body read timed out"))??;
        if read == 0 {
            return Err(Error::new(
                ErrorKind::Eof,
                "connection closed inside a frame",
            ));
        }
        progress = Instant::now();
    }
    Ok(body.freeze())
}
