//! The gateway's counters and the `.broker` `federation.status` reply.

use std::sync::atomic::AtomicU64;

use serde::Serialize;

/// Frames the gateway counted, by what became of them (relaxed atomics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Handed to NATS.
    pub(crate) exported: AtomicU64,
    /// Received from NATS and routed here.
    pub(crate) imported: AtomicU64,
    /// Not sent: NATS down, the queue full, or the publish failed.
    pub(crate) dropped: AtomicU64,
    /// Exported topics with no NATS subject (empty, whitespace, wildcard characters).
    pub(crate) unexportable: AtomicU64,
    /// Received frames dropped as loops: this node's own, or from a sender already remote.
    pub(crate) loop_dropped: AtomicU64,
    /// Refused with `0x72`: above the server's `max_payload`.
    pub(crate) too_large: AtomicU64,
    /// Received frames refused by the `[[remote]]` rules or malformed.
    pub(crate) refused: AtomicU64,
}

/// Counters and state at one instant: [`Federation::status`](super::Federation::status) and
/// the `federation.status` method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FederationStatus {
    /// This node's name.
    pub node: String,
    /// Whether the NATS connection is up.
    pub connected: bool,
    /// Frames handed to NATS.
    pub exported: u64,
    /// Frames received from NATS and routed here.
    pub imported: u64,
    /// Frames not sent: NATS down, the gateway queue full, or the publish failed.
    pub dropped: u64,
    /// Exported publications whose topic has no NATS subject.
    pub unexportable: u64,
    /// Received frames dropped as loops.
    pub loop_dropped: u64,
    /// Frames refused with `0x72` as larger than the server's `max_payload`.
    pub too_large: u64,
    /// Received frames refused (remote access rules, malformed headers).
    pub refused: u64,
    /// Frames waiting in the gateway queue.
    pub queue_frames: usize,
    /// Bytes accepted for NATS and not yet written to it (queued or in the NATS client).
    pub queue_bytes: usize,
    /// The import patterns held as NATS subscriptions now (local interest).
    pub imports: Vec<String>,
    /// Names on other nodes listed now (`client.list` with `{"remote": true}`).
    #[serde(default)]
    pub remote_names: usize,
    /// Names other nodes announced while that list was full (not listed, still reachable).
    #[serde(default)]
    pub unlisted_names: u64,
}
