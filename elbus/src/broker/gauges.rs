//! Counts of the client table that are read without its lock: clients by transport,
//! registrations, and the subscriptions and exclusions held (the metrics read them; the
//! registry updates them as the table changes).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::peer::ClientKind;

/// Subscriptions and exclusions, counted together.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PatternCount {
    pub(super) subscriptions: usize,
    pub(super) exclusions: usize,
}

/// What the metrics read from the registry without taking its lock: clients now and
/// registrations so far by how they are connected, and the patterns held. Updated where the
/// table changes (registrations and the subscribe family, never a routed frame).
#[derive(Debug, Default)]
pub(crate) struct RegistryGauges {
    /// Clients registered now, secondaries included, by [`ClientKind`] (`kind as usize`).
    clients: [AtomicUsize; ClientKind::ALL.len()],
    /// Successful registrations so far, by [`ClientKind`].
    registrations: [AtomicU64; ClientKind::ALL.len()],
    subscriptions: AtomicUsize,
    exclusions: AtomicUsize,
}

/// A snapshot of [`RegistryGauges`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct RegistrySnapshot {
    /// By [`ClientKind::ALL`].
    pub(crate) clients: [usize; 3],
    /// By [`ClientKind::ALL`].
    pub(crate) registrations: [u64; 3],
    pub(crate) subscriptions: usize,
    pub(crate) exclusions: usize,
}

impl RegistryGauges {
    /// A client of `kind` was registered.
    pub(super) fn added(&self, kind: ClientKind) {
        self.clients[kind as usize].fetch_add(1, Ordering::Relaxed);
        self.registrations[kind as usize].fetch_add(1, Ordering::Relaxed);
        // Every client starts subscribed to `.broker/warn`.
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
    }

    /// Clients of `kinds` left the table, holding `patterns` together.
    pub(super) fn removed(&self, kinds: impl Iterator<Item = ClientKind>, patterns: PatternCount) {
        for kind in kinds {
            self.clients[kind as usize].fetch_sub(1, Ordering::Relaxed);
        }
        self.patterns_removed(patterns);
    }

    /// Patterns were added to the table.
    pub(super) fn patterns_added(&self, added: PatternCount) {
        self.subscriptions
            .fetch_add(added.subscriptions, Ordering::Relaxed);
        self.exclusions
            .fetch_add(added.exclusions, Ordering::Relaxed);
    }

    /// Patterns were removed from the table.
    pub(super) fn patterns_removed(&self, removed: PatternCount) {
        self.subscriptions
            .fetch_sub(removed.subscriptions, Ordering::Relaxed);
        self.exclusions
            .fetch_sub(removed.exclusions, Ordering::Relaxed);
    }

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> RegistrySnapshot {
        RegistrySnapshot {
            clients: self.clients.each_ref().map(|c| c.load(Ordering::Relaxed)),
            registrations: self
                .registrations
                .each_ref()
                .map(|c| c.load(Ordering::Relaxed)),
            subscriptions: self.subscriptions.load(Ordering::Relaxed),
            exclusions: self.exclusions.load(Ordering::Relaxed),
        }
    }
}
