//! MQTT-style topic patterns (`+`, `#`) and the subscription index.

/// Whether the subscription `pattern` matches the published `topic`.
///
/// `+` matches exactly one part (which may be empty); `#` matches one or more remaining parts and
/// ends the pattern (anything after it is ignored); other parts match literally.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    let mut topic_parts = topic.split('/');
    for part in pattern.split('/') {
        match part {
            "#" => return topic_parts.next().is_some(),
            "+" => {
                if topic_parts.next().is_none() {
                    return false;
                }
            }
            literal => {
                if topic_parts.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    topic_parts.next().is_none()
}

/// Subscriptions of many keys (clients) to topic patterns.
///
/// The same `(pattern, key)` may be inserted more than once (two pattern strings can mean the
/// same thing, like `x/#` and `x/#/c`); each insert needs its own remove.
#[derive(Debug)]
pub struct TopicIndex<K> {
    entries: Vec<(String, K)>,
}

impl<K> Default for TopicIndex<K> {
    fn default() -> Self {
        TopicIndex {
            entries: Vec::new(),
        }
    }
}

impl<K: Copy + Ord> TopicIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the subscription of `key` to `pattern`.
    pub fn insert(&mut self, pattern: &str, key: K) {
        self.entries.push((pattern.to_owned(), key));
    }

    /// Removes one subscription of `key` to `pattern`; returns whether there was one.
    pub fn remove(&mut self, pattern: &str, key: K) -> bool {
        match self
            .entries
            .iter()
            .position(|(p, k)| p == pattern && *k == key)
        {
            Some(pos) => {
                self.entries.swap_remove(pos);
                true
            }
            None => false,
        }
    }

    /// Appends to `out` every key with a subscription matching `topic`, each key once.
    pub fn matches(&self, topic: &str, out: &mut Vec<K>) {
        let start = out.len();
        for (pattern, key) in &self.entries {
            if topic_matches(pattern, topic) {
                out.push(*key);
            }
        }
        out[start..].sort_unstable();
        let mut tail = out.split_off(start);
        tail.dedup();
        out.extend(tail);
    }

    /// Whether the index holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The observed table of `protocol.md` §8.2.
    #[test]
    fn spec_table() {
        let topics = ["x", "x/b", "x/b/c", "x/b/c/d", "", "/", "x/", "y/b/c"];
        let table: [(&str, [bool; 8]); 8] = [
            ("x/#", [false, true, true, true, false, false, true, false]),
            (
                "x/+",
                [false, true, false, false, false, false, true, false],
            ),
            (
                "x/+/c",
                [false, false, true, false, false, false, false, false],
            ),
            ("+", [true, false, false, false, true, false, false, false]),
            ("#", [true; 8]),
            ("+/#", [false, true, true, true, false, true, true, true]),
            (
                "x/#/c",
                [false, true, true, true, false, false, true, false],
            ),
            ("x", [true, false, false, false, false, false, false, false]),
        ];
        for (pattern, expected) in table {
            for (topic, want) in topics.iter().zip(expected) {
                assert_eq!(
                    topic_matches(pattern, topic),
                    want,
                    "pattern {pattern:?} topic {topic:?}"
                );
            }
        }
    }

    #[test]
    fn index_dedups_and_counts() {
        let mut index = TopicIndex::new();
        index.insert("x/#", 1u64);
        index.insert("x/#/c", 1);
        index.insert("x/+", 2);
        let mut out = Vec::new();
        index.matches("x/b", &mut out);
        assert_eq!(out, [1, 2]);
        assert!(index.remove("x/#", 1));
        out.clear();
        index.matches("x/b", &mut out);
        assert_eq!(out, [1, 2]);
        assert!(index.remove("x/#/c", 1));
        assert!(!index.remove("x/#/c", 1));
        out.clear();
        index.matches("x/b", &mut out);
        assert_eq!(out, [2]);
    }
}
