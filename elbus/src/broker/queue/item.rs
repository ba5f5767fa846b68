//! One item of an outbound queue: a routed frame, the rest of one, an ACK or a NOP, and what
//! it costs while queued.

use bytes::Bytes;

use crate::broker::config::QueueLimits;
use crate::frame::FrameLayout;
use crate::protocol::{self, DELIVERY_HEADER_LEN};

/// One item of an outbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A complete delivered frame (header and body), shared between all its recipients, and
    /// the bytes it was counted for in the `w_bytes` counters (as `busrtd` counts them: the
    /// body of the frame the sender sent), and its layout when the router knew it (an
    /// in-process recipient then reads the frame without parsing it).
    Frame {
        wire: Bytes,
        counted: u32,
        layout: Option<FrameLayout>,
    },
    /// The unwritten rest of a frame a direct write began: it is written before anything else
    /// and never dropped (that would cut a frame in two on the wire), and it was counted with
    /// its frame already.
    Rest(Bytes),
    /// An ACK of the client's own op.
    Ack { op_id: u32, code: u8 },
    /// A keepalive NOP.
    Nop,
}

// The queue slot that `QueueLimits::ITEM_OVERHEAD` counts.
const _: () = assert!(std::mem::size_of::<Outgoing>() <= 48);

impl Outgoing {
    /// A delivered frame of `layout`, counted for `counted` bytes in `w_bytes`.
    pub(crate) fn frame(wire: Bytes, layout: Option<FrameLayout>, counted: usize) -> Self {
        Outgoing::Frame {
            wire,
            counted: u32::try_from(counted).unwrap_or(u32::MAX),
            layout,
        }
    }

    /// What this item costs in memory while queued: counted against the queue's and the
    /// broker-wide byte limits. ACKs and NOPs live in their queue slot; a frame also holds its
    /// buffer and that buffer's allocation and sharing overhead.
    pub(crate) fn cost(&self) -> usize {
        match self {
            Outgoing::Frame { wire, .. } | Outgoing::Rest(wire) => {
                wire.len() + QueueLimits::ITEM_OVERHEAD
            }
            Outgoing::Ack { .. } | Outgoing::Nop => std::mem::size_of::<Outgoing>(),
        }
    }

    /// The frames and bytes this item was counted for in `w_frames` / `w_bytes` when queued
    /// (a NOP is not counted, the rest of a frame was counted with its frame).
    pub(crate) fn counted(&self) -> (u64, u64) {
        match self {
            Outgoing::Frame { counted, .. } => (1, u64::from(*counted)),
            Outgoing::Ack { .. } => (1, DELIVERY_HEADER_LEN as u64),
            Outgoing::Nop | Outgoing::Rest(_) => (0, 0),
        }
    }

    /// Appends the wire bytes of the item to `buf`.
    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            Outgoing::Frame { wire, .. } | Outgoing::Rest(wire) => buf.extend_from_slice(wire),
            Outgoing::Ack { op_id, code } => {
                buf.extend_from_slice(&protocol::ack_frame(*op_id, *code))
            }
            Outgoing::Nop => buf.extend_from_slice(&protocol::NOP_FRAME),
        }
    }
}
