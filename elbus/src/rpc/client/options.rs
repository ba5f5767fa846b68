//! [`RpcOptions`], the settings of an [`RpcClient`](super::RpcClient), and [`RpcStats`], the
//! counters of what it received and could not use.

use std::time::Duration;

/// How long [`RpcClient::call`](super::RpcClient::call) waits for the whole round trip unless
/// told otherwise (5 s, the timeout `busrtd` runs with).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of an [`RpcClient`](super::RpcClient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcOptions {
    pub(super) timeout: Duration,
    pub(super) blocking_notifications: bool,
    pub(super) blocking_frames: bool,
    pub(super) fail_on_unregister: bool,
    pub(super) spawn_calls: bool,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            timeout: DEFAULT_CALL_TIMEOUT,
            blocking_notifications: false,
            blocking_frames: false,
            fail_on_unregister: false,
            spawn_calls: false,
        }
    }
}

impl RpcOptions {
    /// The defaults: a [`DEFAULT_CALL_TIMEOUT`], notifications and frames spawned.
    pub fn new() -> Self {
        RpcOptions::default()
    }

    /// The default bound of a call's whole round trip (send, ACK, reply), and of the send and
    /// ACK of `call0` and `notify`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The default bound of a call's round trip, as set by [`timeout`](Self::timeout).
    pub fn call_timeout(&self) -> Duration {
        self.timeout
    }

    /// Handles notifications inline, one after another in arrival order, instead of spawning a
    /// task for each. Everything received behind a notification (replies too) waits for its
    /// handler, so keep such handlers short.
    pub fn blocking_notifications(mut self) -> Self {
        self.blocking_notifications = true;
        self
    }

    /// Handles broadcasts and publications inline, in arrival order (see
    /// [`blocking_notifications`](Self::blocking_notifications) for the cost).
    pub fn blocking_frames(mut self) -> Self {
        self.blocking_frames = true;
        self
    }

    /// Runs every call's handler in a task of its own from the start. By default a handler is
    /// first polled where the request arrives, and moved to a task of its own only if it has
    /// to wait: a handler that answers at once then costs no task switch. Set this when
    /// handlers may compute for long before their first `.await`, so that they cannot hold up
    /// the requests and replies behind them.
    pub fn spawn_calls(mut self) -> Self {
        self.spawn_calls = true;
        self
    }

    /// Subscribes the client to the broker's announcements ([`INFO_TOPIC`]) and fails
    /// the calls waiting on a callee as soon as the broker announces that it (or its primary)
    /// unregistered, with -32113, instead of letting them wait for their timeout. The
    /// announcements still reach [`RpcHandlers::handle_frame`].
    ///
    /// [`INFO_TOPIC`]: crate::protocol::INFO_TOPIC
    /// [`RpcHandlers::handle_frame`]: crate::rpc::RpcHandlers::handle_frame
    pub fn fail_calls_on_unregister(mut self) -> Self {
        self.fail_on_unregister = true;
        self
    }
}

/// Counters of what an [`RpcClient`](super::RpcClient) received and could not use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RpcStats {
    /// Messages whose payload is not valid RPC (empty, too short, no NUL after the method,
    /// unknown type byte). They are logged and dropped.
    pub invalid_payloads: u64,
    /// Replies and error replies for a call id nobody waits for (never sent, timed out or
    /// abandoned). They are logged and dropped.
    pub orphaned_replies: u64,
}
