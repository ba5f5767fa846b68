//! The other nodes of the cluster as heartbeats report them: up while heard from within
//! [`FederationConfig::NODE_TIMEOUT`], down after it or at once on a graceful stop.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::FederationConfig;

#[derive(Debug)]
struct NodeState {
    last_seen: Instant,
    up: bool,
}

/// The node table, at most [`FederationConfig::MAX_NODES`] entries.
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    nodes: Mutex<HashMap<String, NodeState>>,
}

/// One `node.list` entry.
#[derive(Debug, Serialize)]
pub(crate) struct NodeReport {
    pub(crate) node: String,
    pub(crate) up: bool,
    /// Milliseconds since its last heartbeat.
    pub(crate) last_seen_ms: u64,
}

impl Nodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, NodeState>> {
        crate::sync::recover(self.nodes.lock())
    }

    /// Whether `node` is up now.
    pub(crate) fn is_up(&self, node: &str) -> bool {
        self.lock()
            .get(node)
            .is_some_and(|s| s.up && s.last_seen.elapsed() < FederationConfig::NODE_TIMEOUT)
    }

    /// A heartbeat of `node`; true when it was not up before (announce `up`).
    pub(crate) fn heard(&self, node: &str) -> bool {
        let mut nodes = self.lock();
        if let Some(state) = nodes.get_mut(node) {
            state.last_seen = Instant::now();
            return !std::mem::replace(&mut state.up, true);
        }
        if nodes.len() >= FederationConfig::MAX_NODES {
            return false;
        }
        let state = NodeState {
            last_seen: Instant::now(),
            up: true,
        };
        nodes.insert(node.to_owned(), state);
        true
    }

    /// `node` said it stops; true when it was up (announce `down`).
    pub(crate) fn gone(&self, node: &str) -> bool {
        self.lock()
            .get_mut(node)
            .is_some_and(|state| std::mem::replace(&mut state.up, false))
    }

    /// The nodes up now.
    pub(crate) fn up(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, state)| state.up)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Marks down every node not heard from within `timeout`; returns them.
    pub(crate) fn sweep(&self, timeout: Duration) -> Vec<String> {
        let mut nodes = self.lock();
        let mut down = Vec::new();
        for (name, state) in nodes.iter_mut() {
            if state.up && state.last_seen.elapsed() >= timeout {
                state.up = false;
                down.push(name.clone());
            }
        }
        down
    }

    /// Every known node, sorted by name.
    pub(crate) fn report(&self) -> Vec<NodeReport> {
        let mut list: Vec<NodeReport> = self
            .lock()
            .iter()
            .map(|(node, s)| NodeReport {
                node: node.clone(),
                up: s.up && s.last_seen.elapsed() < FederationConfig::NODE_TIMEOUT,
                last_seen_ms: u64::try_from(s.last_seen.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
            .collect();
        list.sort_by(|a, b| a.node.cmp(&b.node));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_down() {
        let nodes = Nodes::default();
        assert!(!nodes.is_up("b"));
        assert!(nodes.heard("b"));
        assert!(!nodes.heard("b"));
        assert!(nodes.is_up("b"));
        assert!(nodes.gone("b"));
        assert!(!nodes.is_up("b"));
        assert!(nodes.heard("b"));
        assert_eq!(nodes.sweep(Duration::ZERO), vec!["b".to_owned()]);
        assert!(!nodes.is_up("b"));
        assert_eq!(nodes.report().len(), 1);
    }
}
