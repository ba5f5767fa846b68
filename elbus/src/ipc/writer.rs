//! The outbound half of a connection: one task drains the frame queue into the socket, coalescing
//! whatever is queued into one write, and an optional pinger feeds it pings.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::state::{wait_shutdown, State};
use crate::protocol::PING_FRAME;
use crate::Error;

/// An item of the outbound queue.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A complete client→broker frame, its op id already filled in.
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
    let mut shutdown = state.subscribe_shutdown();
    let mut ping_waiters = Vec::new();
    loop {
        let first = tokio::select! {
            biased;
            () = wait_shutdown(&mut shutdown) => return Ok(()),
            item = rx.recv() => item,
        };
        // Coalesce everything already queued (up to about `buf_size` bytes) into one write; the
        // batch is flushed as soon as the queue is drained, so there is no flush timer.
        let mut batch = BytesMut::new();
        let mut closing = add(&mut batch, first, &mut ping_waiters);
        while !closing && batch.len() < buf_size {
            match rx.try_recv() {
                Ok(item) => closing = add(&mut batch, Some(item), &mut ping_waiters),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => closing = true,
            }
        }
        if !batch.is_empty() {
            let written = tokio::select! {
                biased;
                () = wait_shutdown(&mut shutdown) => Err(Error::eof()),
                written = tokio::time::timeout(timeout, sock.write_all(&batch)) => match written {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(Error::from(err)),
                    Err(_elapsed) => Err(Error::new(crate::ErrorKind::Timeout, "socket write timed out")),
                },
            };
            for waiter in ping_waiters.drain(..) {
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

/// Appends one queue item to the batch; returns whether the writer should close afterwards.
fn add(
    batch: &mut BytesMut,
    item: Option<Outgoing>,
    ping_waiters: &mut Vec<oneshot::Sender<Result<(), Error>>>,
) -> bool {
    match item {
        // Reuse the first frame's own buffer, so a lone frame is written without a copy.
        Some(Outgoing::Frame(frame)) if batch.is_empty() => *batch = frame,
        Some(Outgoing::Frame(frame)) => batch.extend_from_slice(&frame),
        Some(Outgoing::Ping(waiter)) => {
            batch.extend_from_slice(&PING_FRAME);
            ping_waiters.extend(waiter);
        }
        Some(Outgoing::Close) | None => return true,
    }
    false
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
