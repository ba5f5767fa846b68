//! Frame and byte counters, per client and broker-wide (`protocol.md` §8.6).

use std::sync::atomic::{AtomicU64, Ordering};

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
