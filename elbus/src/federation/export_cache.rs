//! What the gateway decided for each recently published topic: its NATS subject when it is
//! exported, or why not. Every local publication on a federated broker asks, so the answer
//! (the export allow-list match, the subject conversion and its allocation) is kept for the
//! topics seen last instead of being made again per publication.
//!
//! Bounded by [`MAX_CACHED_TOPICS`] topics and [`MAX_CACHED_BYTES`] bytes of topics and
//! subjects; when a new topic would pass either bound the cache is emptied first (a hostile
//! client publishing to ever new topics costs the conversions the cache saves, nothing more).
//! A routing task that finds the cache locked by another decides without it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_nats::Subject;

/// Most topics the cache holds.
pub(crate) const MAX_CACHED_TOPICS: usize = 4096;
/// Most bytes of topics and subjects the cache holds.
pub(crate) const MAX_CACHED_BYTES: usize = 1 << 20;

/// The gateway's decision for a topic.
#[derive(Debug, Clone)]
pub(crate) enum Export {
    /// Exported on this subject.
    To(Subject),
    /// Not on the export allow-list (or a `.broker` topic).
    NotListed,
    /// Listed, but with no NATS subject (counted and logged on every publication).
    Unexportable,
}

impl Export {
    fn cost(&self, topic: &str) -> usize {
        let subject = match self {
            Export::To(subject) => subject.len(),
            Export::NotListed | Export::Unexportable => 0,
        };
        topic.len() + subject + 32
    }
}

#[derive(Debug, Default)]
struct Entries {
    by_topic: HashMap<Box<str>, Export>,
    bytes: usize,
}

/// The bounded topic -> [`Export`] cache.
#[derive(Debug, Default)]
pub(crate) struct ExportCache {
    entries: Mutex<Entries>,
}

impl ExportCache {
    /// The decision for `topic`: the cached one, else `decide`'s (kept for next time).
    pub(crate) fn get_or_decide(&self, topic: &str, decide: impl FnOnce() -> Export) -> Export {
        let Ok(mut entries) = self.entries.try_lock() else {
            // Another routing task holds it (or a panic poisoned it): decide alone.
            return decide();
        };
        if let Some(found) = entries.by_topic.get(topic) {
            return found.clone();
        }
        let decided = decide();
        let cost = decided.cost(topic);
        if cost > MAX_CACHED_BYTES {
            return decided;
        }
        if entries.by_topic.len() >= MAX_CACHED_TOPICS || entries.bytes + cost > MAX_CACHED_BYTES {
            entries.by_topic.clear();
            entries.bytes = 0;
        }
        entries.bytes += cost;
        entries.by_topic.insert(topic.into(), decided.clone());
        decided
    }

    /// How many topics are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.by_topic.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_once_per_topic_and_stays_bounded() {
        let cache = ExportCache::default();
        let mut decisions = 0;
        for _ in 0..3 {
            let got = cache.get_or_decide("a/b", || {
                decisions += 1;
                Export::To(Subject::from("elbus.c.t.a.b"))
            });
            assert!(matches!(got, Export::To(s) if s.as_str() == "elbus.c.t.a.b"));
        }
        assert_eq!(decisions, 1);
        for i in 0..MAX_CACHED_TOPICS + 10 {
            cache.get_or_decide(&format!("t/{i}"), || Export::NotListed);
        }
        assert!(cache.len() <= MAX_CACHED_TOPICS);
        let long = "x".repeat(MAX_CACHED_BYTES);
        cache.get_or_decide(&long, || Export::NotListed);
        assert!(cache.len() <= MAX_CACHED_TOPICS);
        let mut again = false;
        cache.get_or_decide(&long, || {
            again = true;
            Export::NotListed
        });
        assert!(again, "a topic above the byte bound is never kept");
    }
}
