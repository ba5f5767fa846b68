//! The broker-wide account of queued bytes, which every client's queue charges.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The broker-wide account of queued bytes ([`BrokerOptions::max_queued_bytes`]), shared by
/// every client's queue.
///
/// [`BrokerOptions::max_queued_bytes`]: crate::broker::BrokerOptions::max_queued_bytes
#[derive(Debug)]
pub(crate) struct QueueBudget {
    used: AtomicUsize,
    limit: usize,
}

impl QueueBudget {
    pub(crate) fn new(limit: usize) -> Self {
        QueueBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes `bytes` if they fit under the limit.
    pub(super) fn try_charge(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit (a queue that holds nothing takes one frame).
    pub(super) fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Bytes queued broker-wide now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}
