//! MQTT-style topic patterns (`+`, `#`) and the subscription index.

use std::collections::BTreeMap;
use std::str::Split;

use super::radix::{NodeId, NodeValue, Radix, ROOT};
use super::MAX_NESTING;

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

/// Subscription keys with how many times each subscribed: the same pattern may be subscribed
/// several times (`x/#` and `x/#/c` are one pattern).
///
/// Most buckets hold one key, so a sorted vector (16 bytes a key for `u64` keys) is the usual
/// form; a bucket that grows past [`Bucket::MAX_FEW`] keys (a topic every client subscribes to,
/// like `.broker/warn`) becomes a B-tree, so adding and removing stays logarithmic.
#[derive(Debug)]
enum Bucket<K> {
    Few(Vec<(K, u32)>),
    Many(BTreeMap<K, u32>),
}

impl<K> Default for Bucket<K> {
    fn default() -> Self {
        Bucket::Few(Vec::new())
    }
}

impl<K: Copy + Ord> Bucket<K> {
    /// Most keys kept in the vector form.
    const MAX_FEW: usize = 32;

    fn is_empty(&self) -> bool {
        match self {
            Bucket::Few(keys) => keys.is_empty(),
            Bucket::Many(keys) => keys.is_empty(),
        }
    }

    fn add(&mut self, key: K) {
        match self {
            Bucket::Few(keys) => match keys.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(at) => keys[at].1 = keys[at].1.saturating_add(1),
                Err(_) if keys.len() >= Self::MAX_FEW => {
                    let mut many: BTreeMap<K, u32> = keys.drain(..).collect();
                    many.insert(key, 1);
                    *self = Bucket::Many(many);
                }
                Err(at) => keys.insert(at, (key, 1)),
            },
            Bucket::Many(keys) => {
                let count = keys.entry(key).or_insert(0);
                *count = count.saturating_add(1);
            }
        }
    }

    /// Takes back one subscription of `key`; false if it had none.
    fn remove(&mut self, key: K) -> bool {
        match self {
            Bucket::Few(keys) => {
                let Ok(at) = keys.binary_search_by(|(k, _)| k.cmp(&key)) else {
                    return false;
                };
                if keys[at].1 > 1 {
                    keys[at].1 -= 1;
                } else {
                    keys.remove(at);
                    if keys.len() * 4 < keys.capacity() {
                        keys.shrink_to(keys.len() * 2);
                    }
                }
            }
            Bucket::Many(keys) => {
                let Some(count) = keys.get_mut(&key) else {
                    return false;
                };
                if *count > 1 {
                    *count -= 1;
                } else {
                    keys.remove(&key);
                    if keys.is_empty() {
                        *self = Bucket::default();
                    }
                }
            }
        }
        true
    }

    fn extend_into(&self, out: &mut Vec<K>) {
        match self {
            Bucket::Few(keys) => out.extend(keys.iter().map(|&(key, _)| key)),
            Bucket::Many(keys) => out.extend(keys.keys().copied()),
        }
    }
}

/// What a trie node holds: the patterns that end at it.
#[derive(Debug)]
struct Patterns<K> {
    /// Keys of patterns that end here: they match topics with no more parts.
    exact: Bucket<K>,
    /// Keys of patterns that end with `#` here: they match every topic with at least one more part.
    rest: Bucket<K>,
}

// Written out because the derive would require `K: Default`.
impl<K> Default for Patterns<K> {
    fn default() -> Self {
        Patterns {
            exact: Bucket::default(),
            rest: Bucket::default(),
        }
    }
}

impl<K: Copy + Ord> NodeValue for Patterns<K> {
    fn is_vacant(&self) -> bool {
        self.exact.is_empty() && self.rest.is_empty()
    }
}

/// Where a pattern is stored: its parts before the first `#` (`None`: zero parts, the root),
/// and whether a `#` ended it. Everything after `#` is ignored: `x/#/c` is `x/#`.
fn pattern_path(pattern: &str) -> (Option<&str>, bool) {
    let mut offset: usize = 0;
    for part in pattern.split('/') {
        if part == "#" {
            return (offset.checked_sub(1).map(|end| &pattern[..end]), true);
        }
        offset += part.len() + 1;
    }
    (Some(pattern), false)
}

/// Subscriptions of many keys (clients) to topic patterns.
///
/// The same `(pattern, key)` may be inserted more than once (two pattern strings can mean the
/// same thing, like `x/#` and `x/#/c`); each insert needs its own remove.
///
/// Internally a compressed trie over the pattern's parts (`matching/radix.rs`): a publication
/// walks only the branches its own parts select (one literal child and the `+` child per
/// level), so its cost depends on the topic's length and the number of matches, not on how
/// many subscriptions there are; and a pattern costs at most two nodes plus its bytes, however
/// many parts it has.
#[derive(Debug)]
pub struct TopicIndex<K> {
    trie: Radix<Patterns<K>>,
    /// Number of subscriptions, counting repeated inserts.
    len: usize,
}

impl<K: Copy + Ord> Default for TopicIndex<K> {
    fn default() -> Self {
        TopicIndex {
            trie: Radix::new('/', Some("+")),
            len: 0,
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
        let (path, rest) = pattern_path(pattern);
        let node = self.trie.insert(path);
        let patterns = self.trie.value_mut(node);
        if rest {
            patterns.rest.add(key);
        } else {
            patterns.exact.add(key);
        }
        self.len += 1;
    }

    /// Removes one subscription of `key` to `pattern`; returns whether there was one.
    ///
    /// Patterns are compared by meaning, as [`insert`](Self::insert) stores them: parts after a `#`
    /// are ignored, so removing `x/#/c` takes back a subscription made as `x/#`. (The broker
    /// keeps each client's exact subscription strings, so it only removes what it inserted.)
    pub fn remove(&mut self, pattern: &str, key: K) -> bool {
        let (path, rest) = pattern_path(pattern);
        let Some(node) = self.trie.find(path) else {
            return false;
        };
        let patterns = self.trie.value_mut(node);
        let bucket = if rest {
            &mut patterns.rest
        } else {
            &mut patterns.exact
        };
        if !bucket.remove(key) {
            return false;
        }
        self.len -= 1;
        self.trie.prune(node);
        true
    }

    /// Appends to `out` every key with a subscription matching `topic`, each key once, in
    /// ascending order.
    pub fn matches(&self, topic: &str, out: &mut Vec<K>) {
        let start = out.len();
        let mut sink = Sink { out, buckets: 0 };
        // Branches nested deeper than `MAX_NESTING` wait here instead of growing the call stack;
        // a `Vec` allocates only if something is pushed, which ordinary tries never cause.
        let mut deferred = Vec::new();
        self.walk(ROOT, topic.split('/'), 0, &mut sink, &mut deferred);
        while let Some((node, parts)) = deferred.pop() {
            self.walk(node, parts, 0, &mut sink, &mut deferred);
        }
        // One bucket holds each key once and in order; only several buckets can repeat keys.
        if sink.buckets > 1 {
            sort_dedup_tail(out, start);
        }
    }

    /// Whether any subscription matches `topic` (for exclusion sets).
    pub fn matches_any(&self, topic: &str) -> bool {
        // Stops at nothing early, but an exclusion set is small and a bucket append is cheap;
        // the vector allocates only when something matched.
        let mut out = Vec::new();
        self.matches(topic, &mut out);
        !out.is_empty()
    }

    /// Whether the index holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of subscriptions, counting each insert of a repeated `(pattern, key)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Collects into `sink` the keys of the subtrie at `node` that match the topic `parts` left.
    ///
    /// Where the walk forks (a literal child and the `+` child both fit), it recurses into `+`
    /// and loops on the literal child, so the stack grows only with nested forks. Each node is
    /// reached by at most one prefix of the topic, so the walk is linear in what it visits.
    fn walk<'t>(
        &self,
        mut node: NodeId,
        mut parts: Split<'t, char>,
        nesting: usize,
        sink: &mut Sink<'_, K>,
        deferred: &mut Vec<(NodeId, Split<'t, char>)>,
    ) {
        loop {
            let patterns = self.trie.value(node);
            let Some(part) = parts.next() else {
                sink.extend(&patterns.exact);
                return;
            };
            // At least `part` remains, which is all a `#` here needs.
            sink.extend(&patterns.rest);
            // A literal `+` in a topic is plain text: only the `+` child matches it.
            let literal = if part == "+" {
                None
            } else {
                self.trie
                    .child(node, part)
                    .and_then(|child| self.follow(child, parts.clone()))
            };
            let single = self
                .trie
                .wild_child(node)
                .and_then(|child| self.follow(child, parts.clone()));
            (node, parts) = match (literal, single) {
                (Some(literal), Some(single)) => {
                    if nesting < MAX_NESTING {
                        self.walk(single.0, single.1, nesting + 1, sink, deferred);
                    } else {
                        deferred.push(single);
                    }
                    literal
                }
                (Some(next), None) | (None, Some(next)) => next,
                (None, None) => return,
            };
        }
    }

    /// Matches the rest of `child`'s label (its first part selected it) against the topic's
    /// next parts; on success, where the walk goes on.
    fn follow<'t>(
        &self,
        child: NodeId,
        mut parts: Split<'t, char>,
    ) -> Option<(NodeId, Split<'t, char>)> {
        for label_part in self.trie.label(child).split('/').skip(1) {
            let part = parts.next()?;
            if label_part != "+" && label_part != part {
                return None;
            }
        }
        Some((child, parts))
    }

    /// Number of trie nodes in use, the root included (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.trie.live_nodes()
    }
}

/// Where a walk puts the keys it finds.
struct Sink<'o, K> {
    out: &'o mut Vec<K>,
    /// Number of non-empty buckets appended: more than one means keys may repeat.
    buckets: usize,
}

impl<K: Copy + Ord> Sink<'_, K> {
    fn extend(&mut self, bucket: &Bucket<K>) {
        if !bucket.is_empty() {
            self.buckets += 1;
            bucket.extend_into(self.out);
        }
    }
}

/// Sorts `out[start..]` and drops repeated keys from it, without allocating.
fn sort_dedup_tail<K: Copy + Ord>(out: &mut Vec<K>, start: usize) {
    out[start..].sort_unstable();
    let mut kept = start;
    for read in start..out.len() {
        if kept == start || out[read] != out[kept - 1] {
            out[kept] = out[read];
            kept += 1;
        }
    }
    out.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        // The index agrees with the table: each pattern subscribed by its own key.
        let mut index = TopicIndex::new();
        for (key, (pattern, _)) in table.iter().enumerate() {
            index.insert(pattern, key);
        }
        for (column, topic) in topics.iter().enumerate() {
            let mut out = Vec::new();
            index.matches(topic, &mut out);
            let want: Vec<usize> = (0..table.len())
                .filter(|&key| table[key].1[column])
                .collect();
            assert_eq!(out, want, "topic {topic:?}");
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

    #[test]
    fn matches_appends_after_existing_output() {
        let mut index = TopicIndex::new();
        index.insert("a/+", 3u64);
        index.insert("a/#", 3);
        index.insert("+/b", 1);
        let mut out = vec![9, 3];
        index.matches("a/b", &mut out);
        assert_eq!(out, [9, 3, 1, 3]);
    }

    #[test]
    fn remove_prunes_every_node() {
        let mut index = TopicIndex::new();
        let patterns = ["a/b/c", "a/+/c", "a/#", "+/+/#", "", "/", "a/b/c/d/e/f"];
        for (key, pattern) in patterns.iter().enumerate() {
            index.insert(pattern, key);
            index.insert(pattern, key);
        }
        assert_eq!(index.len(), 2 * patterns.len());
        assert!(!index.remove("a/b", 0));
        assert!(!index.remove("a/b/c", 1));
        for _ in 0..2 {
            for (key, pattern) in patterns.iter().enumerate() {
                assert!(index.remove(pattern, key), "{pattern:?}");
            }
        }
        assert!(index.is_empty());
        assert_eq!(index.live_nodes(), 1);
        // Freed slots are reused rather than growing the arena.
        let arena = index.trie.arena_len();
        for (key, pattern) in patterns.iter().enumerate() {
            index.insert(pattern, key);
        }
        assert_eq!(index.trie.arena_len(), arena);
    }

    /// Forks nested deeper than `MAX_NESTING` go through the deferred list and still match.
    #[test]
    fn deeply_nested_forks() {
        let depth = 3 * MAX_NESTING;
        let mut patterns = Vec::new();
        // Every `+`-chain node also has a literal `a` child, so the walk forks at every level.
        for pluses in 0..depth {
            let mut pattern = "+/".repeat(pluses);
            pattern.push('a');
            patterns.push(pattern);
        }
        patterns.push(format!("{}#", "+/".repeat(depth)));
        let mut index = TopicIndex::new();
        for (key, pattern) in patterns.iter().enumerate() {
            index.insert(pattern, key);
        }
        for parts in [1, MAX_NESTING, depth, depth + 1, depth + 2] {
            let topic = vec!["a"; parts].join("/");
            let mut out = Vec::new();
            index.matches(&topic, &mut out);
            let want: Vec<usize> = (0..patterns.len())
                .filter(|&key| topic_matches(&patterns[key], &topic))
                .collect();
            assert!(!want.is_empty());
            assert_eq!(out, want, "{parts} parts");
        }
    }

    /// A pattern of very many parts must not overflow the stack when matched or dropped.
    #[test]
    fn very_long_pattern() {
        let pattern = vec!["a"; 200_000].join("/");
        let mut index = TopicIndex::new();
        index.insert(&pattern, 1u64);
        index.insert("+/#", 2);
        let mut out = Vec::new();
        index.matches(&pattern, &mut out);
        assert_eq!(out, [1, 2]);
        drop(index);
    }

    /// After most of many subscriptions leave, the trie is rebuilt smaller and still answers
    /// like the reference matcher.
    #[test]
    fn compaction_keeps_answers() {
        let patterns: Vec<String> = (0..400)
            .map(|n| match n % 4 {
                0 => format!("a/{n}/+/x"),
                1 => format!("+/{n}/#"),
                2 => format!("a/b/{n}"),
                _ => format!("{n}/+/+"),
            })
            .collect();
        let mut index = TopicIndex::new();
        for (key, pattern) in patterns.iter().enumerate() {
            index.insert(pattern, key);
        }
        let grown = index.trie.arena_len();
        let kept: Vec<usize> = (0..patterns.len()).filter(|key| key % 37 == 0).collect();
        for (key, pattern) in patterns.iter().enumerate() {
            if !kept.contains(&key) {
                assert!(index.remove(pattern, key), "{pattern}");
            }
        }
        assert!(index.trie.arena_len() < grown / 2);
        for topic in [
            "a/0/q/x", "a/37/q/x", "z/74/q", "a/b/111", "148/q/r", "a/b/c",
        ] {
            let mut out = Vec::new();
            index.matches(topic, &mut out);
            let want: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|&key| topic_matches(&patterns[key], topic))
                .collect();
            assert_eq!(out, want, "{topic}");
        }
    }

    /// Parts that exercise every rule: empty parts, both wildcards, and literals.
    const PARTS: [&str; 5] = ["", "a", "b", "+", "#"];

    fn pattern_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&PARTS[..]), 1..=4).prop_map(|p| p.join("/"))
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, u8),
        Remove(String, u8),
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        (any::<bool>(), pattern_strategy(), 0u8..4).prop_map(|(insert, pattern, key)| {
            if insert {
                Op::Insert(pattern, key)
            } else {
                Op::Remove(pattern, key)
            }
        })
    }

    /// Every topic of one to three parts over `PARTS` (published topics are literal, so `+` and
    /// `#` in them are plain text).
    fn probe_topics() -> Vec<String> {
        let mut topics: Vec<String> = PARTS.iter().map(|p| p.to_string()).collect();
        let mut last = topics.clone();
        for _ in 1..3 {
            last = last
                .iter()
                .flat_map(|prefix| PARTS.iter().map(move |p| format!("{prefix}/{p}")))
                .collect();
            topics.extend(last.iter().cloned());
        }
        topics
    }

    /// What the index stores of a pattern: its parts up to and including the first `#`.
    fn canonical(pattern: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        for part in pattern.split('/') {
            parts.push(part);
            if part == "#" {
                break;
            }
        }
        parts
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// After any insert/remove sequence the index answers like the reference matcher applied
        /// to a plain list of the live subscriptions, and prunes back to the root when emptied.
        #[test]
        fn agrees_with_reference(
            ops in prop::collection::vec(op_strategy(), 1..24),
            extra_topics in prop::collection::vec(pattern_strategy(), 4),
        ) {
            let mut index = TopicIndex::new();
            let mut model: Vec<(String, u8)> = Vec::new();
            for op in &ops {
                match op {
                    Op::Insert(pattern, key) => {
                        index.insert(pattern, *key);
                        model.push((pattern.clone(), *key));
                    }
                    Op::Remove(pattern, key) => {
                        let found = model
                            .iter()
                            .position(|(p, k)| canonical(p) == canonical(pattern) && k == key);
                        if let Some(pos) = found {
                            model.swap_remove(pos);
                        }
                        prop_assert_eq!(index.remove(pattern, *key), found.is_some());
                    }
                }
                prop_assert_eq!(index.len(), model.len());
            }
            let mut topics = probe_topics();
            topics.extend(extra_topics);
            let mut out = Vec::new();
            for topic in &topics {
                out.clear();
                index.matches(topic, &mut out);
                let mut want: Vec<u8> = model
                    .iter()
                    .filter(|(pattern, _)| topic_matches(pattern, topic))
                    .map(|&(_, key)| key)
                    .collect();
                want.sort_unstable();
                want.dedup();
                prop_assert_eq!(&out, &want, "topic {:?}", topic);
            }
            for (pattern, key) in model.drain(..) {
                prop_assert!(index.remove(&pattern, key));
            }
            prop_assert!(index.is_empty());
            prop_assert_eq!(index.live_nodes(), 1);
        }
    }
}
