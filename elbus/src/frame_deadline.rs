//! How long the rest of a frame may take to arrive, once part of it has: the one rule the
//! broker's sessions and the socket client's reader and writer share.
//!
//! A single deadline on the whole frame is wrong for large frames: a 1 MiB frame over a busy
//! socket (a peer whose runtime is loaded, a reader working through a backlog) can take longer
//! than the timeout while every write makes progress. No deadline at all lets a hostile peer
//! (slow loris) hold a frame, and the memory reserved for it, open for ever by trickling a byte
//! now and then. So a frame under way has two bounds:
//!
//! * **progress**: at most `timeout` may pass without a single byte of it moving;
//! * **total**: the whole frame must be done within `timeout × (1 + len / 1 MiB)`, an average
//!   of at least 1 MiB per `timeout` (200 KiB/s at the 5 s of `elbusd`) after a grace of one
//!   `timeout`. A maximal 64 MiB frame thus gets at most 65 timeouts; a small frame one.
//!
//! Whichever comes first ends the connection (the broker logs `frame not complete within …`).

use std::time::Duration;

use tokio::time::Instant;

/// The bytes per `timeout` a frame must average to stay within its total bound.
pub(crate) const MIN_BYTES_PER_TIMEOUT: usize = 1 << 20;

/// The longest the whole of a `len`-byte frame may take: `timeout × (1 + len / 1 MiB)`.
pub(crate) fn total_bound(timeout: Duration, len: usize) -> Duration {
    let chunks = u32::try_from(len / MIN_BYTES_PER_TIMEOUT).unwrap_or(u32::MAX);
    timeout.saturating_mul(chunks.saturating_add(1))
}

/// When a `len`-byte frame that began at `start` and last made progress at `progress` must be
/// complete: the earlier of the progress and the total bound.
pub(crate) fn frame_due(
    start: Instant,
    progress: Instant,
    timeout: Duration,
    len: usize,
) -> Instant {
    let total = start + total_bound(timeout, len);
    (progress + timeout).min(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_frame_gets_one_timeout_a_large_one_more() {
        let t = Duration::from_secs(5);
        assert_eq!(total_bound(t, 0), t);
        assert_eq!(total_bound(t, 100), t);
        assert_eq!(total_bound(t, 1 << 20), t * 2);
        assert_eq!(total_bound(t, 64 << 20), t * 65);
        assert_eq!(total_bound(t, usize::MAX), t.saturating_mul(u32::MAX));
    }

    #[test]
    fn progress_extends_the_deadline_up_to_the_total_bound() {
        let t = Duration::from_secs(1);
        let start = Instant::now();
        // No progress since the start: one timeout.
        assert_eq!(frame_due(start, start, t, 4 << 20), start + t);
        // Progress moves it on...
        let later = start + Duration::from_secs(3);
        assert_eq!(frame_due(start, later, t, 4 << 20), later + t);
        // ...but never past the total bound (5 timeouts for 4 MiB).
        let much_later = start + Duration::from_secs(30);
        assert_eq!(frame_due(start, much_later, t, 4 << 20), start + t * 5);
    }
}
