//! The compressed trie both routing indexes are built on.
//!
//! A path of separator-delimited parts leads from the root to a node. A chain of parts that
//! nothing forks from or ends inside is one node whose label holds all of them, so an entry costs
//! at most two nodes plus its own bytes, however many parts it has: a 64 KiB name of 32,000
//! parts costs about as much as a 64 KiB name of one part.
//!
//! Children are found through one hash table for the whole trie, keyed by (parent, first part of
//! the child's label) and holding only node ids; a node stores no map of its own. Nodes live in
//! one arena and refer to each other by index; when most of the arena is unused it is rebuilt
//! smaller, so memory a departed client held goes back to the allocator.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use hashbrown::HashTable;

/// Position of a node in the arena.
pub(crate) type NodeId = u32;

/// The root node, which always exists (it stands for "no part consumed yet").
pub(crate) const ROOT: NodeId = 0;

/// "No node": an absent link, and the parent of a free arena slot.
const NONE: NodeId = NodeId::MAX;

/// The arena is rebuilt when fewer than a quarter of its slots are in use (and it has at least
/// this many), so shrinking costs amortised O(1) per removal.
const COMPACT_MIN_SLOTS: usize = 64;

/// What a node stores for the index built on the trie.
pub(crate) trait NodeValue: Default {
    /// Whether the value holds nothing, so the node may be pruned or merged away.
    fn is_vacant(&self) -> bool;
}

/// One node: the label of the edge into it and its links.
#[derive(Debug)]
struct Node<V> {
    /// The parts of the edge from the parent, joined by the separator (at least one part; the
    /// root's label is unused).
    label: Box<str>,
    /// The parent; the root's is itself, a free slot's is [`NONE`].
    parent: NodeId,
    first_child: NodeId,
    next_sibling: NodeId,
    prev_sibling: NodeId,
    /// The child whose label starts with the wildcard part, kept out of the hash table so the
    /// walk finds it without hashing.
    wild_child: NodeId,
    value: V,
}

impl<V: Default> Node<V> {
    fn new(label: Box<str>, parent: NodeId) -> Self {
        Node {
            label,
            parent,
            first_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            wild_child: NONE,
            value: V::default(),
        }
    }

    fn free() -> Self {
        Node::new(Box::from(""), NONE)
    }
}

/// A compressed trie over `sep`-separated parts with a value per node.
#[derive(Debug)]
pub(crate) struct Radix<V> {
    sep: char,
    /// A part that the index treats as a wildcard (`+` for topics), found without hashing.
    wild: Option<&'static str>,
    nodes: Vec<Node<V>>,
    free: Vec<NodeId>,
    /// Every non-root node that is not a wild child, by (parent, first label part).
    edges: HashTable<NodeId>,
    hasher: RandomState,
}

fn id(index: usize) -> NodeId {
    // The arena never holds 4 billion nodes: each costs tens of bytes of memory.
    NodeId::try_from(index).unwrap_or(NONE - 1)
}

fn first_part(label: &str, sep: char) -> &str {
    label.split_once(sep).map_or(label, |(first, _)| first)
}

/// Byte length of the longest common prefix of `a` and `b` made of whole parts.
fn common_parts_len(a: &str, b: &str, sep: char) -> usize {
    let mut len = 0;
    for (index, (pa, pb)) in a.split(sep).zip(b.split(sep)).enumerate() {
        if pa != pb {
            break;
        }
        len += pa.len() + if index == 0 { 0 } else { sep.len_utf8() };
    }
    len
}

fn edge_hash(hasher: &RandomState, parent: NodeId, part: &str) -> u64 {
    let mut state = hasher.build_hasher();
    parent.hash(&mut state);
    part.hash(&mut state);
    state.finish()
}

impl<V: NodeValue> Radix<V> {
    /// An empty trie over parts separated by `sep`, `wild` being the part walks look up apart.
    pub(crate) fn new(sep: char, wild: Option<&'static str>) -> Self {
        Radix {
            sep,
            wild,
            nodes: vec![Node::new(Box::from(""), ROOT)],
            free: Vec::new(),
            edges: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    fn node(&self, node: NodeId) -> &Node<V> {
        &self.nodes[node as usize]
    }

    fn node_mut(&mut self, node: NodeId) -> &mut Node<V> {
        &mut self.nodes[node as usize]
    }

    fn is_wild(&self, part: &str) -> bool {
        self.wild == Some(part)
    }

    /// The value of `node`.
    pub(crate) fn value(&self, node: NodeId) -> &V {
        &self.node(node).value
    }

    /// The value of `node`, to change (call [`prune`](Self::prune) after emptying it).
    pub(crate) fn value_mut(&mut self, node: NodeId) -> &mut V {
        &mut self.node_mut(node).value
    }

    /// The label of the edge into `node`: one or more parts joined by the separator.
    pub(crate) fn label(&self, node: NodeId) -> &str {
        &self.node(node).label
    }

    /// The child of `node` whose label starts with `part` (the wild child for the wild part).
    pub(crate) fn child(&self, node: NodeId, part: &str) -> Option<NodeId> {
        if self.is_wild(part) {
            return self.wild_child(node);
        }
        let hash = edge_hash(&self.hasher, node, part);
        let (nodes, sep) = (&self.nodes, self.sep);
        self.edges
            .find(hash, |&child| {
                let child = &nodes[child as usize];
                child.parent == node && first_part(&child.label, sep) == part
            })
            .copied()
    }

    /// The child of `node` whose label starts with the wild part.
    pub(crate) fn wild_child(&self, node: NodeId) -> Option<NodeId> {
        Some(self.node(node).wild_child).filter(|&child| child != NONE)
    }

    /// The children of `node`, in no particular order.
    pub(crate) fn children(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut next = self.node(node).first_child;
        std::iter::from_fn(move || {
            let current = next;
            (current != NONE).then(|| {
                next = self.node(current).next_sibling;
                current
            })
        })
    }

    /// Calls `f` with the value of every node strictly below `top`, and of `top` itself when
    /// `include_top`. A pre-order walk that climbs back through the parent links instead of
    /// keeping a stack, so it neither allocates nor recurses however deep the trie is.
    pub(crate) fn for_each_below(&self, top: NodeId, include_top: bool, mut f: impl FnMut(&V)) {
        if include_top {
            f(self.value(top));
        }
        let mut node = self.node(top).first_child;
        if node == NONE {
            return;
        }
        loop {
            let current = self.node(node);
            f(&current.value);
            if current.first_child != NONE {
                node = current.first_child;
                continue;
            }
            // A leaf: climb until some ancestor below `top` has a next sibling.
            loop {
                let current = self.node(node);
                if current.next_sibling != NONE {
                    node = current.next_sibling;
                    break;
                }
                if current.parent == top {
                    return;
                }
                node = current.parent;
            }
        }
    }

    /// The node at `path` (`None`: the root, zero parts), if there is one.
    pub(crate) fn find(&self, path: Option<&str>) -> Option<NodeId> {
        let Some(mut rest) = path else {
            return Some(ROOT);
        };
        let mut node = ROOT;
        loop {
            let child = self.child(node, first_part(rest, self.sep))?;
            let label = self.label(child);
            if rest == label {
                return Some(child);
            }
            rest = rest
                .strip_prefix(label)
                .and_then(|tail| tail.strip_prefix(self.sep))?;
            node = child;
        }
    }

    /// The node at `path` (`None`: the root), created if missing.
    pub(crate) fn insert(&mut self, path: Option<&str>) -> NodeId {
        let Some(mut rest) = path else {
            return ROOT;
        };
        let mut node = ROOT;
        loop {
            let Some(child) = self.child(node, first_part(rest, self.sep)) else {
                return self.add_child(node, rest);
            };
            let label = self.label(child);
            let common = common_parts_len(label, rest, self.sep);
            if common == label.len() {
                if common == rest.len() {
                    return child;
                }
                rest = &rest[common + self.sep.len_utf8()..];
                node = child;
                continue;
            }
            let middle = self.split(child, common);
            if common == rest.len() {
                return middle;
            }
            return self.add_child(middle, &rest[common + self.sep.len_utf8()..]);
        }
    }

    /// Removes `node` and its ancestors that nothing needs any more, and merges a node left
    /// with one child and no value into that child; call after emptying `node`'s value.
    pub(crate) fn prune(&mut self, mut node: NodeId) {
        while node != ROOT && self.value(node).is_vacant() {
            let first = self.node(node).first_child;
            if first == NONE {
                let parent = self.node(node).parent;
                self.unlink(node);
                self.release(node);
                node = parent;
                continue;
            }
            if self.node(first).next_sibling == NONE {
                self.merge_into_child(node, first);
            }
            break;
        }
        if self.nodes.len() >= COMPACT_MIN_SLOTS && self.live_nodes() * 4 < self.nodes.len() {
            self.compact();
        }
    }

    /// Number of nodes in use, the root included.
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Number of arena slots, free ones included (for tests of slot reuse and shrinking).
    #[cfg(test)]
    pub(crate) fn arena_len(&self) -> usize {
        self.nodes.len()
    }

    fn alloc(&mut self, node: Node<V>) -> NodeId {
        match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                id(self.nodes.len() - 1)
            }
        }
    }

    fn release(&mut self, node: NodeId) {
        // Replacing the node drops its label and whatever its value held.
        *self.node_mut(node) = Node::free();
        self.free.push(node);
    }

    /// Adds the edge of `child` (already linked to its parent) to the lookup structures.
    fn index_edge(&mut self, child: NodeId) {
        let Radix {
            nodes,
            edges,
            hasher,
            sep,
            wild,
            ..
        } = self;
        let node = &nodes[child as usize];
        let first = first_part(&node.label, *sep);
        if *wild == Some(first) {
            let parent = node.parent;
            nodes[parent as usize].wild_child = child;
            return;
        }
        let hash = edge_hash(hasher, node.parent, first);
        edges.insert_unique(hash, child, |&other| {
            let other = &nodes[other as usize];
            edge_hash(hasher, other.parent, first_part(&other.label, *sep))
        });
    }

    /// Points the lookup entry of `old` (a child of its parent) at `new`, which takes its place
    /// with a label of the same first part.
    fn redirect_edge(&mut self, old: NodeId, new: NodeId) {
        let node = self.node(old);
        let (parent, first) = (node.parent, first_part(&node.label, self.sep));
        if self.is_wild(first) {
            self.node_mut(parent).wild_child = new;
            return;
        }
        let hash = edge_hash(&self.hasher, parent, first);
        if let Some(entry) = self.edges.find_mut(hash, |&child| child == old) {
            *entry = new;
        }
    }

    /// Removes the lookup entry of `child`.
    fn unindex_edge(&mut self, child: NodeId) {
        let node = self.node(child);
        let (parent, first) = (node.parent, first_part(&node.label, self.sep));
        if self.is_wild(first) {
            self.node_mut(parent).wild_child = NONE;
            return;
        }
        let hash = edge_hash(&self.hasher, parent, first);
        if let Ok(entry) = self.edges.find_entry(hash, |&other| other == child) {
            entry.remove();
        }
    }

    /// Unlinks `node` from its parent's children and the lookup structures.
    fn unlink(&mut self, node: NodeId) {
        self.unindex_edge(node);
        let Node {
            parent,
            prev_sibling,
            next_sibling,
            ..
        } = *self.node(node);
        if prev_sibling == NONE {
            self.node_mut(parent).first_child = next_sibling;
        } else {
            self.node_mut(prev_sibling).next_sibling = next_sibling;
        }
        if next_sibling != NONE {
            self.node_mut(next_sibling).prev_sibling = prev_sibling;
        }
    }

    /// Puts `new` in the place of `old` among `old`'s siblings (`new`'s own links are set).
    fn replace_sibling(&mut self, old: NodeId, new: NodeId) {
        let Node {
            parent,
            prev_sibling,
            next_sibling,
            ..
        } = *self.node(old);
        if prev_sibling == NONE {
            self.node_mut(parent).first_child = new;
        } else {
            self.node_mut(prev_sibling).next_sibling = new;
        }
        if next_sibling != NONE {
            self.node_mut(next_sibling).prev_sibling = new;
        }
        let moved = self.node_mut(new);
        moved.parent = parent;
        moved.prev_sibling = prev_sibling;
        moved.next_sibling = next_sibling;
    }

    /// A new leaf under `parent` labelled `label`.
    fn add_child(&mut self, parent: NodeId, label: &str) -> NodeId {
        let child = self.alloc(Node::new(Box::from(label), parent));
        let first = self.node(parent).first_child;
        if first != NONE {
            self.node_mut(first).prev_sibling = child;
        }
        self.node_mut(child).next_sibling = first;
        self.node_mut(parent).first_child = child;
        self.index_edge(child);
        child
    }

    /// Splits the label of `child` after its first `at` bytes (a part boundary): a new node with
    /// the head takes `child`'s place, and `child` keeps the tail below it. Returns the new node.
    fn split(&mut self, child: NodeId, at: usize) -> NodeId {
        let label = std::mem::take(&mut self.node_mut(child).label);
        let (head, tail) = (&label[..at], &label[at + self.sep.len_utf8()..]);
        let parent = self.node(child).parent;
        let middle = self.alloc(Node::new(Box::from(head), parent));
        // The head starts with the same part, so the lookup entry keeps its hash.
        self.node_mut(child).label = Box::from(head);
        self.redirect_edge(child, middle);
        self.replace_sibling(child, middle);
        let moved = self.node_mut(child);
        moved.label = Box::from(tail);
        moved.parent = middle;
        moved.prev_sibling = NONE;
        moved.next_sibling = NONE;
        self.node_mut(middle).first_child = child;
        self.index_edge(child);
        middle
    }

    /// Merges the valueless `node` into its only child, which takes its place.
    fn merge_into_child(&mut self, node: NodeId, child: NodeId) {
        self.unindex_edge(child);
        self.redirect_edge(node, child);
        self.replace_sibling(node, child);
        let mut label = String::with_capacity(self.label(node).len() + 1 + self.label(child).len());
        label.push_str(self.label(node));
        label.push(self.sep);
        label.push_str(self.label(child));
        self.node_mut(child).label = label.into_boxed_str();
        self.release(node);
    }

    /// Rebuilds the arena and the lookup table with only the nodes in use.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.nodes);
        let mut new_id = vec![NONE; old.len()];
        let mut nodes = Vec::with_capacity(old.len() - self.free.len());
        for (index, node) in old.into_iter().enumerate() {
            if index == ROOT as usize || node.parent != NONE {
                new_id[index] = id(nodes.len());
                nodes.push(node);
            }
        }
        let remap = |link: NodeId| {
            if link == NONE {
                NONE
            } else {
                new_id[link as usize]
            }
        };
        for node in &mut nodes {
            node.parent = remap(node.parent);
            node.first_child = remap(node.first_child);
            node.next_sibling = remap(node.next_sibling);
            node.prev_sibling = remap(node.prev_sibling);
            node.wild_child = remap(node.wild_child);
        }
        self.nodes = nodes;
        self.free = Vec::new();
        self.edges = HashTable::with_capacity(self.nodes.len());
        for child in 1..self.nodes.len() {
            let child = id(child);
            if !self.is_wild(first_part(self.label(child), self.sep)) {
                self.index_edge(child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Mark(bool);

    impl NodeValue for Mark {
        fn is_vacant(&self) -> bool {
            !self.0
        }
    }

    fn mark(trie: &mut Radix<Mark>, path: &str) {
        let node = trie.insert(Some(path));
        trie.value_mut(node).0 = true;
    }

    fn unmark(trie: &mut Radix<Mark>, path: &str) {
        let node = trie.find(Some(path)).expect(path);
        trie.value_mut(node).0 = false;
        trie.prune(node);
    }

    #[test]
    fn splits_merges_and_compacts() {
        let mut trie = Radix::new('/', Some("+"));
        let paths = ["a/b/c", "a/b", "a/+/c", "a/b/d", "", "/", "x", "+/+/+"];
        for path in paths {
            mark(&mut trie, path);
        }
        for path in paths {
            let node = trie.find(Some(path)).expect(path);
            assert!(trie.value(node).0, "{path}");
        }
        assert_eq!(trie.find(Some("a")).map(|n| trie.value(n).0), Some(false));
        assert!(trie.find(Some("a/b/c/d")).is_none());
        assert!(trie.find(Some("a/c")).is_none());
        for path in paths {
            unmark(&mut trie, path);
        }
        assert_eq!(trie.live_nodes(), 1);
        // A long chain is one node, and many entries compact back down when they leave.
        let deep = vec!["p"; 10_000].join("/");
        mark(&mut trie, &deep);
        assert_eq!(trie.live_nodes(), 2);
        for n in 0..1000 {
            mark(&mut trie, &format!("t/{n}"));
        }
        let grown = trie.arena_len();
        for n in 0..1000 {
            unmark(&mut trie, &format!("t/{n}"));
        }
        unmark(&mut trie, &deep);
        assert_eq!(trie.live_nodes(), 1);
        assert!(
            trie.arena_len() < grown / 4,
            "{} of {grown}",
            trie.arena_len()
        );
    }
}
