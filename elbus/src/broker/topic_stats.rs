//! Publication traffic per topic (the `.broker` `topic.list` method): a fixed-size table
//! counted in the publish path.
//!
//! The first [`MAX_TRACKED_TOPICS`] distinct topics published are tracked one by one, exactly,
//! for the broker's life; every publication to a topic beyond them is counted, exactly too, in
//! one shared `other` row. The cost on the publish path of a tracked topic is a read lock held
//! for one hash lookup and four relaxed atomic additions (taken after routing, never across
//! it), with no allocation; a new topic takes the write lock once to be inserted. Memory stays
//! under `MAX_TRACKED_TOPICS` × (longest topic + ~100 bytes): about 1.1 MiB with the default
//! 1 KiB topic limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Most topics tracked one by one; publications to later topics are counted as `other`.
pub const MAX_TRACKED_TOPICS: usize = 1024;

/// The counters of one tracked topic (or of `other`).
#[derive(Debug, Default)]
struct TopicCounters {
    publications: AtomicU64,
    bytes: AtomicU64,
    deliveries: AtomicU64,
    delivered_bytes: AtomicU64,
}

impl TopicCounters {
    fn count(&self, bytes: u64, deliveries: u64) {
        self.publications.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.deliveries.fetch_add(deliveries, Ordering::Relaxed);
        self.delivered_bytes
            .fetch_add(bytes.saturating_mul(deliveries), Ordering::Relaxed);
    }

    fn snapshot(&self) -> TopicTraffic {
        TopicTraffic {
            publications: self.publications.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            deliveries: self.deliveries.load(Ordering::Relaxed),
            delivered_bytes: self.delivered_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The traffic of one topic since it was first published (or of all untracked topics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicTraffic {
    /// Publications routed (refused ones, for access or size, are not counted).
    pub publications: u64,
    /// Bytes of those publications, each as its sender's frame body (the `w_bytes` measure).
    pub bytes: u64,
    /// Copies routed to subscribers (queued, or refused by a full queue).
    pub deliveries: u64,
    /// Bytes of those copies (`bytes` of each publication times its copies).
    pub delivered_bytes: u64,
}

/// Every tracked topic with its traffic, and the untracked rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// The tracked topics, in no particular order.
    pub topics: Vec<(String, TopicTraffic)>,
    /// Publications to topics beyond the first [`MAX_TRACKED_TOPICS`].
    pub other: TopicTraffic,
}

/// The table behind [`TopicStats`].
#[derive(Debug, Default)]
pub(crate) struct TopicTable {
    tracked: RwLock<HashMap<Box<str>, TopicCounters>>,
    other: TopicCounters,
}

impl TopicTable {
    /// Counts one publication to `topic` of `bytes` bytes, routed to `deliveries` subscribers.
    pub(crate) fn count(&self, topic: &str, bytes: usize, deliveries: usize) {
        let (bytes, deliveries) = (bytes as u64, deliveries as u64);
        {
            let tracked = crate::sync::recover(self.tracked.read());
            if let Some(counters) = tracked.get(topic) {
                counters.count(bytes, deliveries);
                return;
            }
            if tracked.len() >= MAX_TRACKED_TOPICS {
                drop(tracked);
                self.other.count(bytes, deliveries);
                return;
            }
        }
        let mut tracked = crate::sync::recover(self.tracked.write());
        if let Some(counters) = tracked.get(topic) {
            counters.count(bytes, deliveries);
        } else if tracked.len() < MAX_TRACKED_TOPICS {
            let counters = TopicCounters::default();
            counters.count(bytes, deliveries);
            tracked.insert(topic.into(), counters);
        } else {
            drop(tracked);
            self.other.count(bytes, deliveries);
        }
    }

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> TopicStats {
        let topics = crate::sync::recover(self.tracked.read())
            .iter()
            .map(|(topic, counters)| (topic.to_string(), counters.snapshot()))
            .collect();
        TopicStats {
            topics,
            other: self.other.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tracked_topics_exactly_and_the_rest_as_other() {
        let table = TopicTable::default();
        table.count("a", 10, 2);
        table.count("a", 5, 0);
        let stats = table.snapshot();
        assert_eq!(
            stats.topics,
            [(
                "a".to_owned(),
                TopicTraffic {
                    publications: 2,
                    bytes: 15,
                    deliveries: 2,
                    delivered_bytes: 20
                }
            )]
        );
        for i in 0..MAX_TRACKED_TOPICS + 5 {
            table.count(&format!("t/{i}"), 1, 1);
        }
        let stats = table.snapshot();
        assert_eq!(stats.topics.len(), MAX_TRACKED_TOPICS);
        // "a" took one slot: the last six new topics are untracked.
        assert_eq!(stats.other.publications, 6);
        assert_eq!(stats.other.delivered_bytes, 6);
        // A tracked topic is still counted by name once the table is full.
        table.count("a", 1, 1);
        let a = table.snapshot().topics.into_iter().find(|(t, _)| t == "a");
        assert_eq!(a.map(|(_, traffic)| traffic.publications), Some(3));
    }
}
