//! Frame and byte counters, per client and broker-wide (`protocol.md` §8.6), and the
//! broker-wide counters by operation, ACK code, drop reason and `.broker` method that the
//! metrics ([`crate::metrics`]) read.
//!
//! Every counter is a relaxed atomic in a fixed array indexed by a small enum: counting on the
//! routing path takes no lock and allocates nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol;
use crate::Command;

/// Read and written frames and bytes, plus the broker's own drop counters.
#[derive(Debug, Default)]
pub struct Counters {
    r_frames: AtomicU64,
    r_bytes: AtomicU64,
    w_frames: AtomicU64,
    w_bytes: AtomicU64,
    dropped_frames: AtomicU64,
    forced_disconnects: AtomicU64,
    denied: AtomicU64,
}

/// A snapshot of one client's or the whole broker's frame, byte, drop and disconnect counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Frames received from clients (pings excluded).
    pub r_frames: u64,
    /// Bytes of frame bodies received.
    pub r_bytes: u64,
    /// Frames queued to clients (routed copies and ACKs), less those dropped by drop-oldest
    /// before they were written.
    pub w_frames: u64,
    /// Bytes of the frames counted in `w_frames`, as `busrtd` counts them: for a routed copy
    /// the body of the frame its sender sent (the payload, for an in-process sender), 6 for an
    /// ACK.
    pub w_bytes: u64,
    /// Frames dropped because a queue was full.
    pub dropped_frames: u64,
    /// Clients disconnected by the broker (slow consumer, protocol error, idle timeout).
    pub forced_disconnects: u64,
    /// Operations and registrations refused by the access-control rules (`0x79`).
    pub denied: u64,
}

impl Counters {
    /// Counts one received frame of `bytes` body bytes.
    pub fn count_read(&self, bytes: usize) {
        self.r_frames.fetch_add(1, Ordering::Relaxed);
        self.r_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts `frames` written frames totalling `bytes`.
    pub fn count_written(&self, frames: u64, bytes: u64) {
        self.w_frames.fetch_add(frames, Ordering::Relaxed);
        self.w_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Takes back `frames` frames totalling `bytes` that were counted as written when queued
    /// and then dropped (drop-oldest) before being written.
    pub fn uncount_written(&self, frames: u64, bytes: u64) {
        self.w_frames.fetch_sub(frames, Ordering::Relaxed);
        self.w_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Counts a frame dropped on overflow.
    pub fn count_dropped(&self, frames: u64) {
        self.dropped_frames.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts a forced disconnect.
    pub fn count_forced_disconnect(&self) {
        self.forced_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an operation or registration refused by the access-control rules.
    pub fn count_denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            r_frames: self.r_frames.load(Ordering::Relaxed),
            r_bytes: self.r_bytes.load(Ordering::Relaxed),
            w_frames: self.w_frames.load(Ordering::Relaxed),
            w_bytes: self.w_bytes.load(Ordering::Relaxed),
            dropped_frames: self.dropped_frames.load(Ordering::Relaxed),
            forced_disconnects: self.forced_disconnects.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
        }
    }
}

/// The operation of a frame a client sent, as the metrics label it (`op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A one-to-one message.
    Message,
    /// A broadcast to a name mask.
    Broadcast,
    /// A publication to a topic.
    Publish,
    /// A publication to one primary's subscribers.
    PublishFor,
    /// A subscription.
    Subscribe,
    /// An unsubscription.
    Unsubscribe,
    /// An exclusion.
    Exclude,
    /// A removed exclusion.
    Unexclude,
    /// Op 0 with QoS bits: ignored, never ACKed.
    Ignored,
}

impl Op {
    /// Every operation, in the order of their counters.
    pub const ALL: [Op; 9] = [
        Op::Message,
        Op::Broadcast,
        Op::Publish,
        Op::PublishFor,
        Op::Subscribe,
        Op::Unsubscribe,
        Op::Exclude,
        Op::Unexclude,
        Op::Ignored,
    ];

    /// The operation of a decoded command.
    pub fn of(command: &Command<'_>) -> Op {
        match command {
            Command::Message { .. } => Op::Message,
            Command::Broadcast { .. } => Op::Broadcast,
            Command::Publish { .. } => Op::Publish,
            Command::PublishFor { .. } => Op::PublishFor,
            Command::Subscribe(_) => Op::Subscribe,
            Command::Unsubscribe(_) => Op::Unsubscribe,
            Command::Exclude(_) => Op::Exclude,
            Command::Unexclude(_) => Op::Unexclude,
            Command::Ignored => Op::Ignored,
        }
    }

    /// The label value (`message`, `publish_for`, ...).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Message => "message",
            Op::Broadcast => "broadcast",
            Op::Publish => "publish",
            Op::PublishFor => "publish_for",
            Op::Subscribe => "subscribe",
            Op::Unsubscribe => "unsubscribe",
            Op::Exclude => "exclude",
            Op::Unexclude => "unexclude",
            Op::Ignored => "ignored",
        }
    }
}

/// The kinds of delivered frames: a routed copy is a message, a broadcast or a publication.
pub const DELIVERED_OPS: [Op; 3] = [Op::Message, Op::Broadcast, Op::Publish];

/// The ACK result codes counted one by one; any other code counts under `other`.
pub const ACK_CODES: [u8; 11] = [
    protocol::RESPONSE_OK,
    protocol::ERR_CLIENT_NOT_REGISTERED,
    protocol::ERR_DATA,
    protocol::ERR_IO,
    protocol::ERR_OTHER,
    protocol::ERR_NOT_SUPPORTED,
    protocol::ERR_BUSY,
    protocol::ERR_NOT_DELIVERED,
    protocol::ERR_TIMEOUT,
    protocol::ERR_ACCESS,
    protocol::ERR_EOF,
];

/// Why a frame was dropped, as the metrics label it (`policy`): the overflow policy that
/// dropped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The frame that did not fit (`drop-newest`, and an ACK that did not fit).
    DropNewest,
    /// Older queued frames, to make room (`drop-oldest`).
    DropOldest,
    /// The frame that overflowed a client the broker then disconnected (`disconnect`).
    Disconnect,
}

impl DropReason {
    /// Every reason, in the order of their counters.
    pub const ALL: [DropReason; 3] = [
        DropReason::DropNewest,
        DropReason::DropOldest,
        DropReason::Disconnect,
    ];

    /// The label value: the `--overflow` policy's name.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::DropNewest => "drop-newest",
            DropReason::DropOldest => "drop-oldest",
            DropReason::Disconnect => "disconnect",
        }
    }
}

/// Broker-wide counters by operation, delivered frame kind, ACK code and drop reason.
#[derive(Debug, Default)]
pub(crate) struct OpCounters {
    received_frames: [AtomicU64; Op::ALL.len()],
    received_bytes: [AtomicU64; Op::ALL.len()],
    delivered_frames: [AtomicU64; DELIVERED_OPS.len()],
    delivered_bytes: [AtomicU64; DELIVERED_OPS.len()],
    /// One per [`ACK_CODES`] entry, then `other`.
    acks: [AtomicU64; ACK_CODES.len() + 1],
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl OpCounters {
    /// Counts one received frame of `op` with a body of `bytes`.
    pub(crate) fn count_received(&self, op: Op, bytes: usize) {
        self.received_frames[op as usize].fetch_add(1, Ordering::Relaxed);
        self.received_bytes[op as usize].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts `frames` routed copies of `kind` (`Message`, `Broadcast` or `Publish`) queued to
    /// recipients, `bytes` in all (counted as `w_bytes` counts them).
    pub(crate) fn count_delivered(&self, kind: Op, frames: usize, bytes: usize) {
        if frames == 0 {
            return;
        }
        let index = match kind {
            Op::Message => 0,
            Op::Broadcast => 1,
            _ => 2,
        };
        self.delivered_frames[index].fetch_add(frames as u64, Ordering::Relaxed);
        self.delivered_bytes[index].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts one ACK with result `code`.
    pub(crate) fn count_ack(&self, code: u8) {
        let index = ACK_CODES
            .iter()
            .position(|&known| known == code)
            .unwrap_or(ACK_CODES.len());
        self.acks[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `frames` frames dropped for `reason`.
    pub(crate) fn count_dropped(&self, reason: DropReason, frames: u64) {
        self.dropped[reason as usize].fetch_add(frames, Ordering::Relaxed);
    }

    /// Reads every counter.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> OpSnapshot {
        let load = |counters: &[AtomicU64]| -> Vec<u64> {
            counters.iter().map(|c| c.load(Ordering::Relaxed)).collect()
        };
        OpSnapshot {
            received_frames: load(&self.received_frames),
            received_bytes: load(&self.received_bytes),
            delivered_frames: load(&self.delivered_frames),
            delivered_bytes: load(&self.delivered_bytes),
            acks: load(&self.acks),
            dropped: load(&self.dropped),
        }
    }
}

/// A snapshot of [`OpCounters`], each vector in the order of its index enum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct OpSnapshot {
    /// By [`Op::ALL`].
    pub(crate) received_frames: Vec<u64>,
    /// By [`Op::ALL`].
    pub(crate) received_bytes: Vec<u64>,
    /// By [`DELIVERED_OPS`].
    pub(crate) delivered_frames: Vec<u64>,
    /// By [`DELIVERED_OPS`].
    pub(crate) delivered_bytes: Vec<u64>,
    /// By [`ACK_CODES`], then `other`.
    pub(crate) acks: Vec<u64>,
    /// By [`DropReason::ALL`].
    pub(crate) dropped: Vec<u64>,
}

/// The `.broker` methods counted one by one; any other method name counts under `other`.
pub const API_METHODS: [&str; 6] = [
    "test",
    "info",
    "stats",
    "client.list",
    "client.disconnect",
    "benchmark.test",
];

/// Counters of the broker's own `.broker` API: calls by method, error replies, and the
/// expensive calls its scheduler refused or dropped unrun (`stats` keys `api_calls_refused`
/// and `api_calls_abandoned`).
#[derive(Debug, Default)]
pub(crate) struct ApiCounters {
    /// One per [`API_METHODS`] entry, then `other`.
    calls: [AtomicU64; API_METHODS.len() + 1],
    /// Error replies, one per [`API_METHODS`] entry, then `other`.
    errors: [AtomicU64; API_METHODS.len() + 1],
    pub(crate) refused: AtomicU64,
    pub(crate) abandoned: AtomicU64,
}

#[cfg_attr(
    not(any(feature = "broker-api", feature = "metrics")),
    allow(dead_code)
)]
impl ApiCounters {
    fn index(method: &[u8]) -> usize {
        API_METHODS
            .iter()
            .position(|known| known.as_bytes() == method)
            .unwrap_or(API_METHODS.len())
    }

    /// Counts one call of `method`, and an error reply when `failed`.
    pub(crate) fn count_call(&self, method: &[u8], failed: bool) {
        let index = Self::index(method);
        self.calls[index].fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads every counter.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> ApiSnapshot {
        let load = |counters: &[AtomicU64]| -> Vec<u64> {
            counters.iter().map(|c| c.load(Ordering::Relaxed)).collect()
        };
        ApiSnapshot {
            calls: load(&self.calls),
            errors: load(&self.errors),
            refused: self.refused.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of [`ApiCounters`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct ApiSnapshot {
    /// By [`API_METHODS`], then `other`.
    pub(crate) calls: Vec<u64>,
    /// By [`API_METHODS`], then `other`.
    pub(crate) errors: Vec<u64>,
    pub(crate) refused: u64,
    pub(crate) abandoned: u64,
}

/// Everything the metrics read at one scrape ([`BrokerInner::metrics_snapshot`]).
///
/// [`BrokerInner::metrics_snapshot`]: super::BrokerInner::metrics_snapshot
#[cfg(feature = "metrics")]
#[derive(Debug, Clone)]
pub(crate) struct MetricsSnapshot {
    pub(crate) counters: CounterSnapshot,
    pub(crate) ops: OpSnapshot,
    pub(crate) api: ApiSnapshot,
    pub(crate) registry: super::gauges::RegistrySnapshot,
    pub(crate) queued_bytes: usize,
    pub(crate) max_queued_bytes: usize,
    pub(crate) uptime: std::time::Duration,
}
