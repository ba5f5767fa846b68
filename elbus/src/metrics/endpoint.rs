//! The metrics HTTP endpoint: `GET /metrics` (a registry in the Prometheus text format) and
//! `GET /healthz` (`ok`), over plain HTTP/1.1, one request per connection.
//!
//! A local user may connect to it, so every resource it holds is bounded
//! ([`EndpointLimits`]): connections served at once (more are not accepted until one ends:
//! they wait in the kernel's listen backlog), the bytes of a request head (431 past it), the time to send the head
//! (408 past it) and to take the reply. The connection is closed after the reply. It runs on
//! tasks of its own and reads only atomics and the client table, so a scrape never holds up
//! routing; a request never reaches the broker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::warn;

use crate::logging::LogLimiter;

/// The bounds of the endpoint; every field has its default in [`EndpointLimits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Connections served at once (default 4). The endpoint accepts no more until one ends:
    /// a further client waits in the kernel's listen backlog (its connect succeeds, its
    /// request is answered once a slot is free), so a flood costs the broker nothing.
    pub max_connections: usize,
    /// Longest request head: request line and headers with their line ends (default 8 KiB).
    /// A longer one is answered `431 Request Header Fields Too Large`.
    pub max_head_bytes: usize,
    /// Time a client has to send the whole request head (default 5 s); then `408 Request
    /// Timeout`.
    pub read_timeout: Duration,
    /// Time a client has to take the whole reply (default 5 s); then the connection is
    /// dropped.
    pub write_timeout: Duration,
}

impl EndpointLimits {
    /// [`EndpointLimits::max_connections`] by default.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4;
    /// [`EndpointLimits::max_head_bytes`] by default.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 8 * 1024;
    /// [`EndpointLimits::read_timeout`] and [`EndpointLimits::write_timeout`] by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for EndpointLimits {
    fn default() -> Self {
        EndpointLimits {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            read_timeout: Self::DEFAULT_TIMEOUT,
            write_timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// What a closing connection may still read and discard, so that closing it with unread input
/// does not reset it (a reset would discard the reply before the client reads it).
const LINGER_BYTES: usize = 64 * 1024;
/// How long a closing connection lingers for that.
const LINGER: Duration = Duration::from_secs(1);
/// Most headers a request may have (431 past it).
const MAX_HEADERS: usize = 64;

/// A running metrics endpoint; dropping it stops accepting (connections being served finish
/// within their bounds).
#[derive(Debug)]
pub struct MetricsEndpoint {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MetricsEndpoint {
    /// Binds `addr` (`host:port`; port 0 picks a free port) and serves `registry` there on a
    /// task of its own. Must be called inside a Tokio runtime.
    pub async fn bind(
        addr: &str,
        registry: Arc<Registry>,
        limits: EndpointLimits,
    ) -> std::io::Result<MetricsEndpoint> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, registry, limits));
        Ok(MetricsEndpoint { local_addr, task })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

async fn accept_loop(listener: TcpListener, registry: Arc<Registry>, limits: EndpointLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let errors = LogLimiter::with_default_rate("metrics endpoint errors");
    loop {
        // A slot first, then a connection: past the bound, clients wait in the backlog
        // instead of being accepted and refused (closing a socket with its request unread
        // would reset it, and the client would not even read a refusal).
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                if errors.allow() {
                    warn!("metrics endpoint: accept failed: {err}");
                }
                // Out of descriptors, say: give the process a moment instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            serve(stream, &registry, limits).await;
            drop(slot);
        });
    }
}

/// Why a request head could not be read.
enum HeadError {
    TooLarge,
    Closed,
}

/// Reads until the end of the request head (an empty line) into `buf`; returns its length.
async fn read_head(stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, HeadError> {
    let mut len = 0;
    loop {
        if let Some(end) = head_end(&buf[..len]) {
            return Ok(end);
        }
        if len == buf.len() {
            return Err(HeadError::TooLarge);
        }
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => return Err(HeadError::Closed),
            Ok(n) => len += n,
        }
    }
}

/// Where the head in `bytes` ends (after `\r\n\r\n`, or `\n\n`, which HTTP/1.1 tolerates).
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One reply: its status line, content type and body.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: String,
    allow_get: bool,
}

impl Reply {
    fn text(status: &'static str, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
            allow_get: false,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let allow = if self.allow_get { "Allow: GET\r\n" } else { "" };
        let mut bytes = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

/// The reply to the request head `head`.
fn respond(head: &[u8], registry: &Registry) -> Reply {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => {
            return Reply::text("431 Request Header Fields Too Large", "too many headers\n")
        }
        _ => return Reply::text("400 Bad Request", "bad request\n"),
    }
    if request.method != Some("GET") {
        let mut reply = Reply::text("405 Method Not Allowed", "only GET\n");
        reply.allow_get = true;
        return reply;
    }
    let path = request.path.unwrap_or("");
    let path = path.split_once('?').map_or(path, |(path, _query)| path);
    match path {
        "/metrics" => Reply {
            status: "200 OK",
            content_type: super::CONTENT_TYPE,
            body: super::render(registry),
            allow_get: false,
        },
        "/healthz" => Reply::text("200 OK", "ok"),
        _ => Reply::text("404 Not Found", "not found; try /metrics or /healthz\n"),
    }
}

/// Serves one connection: one request, one reply, then close.
async fn serve(mut stream: TcpStream, registry: &Registry, limits: EndpointLimits) {
    let mut head = vec![0u8; limits.max_head_bytes.max(16)];
    let reply = match timeout(limits.read_timeout, read_head(&mut stream, &mut head)).await {
        Ok(Ok(len)) => respond(&head[..len], registry),
        Ok(Err(HeadError::TooLarge)) => Reply::text(
            "431 Request Header Fields Too Large",
            "request head too large\n",
        ),
        Ok(Err(HeadError::Closed)) => return,
        Err(_) => Reply::text("408 Request Timeout", "request head not complete in time\n"),
    };
    drop(head);
    let written = timeout(limits.write_timeout, async {
        stream.write_all(&reply.encode()).await?;
        stream.shutdown().await
    })
    .await;
    if matches!(written, Ok(Ok(()))) {
        // The client may still be sending (an oversized head, say): read what it sends, up to
        // a bound, so the close does not reset the connection before it reads the reply.
        let _ = timeout(LINGER, discard(&mut stream, LINGER_BYTES)).await;
    }
}

/// Reads and discards up to `max` bytes, until EOF or an error.
async fn discard(stream: &mut TcpStream, max: usize) {
    let mut sink = [0u8; 4096];
    let mut left = max;
    while left > 0 {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ends_at_the_first_empty_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[test]
    fn routes_methods_and_paths() {
        let registry = Registry::default();
        let status = |head: &[u8]| respond(head, &registry).status;
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status(b"GET /healthz HTTP/1.0\r\n\r\n"), "200 OK");
        assert_eq!(status(b"GET /nope HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(
            status(b"POST /metrics HTTP/1.1\r\n\r\n"),
            "405 Method Not Allowed"
        );
        assert_eq!(status(b"\x00\x01garbage\r\n\r\n"), "400 Bad Request");
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(
            status(many.as_bytes()),
            "431 Request Header Fields Too Large"
        );
    }
}
