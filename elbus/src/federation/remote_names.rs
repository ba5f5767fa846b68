//! The names registered on the other nodes, as their announcements and name snapshots report
//! them: what `client.list` with `{"remote": true}` adds as `name@node`. A node's names are
//! forgotten when it goes down (its snapshot brings them back when it is up again).
//!
//! Bounded by [`MAX_REMOTE_NAMES`] names and [`MAX_REMOTE_NAME_BYTES`] bytes over all nodes;
//! names announced beyond either are not listed (counted as `unlisted` in `federation.status`),
//! and routing to them is not affected: `name@node` never depends on this table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::broker::remote::NODE_SEP;

/// Most remote names listed, all nodes together.
pub(crate) const MAX_REMOTE_NAMES: usize = 65_536;
/// Most bytes of remote names (and their node names) listed, all nodes together.
pub(crate) const MAX_REMOTE_NAME_BYTES: usize = 8 << 20;

#[derive(Debug, Default)]
struct Table {
    by_node: BTreeMap<String, BTreeSet<String>>,
    names: usize,
    bytes: usize,
}

/// The bounded table of other nodes' names.
#[derive(Debug, Default)]
pub(crate) struct RemoteNames {
    table: Mutex<Table>,
    /// Names announced while the table was full.
    pub(crate) unlisted: AtomicU64,
}

impl RemoteNames {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        crate::sync::recover(self.table.lock())
    }

    /// `name` registered on `node`.
    pub(crate) fn registered(&self, node: &str, name: &str) {
        let mut table = self.lock();
        let cost = node.len() + name.len() + 48;
        if table.names >= MAX_REMOTE_NAMES || table.bytes + cost > MAX_REMOTE_NAME_BYTES {
            if !table
                .by_node
                .get(node)
                .is_some_and(|names| names.contains(name))
            {
                self.unlisted.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        let table = &mut *table;
        if table
            .by_node
            .entry(node.to_owned())
            .or_default()
            .insert(name.to_owned())
        {
            table.names += 1;
            table.bytes += cost;
        }
    }

    /// `name` left `node`.
    pub(crate) fn unregistered(&self, node: &str, name: &str) {
        let mut table = self.lock();
        let table = &mut *table;
        let Some(names) = table.by_node.get_mut(node) else {
            return;
        };
        if names.remove(name) {
            table.names -= 1;
            table.bytes -= node.len() + name.len() + 48;
        }
        if names.is_empty() {
            table.by_node.remove(node);
        }
    }

    /// `node` went down: its names are no longer listed.
    pub(crate) fn node_down(&self, node: &str) {
        let mut table = self.lock();
        if let Some(names) = table.by_node.remove(node) {
            table.names -= names.len();
            let bytes: usize = names.iter().map(|n| node.len() + n.len() + 48).sum();
            table.bytes -= bytes;
        }
    }

    /// How many names are listed.
    pub(crate) fn len(&self) -> usize {
        self.lock().names
    }

    /// Every listed name as `name@node`, sorted by node, then name.
    pub(crate) fn list(&self) -> Vec<String> {
        let table = self.lock();
        table
            .by_node
            .iter()
            .flat_map(|(node, names)| {
                names
                    .iter()
                    .map(move |name| format!("{name}{NODE_SEP}{node}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_go_and_stay_bounded() {
        let names = RemoteNames::default();
        names.registered("b", "svc.calc");
        names.registered("b", "svc.calc");
        names.registered("a", "app");
        assert_eq!(names.list(), ["app@a", "svc.calc@b"]);
        names.unregistered("b", "svc.calc");
        names.unregistered("b", "nobody");
        assert_eq!(names.list(), ["app@a"]);
        names.node_down("a");
        assert!(names.list().is_empty());
        for i in 0..MAX_REMOTE_NAMES + 5 {
            names.registered("c", &format!("n{i}"));
        }
        assert_eq!(names.list().len(), MAX_REMOTE_NAMES);
        assert_eq!(names.unlisted.load(Ordering::Relaxed), 5);
        names.node_down("c");
        assert!(names.list().is_empty());
        names.registered("c", "again");
        assert_eq!(names.list(), ["again@c"]);
    }
}
