//! MQTT-style topic patterns (`+`, `#`) and the subscription index.

use std::collections::{BTreeMap, HashMap};
use std::str::Split;

use super::{shrink_if_sparse, MAX_NESTING};

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

/// Position of a node in [`TopicIndex::nodes`].
type NodeId = usize;

/// The root node, which always exists (it stands for "no part consumed yet").
const ROOT: NodeId = 0;

/// Subscription keys counted per key: the same pattern may be subscribed several times.
type Bucket<K> = BTreeMap<K, usize>;

/// One node of the subscription trie: the patterns whose parts so far lead here.
#[derive(Debug)]
struct TopicNode<K> {
    /// Children by the literal next part of the pattern.
    literal: HashMap<Box<str>, NodeId>,
    /// The child for a `+` next part.
    single: Option<NodeId>,
    /// Keys of patterns that end with `#` here: they match every topic with at least one more part.
    rest: Bucket<K>,
    /// Keys of patterns that end here: they match topics with no more parts.
    exact: Bucket<K>,
}

// Written out because the derive would require `K: Default`.
impl<K> Default for TopicNode<K> {
    fn default() -> Self {
        TopicNode {
            literal: HashMap::new(),
            single: None,
            rest: BTreeMap::new(),
            exact: BTreeMap::new(),
        }
    }
}

impl<K> TopicNode<K> {
    /// Whether nothing depends on this node any more, so it can be pruned.
    fn is_vacant(&self) -> bool {
        self.literal.is_empty()
            && self.single.is_none()
            && self.rest.is_empty()
            && self.exact.is_empty()
    }
}

/// Subscriptions of many keys (clients) to topic patterns.
///
/// The same `(pattern, key)` may be inserted more than once (two pattern strings can mean the
/// same thing, like `x/#` and `x/#/c`); each insert needs its own remove.
///
/// Internally a trie over the pattern's parts: a publication walks only the branches its own parts
/// select (one literal child and the `+` child per level), so its cost depends on the topic's
/// length and the number of matches, not on how many subscriptions there are. Nodes live in one
/// arena and refer to each other by index, so dropping even a very deep trie needs no recursion.
#[derive(Debug)]
pub struct TopicIndex<K> {
    /// The trie's nodes; `nodes[ROOT]` is the root. Vacant slots are listed in `free`.
    nodes: Vec<TopicNode<K>>,
    /// Slots of pruned nodes, reused before the arena grows, so churn does not grow memory.
    free: Vec<NodeId>,
    /// Number of subscriptions, counting repeated inserts.
    len: usize,
}

impl<K> Default for TopicIndex<K> {
    fn default() -> Self {
        TopicIndex {
            nodes: vec![TopicNode::default()],
            free: Vec::new(),
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
        let mut node = ROOT;
        for part in pattern.split('/') {
            node = match part {
                "#" => {
                    // Everything after `#` is ignored: `x/#/c` is the same subscription as `x/#`.
                    *self.nodes[node].rest.entry(key).or_insert(0) += 1;
                    self.len += 1;
                    return;
                }
                "+" => match self.nodes[node].single {
                    Some(child) => child,
                    None => {
                        let child = self.alloc_node();
                        self.nodes[node].single = Some(child);
                        child
                    }
                },
                literal => match self.nodes[node].literal.get(literal) {
                    Some(&child) => child,
                    None => {
                        let child = self.alloc_node();
                        self.nodes[node].literal.insert(literal.into(), child);
                        child
                    }
                },
            };
        }
        *self.nodes[node].exact.entry(key).or_insert(0) += 1;
        self.len += 1;
    }

    /// Removes one subscription of `key` to `pattern`; returns whether there was one.
    ///
    /// Patterns are compared by meaning, as [`insert`](Self::insert) stores them: parts after a `#`
    /// are ignored, so removing `x/#/c` takes back a subscription made as `x/#`. (The broker
    /// keeps each client's exact subscription strings, so it only removes what it inserted.)
    pub fn remove(&mut self, pattern: &str, key: K) -> bool {
        // The nodes passed and the part that led out of each, to prune bottom-up afterwards.
        let mut path: Vec<(NodeId, &str)> = Vec::new();
        let mut node = ROOT;
        let mut ends_with_rest = false;
        for part in pattern.split('/') {
            let child = match part {
                "#" => {
                    ends_with_rest = true;
                    break;
                }
                "+" => self.nodes[node].single,
                literal => self.nodes[node].literal.get(literal).copied(),
            };
            let Some(child) = child else {
                return false;
            };
            path.push((node, part));
            node = child;
        }
        let bucket = if ends_with_rest {
            &mut self.nodes[node].rest
        } else {
            &mut self.nodes[node].exact
        };
        match bucket.get_mut(&key) {
            None => return false,
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                bucket.remove(&key);
            }
        }
        self.len -= 1;
        while let Some((parent, part)) = path.pop() {
            if !self.nodes[node].is_vacant() {
                break;
            }
            let parent_node = &mut self.nodes[parent];
            if part == "+" {
                parent_node.single = None;
            } else {
                parent_node.literal.remove(part);
                shrink_if_sparse(&mut parent_node.literal);
            }
            self.release_node(node);
            node = parent;
        }
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
    /// and loops on the literal child, so the stack grows only with nested forks.
    fn walk<'t>(
        &self,
        mut node: NodeId,
        mut parts: Split<'t, char>,
        nesting: usize,
        sink: &mut Sink<'_, K>,
        deferred: &mut Vec<(NodeId, Split<'t, char>)>,
    ) {
        loop {
            let current = &self.nodes[node];
            let Some(part) = parts.next() else {
                sink.extend(&current.exact);
                return;
            };
            // At least `part` remains, which is all a `#` here needs.
            sink.extend(&current.rest);
            let literal = if current.literal.is_empty() {
                None
            } else {
                current.literal.get(part).copied()
            };
            node = match (literal, current.single) {
                (Some(literal), Some(single)) => {
                    if nesting < MAX_NESTING {
                        self.walk(single, parts.clone(), nesting + 1, sink, deferred);
                    } else {
                        deferred.push((single, parts.clone()));
                    }
                    literal
                }
                (Some(child), None) | (None, Some(child)) => child,
                (None, None) => return,
            };
        }
    }

    /// A fresh empty node, in a reused slot when there is one.
    fn alloc_node(&mut self) -> NodeId {
        match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.nodes.push(TopicNode::default());
                self.nodes.len() - 1
            }
        }
    }

    /// Returns the slot of a vacant, detached node to the free list.
    fn release_node(&mut self, node: NodeId) {
        // Replacing the node drops whatever capacity its maps still held.
        self.nodes[node] = TopicNode::default();
        self.free.push(node);
    }

    /// Number of nodes in use, the root included (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

/// Where a walk puts the keys it finds.
struct Sink<'o, K> {
    out: &'o mut Vec<K>,
    /// Number of non-empty buckets appended: more than one means keys may repeat.
    buckets: usize,
}

impl<K: Copy> Sink<'_, K> {
    fn extend(&mut self, bucket: &Bucket<K>) {
        if !bucket.is_empty() {
            self.buckets += 1;
            self.out.extend(bucket.keys().copied());
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
        let arena = index.nodes.len();
        for (key, pattern) in patterns.iter().enumerate() {
            index.insert(pattern, key);
        }
        assert_eq!(index.nodes.len(), arena);
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
