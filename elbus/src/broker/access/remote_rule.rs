//! `[[remote]]` rules: what identities from other nodes of a federation (`caller@node`) may do
//! here, checked before their frames are routed.

use std::sync::Arc;

use serde::Deserialize;

use super::AccessRule;
use crate::matching::mask_matches;

/// The rule for the senders `name` of the nodes `node` (federation). Every list is optional:
/// absent allows anything, an empty list allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteRule {
    /// The node names this rule is for: a name, or `*` for every node.
    pub node: String,
    /// The sender names (on their node) this rule is for: a name or a broadcast-style mask.
    pub name: String,
    /// One-to-one targets here: `.`-masks matched against the target's name.
    #[serde(default)]
    pub p2p: Option<Vec<String>>,
    /// Broadcasts: `.`-masks that must contain the broadcast mask.
    #[serde(default)]
    pub broadcast: Option<Vec<String>>,
    /// Publications: `/`-patterns matched against the topic.
    #[serde(default)]
    pub publish: Option<Vec<String>>,
    /// Accepted for symmetry with client rules; remote identities never subscribe here.
    #[serde(default)]
    pub subscribe: Option<Vec<String>>,
}

impl RemoteRule {
    /// Whether this rule is for `name` on `node`.
    pub fn applies(&self, node: &str, name: &str) -> bool {
        (self.node == "*" || self.node == node) && mask_matches(&self.name, name)
    }

    /// The client rule the router checks.
    pub fn access_rule(&self) -> Arc<AccessRule> {
        Arc::new(AccessRule {
            name: self.name.clone(),
            p2p: self.p2p.clone(),
            broadcast: self.broadcast.clone(),
            publish: self.publish.clone(),
            subscribe: self.subscribe.clone(),
            ..AccessRule::default()
        })
    }

    /// The rule of an identity no `[[remote]]` rule matches: everything refused (fail closed).
    pub fn deny_all() -> Arc<AccessRule> {
        Arc::new(AccessRule {
            name: String::new(),
            p2p: Some(Vec::new()),
            broadcast: Some(Vec::new()),
            publish: Some(Vec::new()),
            subscribe: Some(Vec::new()),
            ..AccessRule::default()
        })
    }
}
