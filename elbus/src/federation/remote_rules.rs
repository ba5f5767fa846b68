//! The `[[remote]]` rules of the access-control file as the gateway applies them: one client
//! rule per remote identity, fail closed.

use std::sync::Arc;

use crate::broker::{AccessControl, AccessRule, RemoteRule};

/// The remote rules in force (present whenever access-control rules are).
#[derive(Debug, Clone, Default)]
pub(crate) struct RemoteRules {
    rules: Vec<RemoteRule>,
}

impl RemoteRules {
    /// The remote rules of `access`.
    pub(crate) fn of(access: &AccessControl) -> RemoteRules {
        RemoteRules {
            rules: access.remote.clone(),
        }
    }

    /// The rule for `name` on `node`: the first matching `[[remote]]` rule, or one that
    /// refuses everything.
    pub(crate) fn rule_for(&self, node: &str, name: &str) -> Arc<AccessRule> {
        self.rules
            .iter()
            .find(|rule| rule.applies(node, name))
            .map_or_else(RemoteRule::deny_all, RemoteRule::access_rule)
    }
}
