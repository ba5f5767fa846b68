//! The write side of a client connection: how its writer task writes a batch, and how a router
//! writes straight into the socket of a client whose writer is idle.
//!
//! Waking a client's writer task for every routed frame costs a task switch and, on a
//! multi-threaded runtime, often a thread wake-up: more than the write itself. So when a frame
//! is queued for a client nobody is writing to, the task that routed it writes the queue into
//! the client's socket at once with a non-blocking `try_write` ([`DirectWrite`]); only what the
//! socket does not take is left to the writer task, which waits for the socket to drain.

use std::future::Future;
use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A socket that any task may write to without waiting (the tokio socket write halves).
pub(crate) trait DirectWrite: Send + Sync + 'static {
    /// Writes what the socket takes now, without waiting; `WouldBlock` when it takes nothing.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;

    /// Whether the peer has closed the connection (or it failed), though the session may not
    /// have read that far yet.
    fn peer_hung_up(&self) -> bool;
}

/// Asks the kernel, without waiting, whether the peer of socket `fd` has shut its side down.
fn hung_up(fd: std::os::fd::RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for the duration of the call, and a zero timeout.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// A socket write half that can wait until it is writable.
pub(crate) trait SocketWrite: DirectWrite {
    /// Waits until the socket may take more bytes.
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send;
}

macro_rules! socket_write_half {
    ($half:ty) => {
        impl DirectWrite for $half {
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$half>::try_write(self, buf)
            }

            fn peer_hung_up(&self) -> bool {
                hung_up(std::os::fd::AsRawFd::as_raw_fd(self.as_ref()))
            }
        }

        impl SocketWrite for $half {
            fn writable(&self) -> impl Future<Output = io::Result<()>> + Send {
                <$half>::writable(self)
            }
        }
    };
}

socket_write_half!(tokio::net::unix::OwnedWriteHalf);
socket_write_half!(tokio::net::tcp::OwnedWriteHalf);

/// How a connection's writer task writes: the handshake answers and the batches of its queue.
pub(crate) trait ConnectionWriter: Send {
    /// Writes all of `buf`, waiting for the peer as needed.
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// Ends the connection's write side once everything is written.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}

/// Any byte stream (an in-memory pipe, say): written by the writer task only.
pub(crate) struct StreamWriter<W>(pub(crate) W);

impl<W: AsyncWrite + Unpin + Send> ConnectionWriter for StreamWriter<W> {
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.0.shutdown().await
    }
}

/// A socket shared with the routers, which write to it directly while the writer task is idle.
pub(crate) struct SharedSocket<S>(pub(crate) std::sync::Arc<S>);

impl<S: SocketWrite> ConnectionWriter for SharedSocket<S> {
    async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.0.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => buf = &buf[written..],
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.0.writable().await?,
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        // A socket has no user-space buffer to flush; the write half shuts the socket's write
        // side down when its last reference is dropped.
        Ok(())
    }
}
