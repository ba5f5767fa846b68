//! Client-name masks for broadcasts (`?`, `*`) and the index of registered names.

use std::collections::HashMap;
use std::str::Split;

use super::{shrink_if_sparse, MAX_NESTING};

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

/// Position of a node in [`NameIndex::nodes`].
type NodeId = usize;

/// The root node, which always exists (it stands for "no part consumed yet").
const ROOT: NodeId = 0;

/// One node of the name trie: the names whose parts so far lead here.
#[derive(Debug)]
struct NameNode<K> {
    /// The node this one is a child of (the root points to itself).
    parent: NodeId,
    /// This node's position in its parent's `children`.
    slot: usize,
    /// Children by their part, for literal mask parts.
    by_part: HashMap<Box<str>, NodeId>,
    /// The same children as a list, for `?` and for walking a whole subtree for `*` without a
    /// stack: a node's next sibling is `parent.children[slot + 1]`.
    children: Vec<NodeId>,
    /// The key of the name that ends here, if one does.
    key: Option<K>,
}

impl<K> NameNode<K> {
    fn new(parent: NodeId, slot: usize) -> Self {
        NameNode {
            parent,
            slot,
            by_part: HashMap::new(),
            children: Vec::new(),
            key: None,
        }
    }

    /// Whether nothing depends on this node any more, so it can be pruned.
    fn is_vacant(&self) -> bool {
        self.key.is_none() && self.children.is_empty()
    }
}

/// Registered client names, searchable by broadcast mask. Each name maps to one key.
///
/// Internally a trie over the names' `.`-separated parts: a literal mask part follows one child,
/// `?` follows every child, and `*` takes every name below. A broadcast therefore visits only the
/// nodes its mask can reach, not every registered name. Nodes live in one arena and refer to each
/// other by index, so dropping even a very deep trie needs no recursion.
#[derive(Debug)]
pub struct NameIndex<K> {
    /// The trie's nodes; `nodes[ROOT]` is the root. Vacant slots are listed in `free`.
    nodes: Vec<NameNode<K>>,
    /// Slots of pruned nodes, reused before the arena grows, so churn does not grow memory.
    free: Vec<NodeId>,
    /// Number of names.
    len: usize,
}

impl<K> Default for NameIndex<K> {
    fn default() -> Self {
        NameIndex {
            nodes: vec![NameNode::new(ROOT, 0)],
            free: Vec::new(),
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
        let mut node = ROOT;
        for part in name.split('.') {
            node = match self.nodes[node].by_part.get(part) {
                Some(&child) => child,
                None => self.add_child(node, part),
            };
        }
        if self.nodes[node].key.replace(key).is_none() {
            self.len += 1;
        }
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let mut node = ROOT;
        for part in name.split('.') {
            match self.nodes[node].by_part.get(part) {
                Some(&child) => node = child,
                None => return false,
            }
        }
        if self.nodes[node].key.take().is_none() {
            return false;
        }
        self.len -= 1;
        // A node's depth is its name's number of parts, so the parts read backwards label the
        // edges from `node` up to the root.
        let mut parts_upward = name.rsplit('.');
        while node != ROOT && self.nodes[node].is_vacant() {
            let Some(part) = parts_upward.next() else {
                break;
            };
            let parent = self.nodes[node].parent;
            self.detach_child(parent, node, part);
            node = parent;
        }
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
    /// `?` the walk recurses into all children but the last and loops on the last, so the stack
    /// grows only with nested forks.
    fn walk<'m>(
        &self,
        mut node: NodeId,
        mut parts: Split<'m, char>,
        nesting: usize,
        out: &mut Vec<K>,
        deferred: &mut Vec<(NodeId, Split<'m, char>)>,
    ) {
        loop {
            let current = &self.nodes[node];
            node = match parts.next() {
                None => {
                    out.extend(current.key);
                    return;
                }
                Some("*") => {
                    self.extend_with_descendants(node, out);
                    return;
                }
                Some("?") => {
                    let Some((&last, others)) = current.children.split_last() else {
                        return;
                    };
                    for &child in others {
                        if nesting < MAX_NESTING {
                            self.walk(child, parts.clone(), nesting + 1, out, deferred);
                        } else {
                            deferred.push((child, parts.clone()));
                        }
                    }
                    last
                }
                Some(literal) => match current.by_part.get(literal) {
                    Some(&child) => child,
                    None => return,
                },
            };
        }
    }

    /// Appends the keys of every name strictly below `top` (what a `*` at `top` matches).
    ///
    /// A pre-order walk that finds its way back up through `parent` and `slot` instead of keeping
    /// a stack, so it neither allocates nor recurses however deep the names go.
    fn extend_with_descendants(&self, top: NodeId, out: &mut Vec<K>) {
        let Some(&first) = self.nodes[top].children.first() else {
            return;
        };
        let mut node = first;
        loop {
            let current = &self.nodes[node];
            out.extend(current.key);
            if let Some(&child) = current.children.first() {
                node = child;
                continue;
            }
            // A leaf: climb until some ancestor below `top` has a next sibling.
            loop {
                let current = &self.nodes[node];
                let parent = current.parent;
                if let Some(&sibling) = self.nodes[parent].children.get(current.slot + 1) {
                    node = sibling;
                    break;
                }
                if parent == top {
                    return;
                }
                node = parent;
            }
        }
    }

    /// Creates the child of `parent` for `part`, in a reused slot when there is one.
    fn add_child(&mut self, parent: NodeId, part: &str) -> NodeId {
        let slot = self.nodes[parent].children.len();
        let fresh = NameNode::new(parent, slot);
        let child = match self.free.pop() {
            Some(id) => {
                self.nodes[id] = fresh;
                id
            }
            None => {
                self.nodes.push(fresh);
                self.nodes.len() - 1
            }
        };
        let parent_node = &mut self.nodes[parent];
        parent_node.children.push(child);
        parent_node.by_part.insert(part.into(), child);
        child
    }

    /// Unlinks the vacant `child` (reached by `part`) from `parent` and frees its slot.
    fn detach_child(&mut self, parent: NodeId, child: NodeId, part: &str) {
        let slot = self.nodes[child].slot;
        let parent_node = &mut self.nodes[parent];
        parent_node.children.swap_remove(slot);
        let moved = parent_node.children.get(slot).copied();
        parent_node.by_part.remove(part);
        shrink_if_sparse(&mut parent_node.by_part);
        if parent_node.children.len() * 4 < parent_node.children.capacity() {
            parent_node
                .children
                .shrink_to(parent_node.children.len() * 2);
        }
        // `swap_remove` moved the last sibling into the hole: keep its `slot` true.
        if let Some(moved) = moved {
            self.nodes[moved].slot = slot;
        }
        // Replacing the node drops whatever capacity its map and list still held.
        self.nodes[child] = NameNode::new(ROOT, 0);
        self.free.push(child);
    }

    /// Number of nodes in use, the root included (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
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
        let arena = index.nodes.len();
        for (key, name) in names.iter().enumerate() {
            index.insert(name, key);
        }
        assert_eq!(index.nodes.len(), arena);
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
