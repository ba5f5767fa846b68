//! The socket client's configuration, its reconnect policy, and the path rules that pick its
//! transport (§1).

use std::time::Duration;

use crate::{Error, DEFAULT_BUF_SIZE, DEFAULT_QUEUE_SIZE, DEFAULT_TIMEOUT};

/// How to reach the broker and how the client behaves once connected.
///
/// ```
/// use std::time::Duration;
/// let config = elbus::ipc::Config::new("/tmp/elbus.sock", "app.worker")
///     .timeout(Duration::from_secs(5))
///     .ping_interval(Some(Duration::from_secs(2)));
/// assert_eq!(config.name(), "app.worker");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    path: String,
    name: String,
    buf_size: usize,
    queue_size: usize,
    timeout: Duration,
    ping_interval: Option<Duration>,
    reconnect: Option<ReconnectPolicy>,
}

impl Config {
    /// A configuration for the broker at `path` under the client name `name`, with the defaults:
    /// 8192-byte buffers, a queue of 8192 frames, a 1 s timeout and no automatic ping.
    ///
    /// `path` follows §1: a path that ends with `.sock`, `.socket` or `.ipc`, or starts with `/`, is
    /// a UNIX socket; anything else is TCP `host:port`.
    pub fn new(path: &str, name: &str) -> Self {
        Config {
            path: path.to_owned(),
            name: name.to_owned(),
            buf_size: DEFAULT_BUF_SIZE,
            queue_size: DEFAULT_QUEUE_SIZE,
            timeout: DEFAULT_TIMEOUT,
            ping_interval: None,
            reconnect: None,
        }
    }

    /// The socket read buffer size, and the size at which the writer stops coalescing queued
    /// frames into one write.
    pub fn buf_size(mut self, buf_size: usize) -> Self {
        self.buf_size = buf_size.max(1);
        self
    }

    /// The length of the incoming frame channel, and of the outgoing frame queue.
    ///
    /// The outgoing queue also holds at most 4 MiB of frames (a larger frame alone): a send
    /// beyond either bound waits until the writer has made room.
    ///
    /// When the application does not consume incoming frames, the client stops reading the socket
    /// once this many are waiting (ACKs then wait too).
    pub fn queue_size(mut self, queue_size: usize) -> Self {
        // Tokio's bounded channels panic on a zero capacity.
        self.queue_size = queue_size.max(1);
        self
    }

    /// The timeout of connecting (connect and handshake together), of waiting for an ACK, and
    /// of a write or a frame body under way: those may go `timeout` without progress at most,
    /// and take `timeout × (1 + bytes / 1 MiB)` in all, so a large frame that keeps moving over
    /// a busy socket is not cut off.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a ping (9 zero bytes) every `interval` while connected; `None` (the default, as in
    /// the original plain client) never pings on its own.
    ///
    /// A broker that drops idle clients (busrtd ≥ 0.5.4 after 1.25 × its timeout, §5) disconnects
    /// a client that neither sends nor pings; set an interval below that limit for such clients.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        // A zero period would make `tokio::time::interval` panic and busy-loop the writer anyway.
        self.ping_interval = interval.filter(|interval| !interval.is_zero());
        self
    }

    /// Reconnects after a lost connection with `policy` (backoff between attempts), restoring
    /// the name, subscriptions and exclusions, and keeping the same event channel; `None` (the
    /// default) ends the client when its connection ends, as the original client does.
    ///
    /// ```
    /// use elbus::ipc::{Config, ReconnectPolicy};
    /// let config = Config::new("/tmp/elbus.sock", "app.worker").reconnect(Some(ReconnectPolicy::default()));
    /// assert!(config.get_reconnect().is_some());
    /// ```
    pub fn reconnect(mut self, policy: Option<ReconnectPolicy>) -> Self {
        self.reconnect = policy;
        self
    }

    /// The broker path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The client name to register.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured buffer size.
    pub fn get_buf_size(&self) -> usize {
        self.buf_size
    }

    /// The configured queue size.
    pub fn get_queue_size(&self) -> usize {
        self.queue_size
    }

    /// The configured timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The configured automatic ping interval.
    pub fn get_ping_interval(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// The configured reconnect policy.
    pub fn get_reconnect(&self) -> Option<ReconnectPolicy> {
        self.reconnect
    }

    /// The same configuration under another client name (used for secondaries).
    pub(crate) fn with_name(&self, name: String) -> Self {
        Config {
            name,
            ..self.clone()
        }
    }

    /// The transport `path` selects.
    pub(crate) fn transport(&self) -> Result<Transport<'_>, Error> {
        Transport::parse(&self.path)
    }
}

/// How a client reconnects after losing its broker: it waits `initial`, tries, and doubles the
/// wait after each failed attempt up to `max`, until it connects or the application disconnects.
///
/// On each new connection the client registers its name again and restores its subscriptions
/// and exclusions before it reports [`ConnectionState::Connected`]. Frames routed while it was
/// away are lost, and calls waiting for an ACK when the connection dropped fail at once with
/// [`ErrorKind::Eof`](crate::ErrorKind::Eof).
///
/// [`ConnectionState::Connected`]: crate::ConnectionState::Connected
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The wait before the first attempt.
    pub initial: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
}

impl Default for ReconnectPolicy {
    /// 100 ms at first, at most 5 s between attempts.
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl ReconnectPolicy {
    /// The wait after `current`: doubled, capped at `max`.
    pub(crate) fn next(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.max).max(self.initial)
    }
}

/// Where a path points, by the rules of §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport<'a> {
    /// A UNIX stream socket at this file path.
    Unix(&'a str),
    /// A TCP `host:port`.
    Tcp(&'a str),
}

impl<'a> Transport<'a> {
    pub(crate) fn parse(path: &'a str) -> Result<Self, Error> {
        if path.starts_with("ws://") || path.starts_with("wss://") {
            return Err(Error::not_supported(
                "WebSocket transport is not supported by elbus::ipc",
            ));
        }
        if path.starts_with('/')
            || path.ends_with(".sock")
            || path.ends_with(".socket")
            || path.ends_with(".ipc")
        {
            Ok(Transport::Unix(path))
        } else if path.is_empty() {
            Err(Error::data("empty broker path"))
        } else {
            Ok(Transport::Tcp(path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        let waits: Vec<u128> =
            std::iter::successors(Some(policy.initial), |w| Some(policy.next(*w)))
                .take(4)
                .map(|w| w.as_millis())
                .collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn path_rules() {
        assert_eq!(
            Transport::parse("/tmp/x").unwrap(),
            Transport::Unix("/tmp/x")
        );
        assert_eq!(
            Transport::parse("b.sock").unwrap(),
            Transport::Unix("b.sock")
        );
        assert_eq!(
            Transport::parse("run/b.socket").unwrap(),
            Transport::Unix("run/b.socket")
        );
        assert_eq!(Transport::parse("b.ipc").unwrap(), Transport::Unix("b.ipc"));
        assert_eq!(
            Transport::parse("127.0.0.1:9924").unwrap(),
            Transport::Tcp("127.0.0.1:9924")
        );
        assert_eq!(
            Transport::parse("localhost:7777").unwrap(),
            Transport::Tcp("localhost:7777")
        );
        assert_eq!(
            Transport::parse("ws://h:1").unwrap_err().kind(),
            ErrorKind::NotSupported
        );
        assert_eq!(Transport::parse("").unwrap_err().kind(), ErrorKind::Data);
    }

    #[test]
    fn defaults_and_setters() {
        let config = Config::new("/tmp/b.sock", "a");
        assert_eq!(config.get_buf_size(), 8192);
        assert_eq!(config.get_queue_size(), 8192);
        assert_eq!(config.get_timeout(), Duration::from_secs(1));
        assert_eq!(config.get_ping_interval(), None);
        let config = config
            .buf_size(0)
            .queue_size(0)
            .ping_interval(Some(Duration::ZERO));
        assert_eq!(config.get_buf_size(), 1);
        assert_eq!(config.get_queue_size(), 1);
        assert_eq!(config.get_ping_interval(), None);
        assert_eq!(config.with_name("a%%0".into()).name(), "a%%0");
    }
}
