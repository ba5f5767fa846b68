//! Client-name masks for broadcasts (`?`, `*`) and the index of registered names.

use std::str::Split;

use super::radix::{NodeId, NodeValue, Radix, ROOT};
use super::MAX_NESTING;

/// Whether the broadcast `mask` matches the client `name`.
///
/// `?` matches exactly one part (which may be empty); `*` matches one or more remaining parts and
/// ends the mask; other parts match literally. Only whole parts are special: `a*` is literal.
pub fn mask_matches(mask: &str, name: &str) -> bool {
    let mut name_parts = name.split('.');
    for part in mask.split('.') {
        match part {
            "*" => return name_parts.next().is_some(),
            "?" => {
                if name_parts.next().is_none() {
                    return false;
                }
            }
            literal => {
                if name_parts.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    name_parts.next().is_none()
}

/// What a trie node holds: the key of the name that ends at it, if one does.
#[derive(Debug)]
struct NameKey<K>(Option<K>);

// Written out because the derive would require `K: Default`.
impl<K> Default for NameKey<K> {
    fn default() -> Self {
        NameKey(None)
    }
}

impl<K> NodeValue for NameKey<K> {
    fn is_vacant(&self) -> bool {
        self.0.is_none()
    }
}

/// Where matching the rest of a node's label against a mask leads.
enum Step<'m> {
    /// The label matched: go on at the node with the mask parts left.
    Continue(NodeId, Split<'m, char>),
    /// Nothing more to do below this node (no match, or a `*` took the whole subtrie).
    Stop,
}

/// Registered client names, searchable by broadcast mask. Each name maps to one key.
///
/// Internally a compressed trie over the names' `.`-separated parts (`matching/radix.rs`): a
/// literal mask part follows one child, `?` follows every child, and `*` takes every name below.
/// A broadcast therefore visits only the nodes its mask can reach, not every registered name;
/// and a name costs at most two nodes plus its bytes, however many parts it has.
#[derive(Debug)]
pub struct NameIndex<K> {
    trie: Radix<NameKey<K>>,
    /// Number of names.
    len: usize,
}

impl<K> Default for NameIndex<K> {
    fn default() -> Self {
        NameIndex {
            trie: Radix::new('.', None),
            len: 0,
        }
    }
}

impl<K: Copy + Ord> NameIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name` for `key`. Names are unique: the caller never inserts a name twice (if it
    /// does, the new key replaces the old one).
    pub fn insert(&mut self, name: &str, key: K) {
        let node = self.trie.insert(Some(name));
        if self.trie.value_mut(node).0.replace(key).is_none() {
            self.len += 1;
        }
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(node) = self.trie.find(Some(name)) else {
            return false;
        };
        if self.trie.value_mut(node).0.take().is_none() {
            return false;
        }
        self.len -= 1;
        self.trie.prune(node);
        true
    }

    /// Appends to `out` the key of every name that `mask` matches (each once, in no particular
    /// order).
    pub fn matches(&self, mask: &str, out: &mut Vec<K>) {
        // Forks nested deeper than `MAX_NESTING` wait here instead of growing the call stack; a
        // `Vec` allocates only if something is pushed, which ordinary tries never cause.
        let mut deferred = Vec::new();
        self.walk(ROOT, mask.split('.'), 0, out, &mut deferred);
        while let Some((node, parts)) = deferred.pop() {
            self.walk(node, parts, 0, out, &mut deferred);
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index holds no name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the keys of the subtrie at `node` that the mask `parts` left match.
    ///
    /// A mask and a name line up part by part in only one way, so no name is reached twice. At a
    /// `?` the walk recurses into all matching children but the last and loops on the last, so
    /// the stack grows only with nested forks.
    fn walk<'m>(
        &self,
        mut node: NodeId,
        mut parts: Split<'m, char>,
        nesting: usize,
        out: &mut Vec<K>,
        deferred: &mut Vec<(NodeId, Split<'m, char>)>,
    ) {
        loop {
            let next = match parts.next() {
                None => {
                    out.extend(self.trie.value(node).0);
                    return;
                }
                Some("*") => {
                    self.trie
                        .for_each_below(node, false, |key| out.extend(key.0));
                    return;
                }
                Some("?") => {
                    let mut pending = None;
                    for child in self.trie.children(node) {
                        let Step::Continue(child, rest) = self.follow(child, parts.clone(), out)
                        else {
                            continue;
                        };
                        if let Some((fork, fork_parts)) = pending.replace((child, rest)) {
                            if nesting < MAX_NESTING {
                                self.walk(fork, fork_parts, nesting + 1, out, deferred);
                            } else {
                                deferred.push((fork, fork_parts));
                            }
                        }
                    }
                    pending
                }
                Some(literal) => match self.trie.child(node, literal) {
                    Some(child) => match self.follow(child, parts, out) {
                        Step::Continue(child, rest) => Some((child, rest)),
                        Step::Stop => None,
                    },
                    None => None,
                },
            };
            let Some((child, rest)) = next else {
                return;
            };
            (node, parts) = (child, rest);
        }
    }

    /// Matches the rest of `child`'s label (its first part was matched by the mask part that
    /// selected it) against the mask's next parts. A `*` inside the label takes every name at
    /// or below `child`: each has at least one more part.
    fn follow<'m>(&self, child: NodeId, mut parts: Split<'m, char>, out: &mut Vec<K>) -> Step<'m> {
        for label_part in self.trie.label(child).split('.').skip(1) {
            match parts.next() {
                // Names end only at nodes: none ends inside this label.
                None => return Step::Stop,
                Some("*") => {
                    self.trie
                        .for_each_below(child, true, |key| out.extend(key.0));
                    return Step::Stop;
                }
                Some("?") => {}
                Some(literal) => {
                    if literal != label_part {
                        return Step::Stop;
                    }
                }
            }
        }
        Step::Continue(child, parts)
    }

    /// Number of trie nodes in use, the root included (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.trie.live_nodes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The observed table of `protocol.md` §8.2 (clients `p2.a`, `p2.b`, `p2.b%%x`, `p2.b%%y`).
    #[test]
    fn spec_table() {
        let names = ["p2.a", "p2.b", "p2.b%%x", "p2.b%%y", ".broker"];
        let table: [(&str, [bool; 5]); 8] = [
            ("p2.*", [true, true, true, true, false]),
            ("p2.?", [true, true, true, true, false]),
            ("?.b", [false, true, false, false, false]),
            ("*", [true; 5]),
            ("p2.b", [false, true, false, false, false]),
            ("p2", [false; 5]),
            ("p2.b.*", [false; 5]),
            ("p2.*.x", [true, true, true, true, false]),
        ];
        for (mask, expected) in table {
            for (name, want) in names.iter().zip(expected) {
                assert_eq!(
                    mask_matches(mask, name),
                    want,
                    "mask {mask:?} name {name:?}"
                );
            }
        }
        assert!(!mask_matches("a*", "ab"));
        assert!(mask_matches("a*", "a*"));

        // The index agrees with the table.
        let mut index = NameIndex::new();
        for (key, name) in names.iter().enumerate() {
            index.insert(name, key);
        }
        for (mask, expected) in table {
            let mut out = Vec::new();
            index.matches(mask, &mut out);
            out.sort_unstable();
            let want: Vec<usize> = (0..names.len()).filter(|&key| expected[key]).collect();
            assert_eq!(out, want, "mask {mask:?}");
        }
        let mut out = Vec::new();
        index.matches("?.broker", &mut out);
        assert_eq!(out, [4]);
    }

    #[test]
    fn insert_replaces_and_remove_prunes() {
        let mut index = NameIndex::new();
        let names = [
            "a.b.c",
            "a.b",
            "a.x.c",
            ".broker",
            "",
            "a.b%%x",
            "a.b.c.d.e",
        ];
        for (key, name) in names.iter().enumerate() {
            index.insert(name, key);
        }
        index.insert("a.b", 100);
        assert_eq!(index.len(), names.len());
        let mut out = Vec::new();
        index.matches("a.b", &mut out);
        assert_eq!(out, [100]);
        assert!(!index.remove("a"));
        assert!(!index.remove("a.b.c.d"));
        assert!(!index.remove("nope"));
        for name in names {
            assert!(index.remove(name), "{name:?}");
            assert!(!index.remove(name), "{name:?}");
        }
        assert!(index.is_empty());
        assert_eq!(index.live_nodes(), 1);
        let arena = index.trie.arena_len();
        for (key, name) in names.iter().enumerate() {
            index.insert(name, key);
        }
        assert_eq!(index.trie.arena_len(), arena);
    }

    /// Forks nested deeper than `MAX_NESTING` go through the deferred list and still match.
    #[test]
    fn deeply_nested_forks() {
        let depth = 3 * MAX_NESTING;
        let mut names = Vec::new();
        // An `a` chain inserted first, then a `b` leaf beside every link: at each level `?`
        // recurses into `a` (not the last child) and loops on `b`.
        for len in 1..=depth {
            names.push(vec!["a"; len].join("."));
        }
        for len in 0..depth {
            let mut name = "a.".repeat(len);
            name.push('b');
            names.push(name);
        }
        let mut index = NameIndex::new();
        for (key, name) in names.iter().enumerate() {
            index.insert(name, key);
        }
        for parts in [1, MAX_NESTING, depth, depth + 1] {
            for tail in ["", ".*"] {
                let mask = format!("{}{tail}", vec!["?"; parts].join("."));
                let mut out = Vec::new();
                index.matches(&mask, &mut out);
                out.sort_unstable();
                let want: Vec<usize> = (0..names.len())
                    .filter(|&key| mask_matches(&mask, &names[key]))
                    .collect();
                assert_eq!(out, want, "{parts} parts{tail}");
            }
        }
    }

    /// A name of very many parts must not overflow the stack when matched or dropped.
    #[test]
    fn very_long_name() {
        let name = vec!["a"; 200_000].join(".");
        let mut index = NameIndex::new();
        index.insert(&name, 1u64);
        let mut out = Vec::new();
        index.matches("*", &mut out);
        index.matches(&name, &mut out);
        assert_eq!(out, [1, 1]);
        drop(index);
    }

    /// Name parts that exercise every rule, including parts that look like wildcards.
    const NAME_PARTS: [&str; 6] = ["", "a", "b", "a%%x", "?", "*"];
    /// Mask parts: both wildcards, a non-wildcard `a*`, empty parts and literals.
    const MASK_PARTS: [&str; 7] = ["", "a", "b", "a%%x", "?", "*", "a*"];

    fn name_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&NAME_PARTS[..]), 1..=4)
            .prop_map(|p| p.join("."))
    }

    fn mask_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&MASK_PARTS[..]), 1..=5)
            .prop_map(|p| p.join("."))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// After any insert/remove sequence the index answers like the reference matcher applied
        /// to a plain list of the live names, and prunes back to the root when emptied.
        #[test]
        fn agrees_with_reference(
            ops in prop::collection::vec((any::<bool>(), name_strategy()), 1..32),
            masks in prop::collection::vec(mask_strategy(), 48),
        ) {
            let mut index = NameIndex::new();
            let mut model: Vec<(String, usize)> = Vec::new();
            for (step, (insert, name)) in ops.iter().enumerate() {
                let found = model.iter().position(|(n, _)| n == name);
                // Names are unique, so an insert of a live name is a remove in this model.
                if *insert && found.is_none() {
                    index.insert(name, step);
                    model.push((name.clone(), step));
                } else {
                    if let Some(pos) = found {
                        model.swap_remove(pos);
                    }
                    prop_assert_eq!(index.remove(name), found.is_some());
                }
                prop_assert_eq!(index.len(), model.len());
            }
            let mut out = Vec::new();
            for mask in &masks {
                out.clear();
                index.matches(mask, &mut out);
                out.sort_unstable();
                let mut want: Vec<usize> = model
                    .iter()
                    .filter(|(name, _)| mask_matches(mask, name))
                    .map(|&(_, key)| key)
                    .collect();
                want.sort_unstable();
                prop_assert_eq!(&out, &want, "mask {:?}", mask);
            }
            for (name, _) in model.drain(..) {
                prop_assert!(index.remove(&name));
            }
            prop_assert!(index.is_empty());
            prop_assert_eq!(index.live_nodes(), 1);
        }
    }
}
