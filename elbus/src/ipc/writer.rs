//! The outbound half of a connection: one task drains the frame queue into the socket, gathering
//! whatever is queued into one vectored write, and an optional pinger feeds it pings.
//!
//! The queue is bounded twice: in frames (`Config::queue_size`) by the channel, and in bytes
//! ([`QUEUED_BYTES`](super::state::QUEUED_BYTES)) by the connection's byte budget, so callers sending large frames wait for
//! the socket instead of piling up gigabytes in memory (and starving the writer of the CPU it
//! needs to drain them).

use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::state::{queued_cost, wait_shutdown, State};
use crate::frame_deadline::frame_due;
use crate::protocol::PING_FRAME;
use crate::{Error, ErrorKind};

/// Queued frames smaller than this are copied together into one buffer of the write; larger ones
/// are written from their own buffer (a gather write), never copied.
const GATHER_MIN: usize = 16 * 1024;

/// Most buffers handed to one vectored write (well below the kernel's `IOV_MAX` of 1024).
const MAX_SLICES: usize = 64;

/// An item of the outbound queue.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A complete client→broker frame, its op id already filled in; it holds
    /// [`queued_cost`] of the byte budget until written.
    Frame(BytesMut),
    /// A ping; the sender, if any, learns whether its write succeeded.
    Ping(Option<oneshot::Sender<Result<(), Error>>>),
    /// Write what is queued before this, shut the socket down and stop.
    Close,
}

/// Runs the writer until the queue closes, a [`Outgoing::Close`] arrives, a write fails or the
/// connection is shut down from elsewhere; then closes the shared state.
pub(crate) async fn run<W>(
    mut sock: W,
    mut rx: mpsc::Receiver<Outgoing>,
    state: Arc<State>,
    buf_size: usize,
    timeout: Duration,
) where
    W: AsyncWrite + Unpin,
{
    match write_loop(&mut sock, &mut rx, &state, buf_size, timeout).await {
        Ok(()) => tracing::debug!("elbus client writer finished"),
        Err(err) => tracing::warn!("elbus client write failed: {err}"),
    }
    // Close before `rx` is dropped: a caller that got a queue slot then registers nothing and
    // queues nothing (the `closed` check under the pending lock), so no waiter is left behind.
    state.close();
}

/// One write's worth of queued items.
#[derive(Default)]
struct Batch {
    /// The buffers to write in order: large frames as they are, runs of small ones joined.
    segments: Vec<BytesMut>,
    /// Bytes in `segments`.
    len: usize,
    /// The byte budget the batch's frames hold, given back once it is written.
    cost: usize,
    pings: Vec<oneshot::Sender<Result<(), Error>>>,
}

impl Batch {
    /// Appends one queue item; returns whether the writer should close afterwards.
    fn add(&mut self, item: Option<Outgoing>) -> bool {
        match item {
            Some(Outgoing::Frame(frame)) => {
                self.cost += queued_cost(frame.len()) as usize;
                self.push(frame);
            }
            Some(Outgoing::Ping(waiter)) => {
                self.push(BytesMut::from(&PING_FRAME[..]));
                self.pings.extend(waiter);
            }
            Some(Outgoing::Close) | None => return true,
        }
        false
    }

    fn push(&mut self, frame: BytesMut) {
        self.len += frame.len();
        match self.segments.last_mut() {
            // A small frame joins the small ones before it (one copy of a few bytes beats a
            // buffer of its own in the write); a lone or large frame is taken as it is.
            Some(last) if frame.len() < GATHER_MIN && last.len() < GATHER_MIN => {
                last.extend_from_slice(&frame);
            }
            _ => self.segments.push(frame),
        }
    }

    fn is_full(&self, buf_size: usize) -> bool {
        self.len >= buf_size || self.segments.len() >= MAX_SLICES
    }
}

async fn write_loop<W>(
    sock: &mut W,
    rx: &mut mpsc::Receiver<Outgoing>,
    state: &State,
    buf_size: usize,
    timeout: Duration,
) -> Result<(), Error>
where
    W: AsyncWrite + Unpin,
{
    let mut shutdown_rx = state.subscribe_shutdown();
    // One shutdown future for the connection's life, not one (and a waiter registration) per
    // batch.
    let shutdown = wait_shutdown(&mut shutdown_rx);
    tokio::pin!(shutdown);
    loop {
        let first = match rx.try_recv() {
            Ok(item) => Some(item),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            // No yield before writing a lone frame: measured with the benchmark's RPC stages
            // (one call in flight per connection) it only added an `epoll_wait` per call.
            Err(mpsc::error::TryRecvError::Empty) => tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                item = rx.recv() => item,
            },
        };
        // Gather everything already queued (up to about `buf_size` bytes) into one write; the
        // batch is written as soon as the queue is drained, so there is no flush timer.
        let mut batch = Batch::default();
        let mut closing = batch.add(first);
        while !closing && !batch.is_full(buf_size) {
            match rx.try_recv() {
                Ok(item) => closing = batch.add(Some(item)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => closing = true,
            }
        }
        if batch.len > 0 {
            let written = tokio::select! {
                biased;
                () = &mut shutdown => Err(Error::eof()),
                written = write_segments(sock, &mut batch.segments, batch.len, timeout) => written,
            };
            state.release_queued(batch.cost);
            for waiter in batch.pings.drain(..) {
                let _ = waiter.send(written.clone());
            }
            written?;
        }
        if closing {
            // A clean close: the broker sees EOF and unregisters the client at once (§8.5).
            let _ = tokio::time::timeout(timeout, sock.shutdown()).await;
            return Ok(());
        }
    }
}

/// Writes `segments` (`len` bytes together) with vectored writes, within the bounds of
/// `crate::frame_deadline`: no `timeout` without progress, and a total that grows with `len`,
/// so a large batch to a busy broker is not cut off while it moves.
async fn write_segments<W>(
    sock: &mut W,
    segments: &mut [BytesMut],
    len: usize,
    timeout: Duration,
) -> Result<(), Error>
where
    W: AsyncWrite + Unpin,
{
    let start = Instant::now();
    let mut progress = start;
    let mut first = 0;
    while first < segments.len() {
        let slices: Vec<IoSlice<'_>> = segments[first..]
            .iter()
            .take(MAX_SLICES)
            .map(|segment| IoSlice::new(segment))
            .collect();
        let due = frame_due(start, progress, timeout, len);
        let written = match tokio::time::timeout_at(due, sock.write_vectored(&slices)).await {
            Ok(written) => written?,
            Err(_elapsed) => {
                return Err(Error::new(ErrorKind::Timeout, "socket write timed out"));
            }
        };
        if written == 0 {
            return Err(Error::new(
                ErrorKind::Eof,
                "the socket accepts no more bytes",
            ));
        }
        progress = Instant::now();
        let mut left = written;
        while left > 0 {
            let segment = &mut segments[first];
            let step = left.min(segment.len());
            segment.advance(step);
            left -= step;
            if segment.is_empty() {
                first += 1;
            }
        }
    }
    sock.flush().await?;
    Ok(())
}

/// Queues a ping every `interval` until the connection closes or every client handle is gone.
pub(crate) async fn run_pinger(
    queue: mpsc::WeakSender<Outgoing>,
    state: Arc<State>,
    interval: Duration,
) {
    let mut shutdown = state.subscribe_shutdown();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = wait_shutdown(&mut shutdown) => return,
            _ = ticker.tick() => {}
        }
        // A weak handle, so the pinger alone does not keep the connection open after the
        // application dropped its last client handle.
        let Some(queue) = queue.upgrade() else { return };
        // A full queue means frames are waiting to be written anyway; skip this ping then.
        if let Err(mpsc::error::TrySendError::Closed(_)) = queue.try_send(Outgoing::Ping(None)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_are_joined_and_large_ones_kept_whole() {
        let mut batch = Batch::default();
        let large = BytesMut::from(&vec![7u8; GATHER_MIN][..]);
        let large_ptr = large.as_ptr();
        for item in [
            Outgoing::Frame(BytesMut::from(&b"ab"[..])),
            Outgoing::Frame(BytesMut::from(&b"cd"[..])),
            Outgoing::Frame(large),
            Outgoing::Ping(None),
        ] {
            assert!(!batch.add(Some(item)));
        }
        assert_eq!(batch.segments.len(), 3);
        assert_eq!(&batch.segments[0][..], b"abcd");
        // The large frame is written from its own buffer: not copied.
        assert_eq!(batch.segments[1].as_ptr(), large_ptr);
        assert_eq!(&batch.segments[2][..], &PING_FRAME[..]);
        assert_eq!(batch.len, 4 + GATHER_MIN + PING_FRAME.len());
        assert_eq!(batch.cost, 4 + GATHER_MIN);
        assert!(batch.add(Some(Outgoing::Close)));
    }

    #[test]
    fn a_frame_over_the_budget_costs_the_whole_budget() {
        assert_eq!(queued_cost(100), 100);
        assert_eq!(
            queued_cost(usize::MAX),
            crate::ipc::state::QUEUED_BYTES as u32
        );
    }
}
