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
mod tests;
