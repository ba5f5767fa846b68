//! Access control of socket clients: who may register which name, and what each client may do
//! (the original broker's AAA, `protocol.md` §8.9), plus the peer credentials it relies on.
//!
//! An [`AccessControl`] is an ordered list of [`AccessRule`]s. A socket client's *primary* name
//! (secondaries share their primary's rule) picks the first rule whose `name` mask matches it;
//! a name that no rule matches is refused with `0x79`. The rule then decides:
//!
//! * who may register the name: UNIX peers by uid/gid ([`AccessRule::uids`],
//!   [`AccessRule::gids`]), TCP peers by source network ([`AccessRule::networks`]);
//! * what the client may do: one-to-one targets ([`AccessRule::p2p`], `.`-masks matched against
//!   the target name), publications ([`AccessRule::publish`], `/`-patterns matched against the
//!   topic, also for publish_for; a published topic is literal), broadcasts
//!   ([`AccessRule::broadcast`]) and subscriptions ([`AccessRule::subscribe`]). A broadcast mask
//!   or a subscription pattern is itself a pattern, so it is allowed only if a rule pattern
//!   *contains* it: every name (topic) the client's pattern can match must be matched by the
//!   rule pattern ([`mask_contains`], [`topic_contains`]). Matching the client's pattern as if
//!   it were a name would let `?.alerts` allow `*.alerts`, which reaches every client.
//!   Unsubscribe, exclude and unexclude are never checked (they can only narrow what a client
//!   receives).
//!
//! # Fail closed
//!
//! Each transport is judged by its own list: UNIX peers by `uids`/`gids`, TCP peers by
//! `networks`. An absent list admits every peer of its transport, with one exception: a rule that
//! restricts by uid or gid but names no `networks` refuses every TCP peer, whose uid cannot be
//! known (otherwise `uids = [0]` would be open to anyone over TCP). A rule with `networks` but
//! no `uids`/`gids` admits every UNIX peer that can open the socket: the socket file's mode and
//! group ([`ServerConfig::unix_mode`](super::ServerConfig::unix_mode)) are the UNIX side's
//! guard. [`AccessControl::warnings`] lists the rules that are wider than they may look.
//!
//! Rules are captured when a client connects ([`SharedAccessControl::replace`] affects new
//! connections only, as the original clones its AAA entry at connect); in-process clients are
//! never checked. Without rules the broker does no check at all.
//!
//! The TOML form (feature `acl-file`, which `elbusd --acl FILE` uses) is documented with an
//! example in `elbus/examples/acl.toml`.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use crate::logging::Escaped;
use crate::matching::{mask_matches, topic_matches};
use crate::sync::recover;
use crate::Error;

mod containment;
mod peer_identity;
mod remote_rule;
#[cfg(test)]
mod tests;

pub use containment::{mask_contains, topic_contains};
pub use peer_identity::{IpNetwork, PeerCredentials};
pub use remote_rule::RemoteRule;

/// The rules of the client names one `name` mask matches.
///
/// Every list is optional: absent (`None`) allows anything, an empty list allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// The primary client names this rule is for: an exact name or a broadcast-style mask
    /// (`?` one `.`-part, `*` one or more remaining parts), e.g. `svc.*`.
    pub name: String,
    /// UNIX peers whose uid is listed may register the name. With `uids` and/or `gids` set, a
    /// UNIX peer must match one of them (uid listed, or gid listed); with neither, any UNIX peer
    /// may.
    #[serde(default)]
    pub uids: Option<Vec<u32>>,
    /// UNIX peers whose (effective, primary) gid is listed may register the name; see
    /// [`AccessRule::uids`].
    #[serde(default)]
    pub gids: Option<Vec<u32>>,
    /// TCP peers whose source address is in one of these networks may register the name
    /// (`[]`: no TCP peer, which keeps a name UNIX-only). `None`: any address, unless `uids`
    /// or `gids` is set, in which case no TCP peer may (fail closed: a TCP peer's uid is
    /// unknown).
    #[serde(default)]
    pub networks: Option<Vec<IpNetwork>>,
    /// One-to-one targets: `.`-masks matched against the target's full name.
    #[serde(default)]
    pub p2p: Option<Vec<String>>,
    /// Broadcasts: `.`-masks; a broadcast mask is allowed when one of them contains it
    /// (`mask_contains`), so `svc.*` allows `svc.*` and `svc.a` but `?.alerts` does not allow
    /// `*.alerts`.
    #[serde(default)]
    pub broadcast: Option<Vec<String>>,
    /// Publications (publish and publish_for): `/`-patterns matched against the topic.
    #[serde(default)]
    pub publish: Option<Vec<String>>,
    /// Subscriptions: `/`-patterns; a subscription pattern is allowed when one of them contains
    /// it (`topic_contains`), so `news/#` permits `news/#`, `news/+` or `news/x` but not `#`,
    /// and `+/public` does not permit `#/public`.
    #[serde(default)]
    pub subscribe: Option<Vec<String>>,
    /// May call the `.broker` administrative methods (such as `client.disconnect`).
    #[serde(default)]
    pub admin: bool,
}

/// Whether one of `patterns` (absent: any) lets `value` through `check(pattern, value)`.
fn allowed(patterns: &Option<Vec<String>>, value: &str, check: fn(&str, &str) -> bool) -> bool {
    patterns
        .as_ref()
        .is_none_or(|patterns| patterns.iter().any(|p| check(p, value)))
}

impl AccessRule {
    /// A rule for `name` (a name or mask) that allows everything; narrow it with the fields.
    pub fn new(name: impl Into<String>) -> Self {
        AccessRule {
            name: name.into(),
            ..AccessRule::default()
        }
    }

    /// Whether a UNIX peer with `cred` may register a name of this rule.
    pub fn allows_unix_peer(&self, cred: Option<&PeerCredentials>) -> bool {
        if self.uids.is_none() && self.gids.is_none() {
            return true;
        }
        // Unknown credentials cannot satisfy a uid/gid restriction.
        let Some(cred) = cred else {
            return false;
        };
        self.uids.as_ref().is_some_and(|u| u.contains(&cred.uid))
            || self.gids.as_ref().is_some_and(|g| g.contains(&cred.gid))
    }

    /// Whether a TCP peer from `ip` may register a name of this rule: its address must be in
    /// one of [`AccessRule::networks`]. Without `networks`, any address may, unless the rule
    /// restricts by uid or gid: a TCP peer's uid is unknown, so such a rule refuses every TCP
    /// peer (fail closed).
    pub fn allows_network(&self, ip: IpAddr) -> bool {
        match &self.networks {
            Some(nets) => nets.iter().any(|net| net.contains(ip)),
            None => !self.restricts_identity(),
        }
    }

    /// Whether the rule restricts UNIX peers by uid or gid.
    fn restricts_identity(&self) -> bool {
        self.uids.is_some() || self.gids.is_some()
    }

    /// Why this rule may be wider than it looks, if it may: one sentence, or `None`.
    ///
    /// Flagged: an `admin` rule that peers whose identity is not checked can take (no
    /// `uids`/`gids`: every local user who can open the socket; `networks` naming any network:
    /// TCP peers, whose uid is unknown); `networks` holding a `/0`, which admits every address;
    /// and, as a note, a uid/gid rule without `networks`, which refuses TCP peers.
    pub fn warning(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if self.admin {
            if !self.restricts_identity() {
                reasons.push("admin = true without uids or gids: every local user who can open the socket gets the administrative methods".to_owned());
            }
            if self.networks.as_ref().is_some_and(|nets| !nets.is_empty())
                || (self.networks.is_none() && !self.restricts_identity())
            {
                reasons.push("admin = true for TCP peers, whose identity is not checked (add `networks = []` to keep it UNIX-only)".to_owned());
            }
        }
        if let Some(any) = self.networks.iter().flatten().find(|net| net.prefix == 0) {
            reasons.push(format!(
                "networks holds {any}: every TCP address may register"
            ));
        }
        if self.restricts_identity() && self.networks.is_none() && reasons.is_empty() {
            reasons.push(
                "uids/gids without networks: TCP peers are refused (name networks to admit them)"
                    .to_owned(),
            );
        }
        (!reasons.is_empty()).then(|| {
            format!(
                "access rule \"{}\": {}",
                Escaped(&self.name),
                reasons.join("; ")
            )
        })
    }

    /// Whether a one-to-one message to `target` is allowed.
    pub fn allows_p2p(&self, target: &str) -> bool {
        allowed(&self.p2p, target, mask_matches)
    }

    /// Whether a broadcast to `mask` is allowed: a rule mask must contain it
    /// (`mask_contains`).
    pub fn allows_broadcast(&self, mask: &str) -> bool {
        allowed(&self.broadcast, mask, mask_contains)
    }

    /// Whether publishing to `topic` is allowed (a published topic is literal: `+` and `#` in
    /// it are ordinary parts, so matching it against the rule patterns is exact).
    pub fn allows_publish(&self, topic: &str) -> bool {
        allowed(&self.publish, topic, topic_matches)
    }

    /// Whether subscribing to the pattern `pattern` is allowed: a rule pattern must contain it
    /// (`topic_contains`).
    pub fn allows_subscribe(&self, pattern: &str) -> bool {
        allowed(&self.subscribe, pattern, topic_contains)
    }
}

/// An ordered list of [`AccessRule`]s; the first rule whose `name` matches a primary name
/// applies to it, and a name no rule matches may not register.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessControl {
    /// The rules, in the order they are tried.
    #[serde(default, rename = "client", deserialize_with = "shared_rules")]
    pub rules: Vec<Arc<AccessRule>>,
    /// What identities of other nodes may do here (`[[remote]]`, federation): the first rule
    /// whose node and name match applies; a remote identity none matches is refused
    /// everything while any rules are in force.
    #[serde(default)]
    pub remote: Vec<RemoteRule>,
}

/// Reads the rules into `Arc`s (serde's `rc` feature is not worth enabling for this one field).
fn shared_rules<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Arc<AccessRule>>, D::Error> {
    Ok(Vec::<AccessRule>::deserialize(deserializer)?
        .into_iter()
        .map(Arc::new)
        .collect())
}

impl AccessControl {
    /// No rules: every socket registration is refused until rules are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a rule (tried after the ones already there).
    pub fn rule(mut self, rule: AccessRule) -> Self {
        self.rules.push(Arc::new(rule));
        self
    }

    /// The rule for the primary name `name`, if any.
    pub fn rule_for(&self, name: &str) -> Option<&Arc<AccessRule>> {
        self.rules
            .iter()
            .find(|rule| mask_matches(&rule.name, name))
    }

    /// One line for each rule that may be wider than it looks ([`AccessRule::warning`]), for
    /// the log at load time.
    pub fn warnings(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|rule| rule.warning())
            .collect()
    }

    /// Parses the TOML form (see `elbus/examples/acl.toml`).
    #[cfg(feature = "acl-file")]
    #[cfg_attr(docsrs, doc(cfg(feature = "acl-file")))]
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|err| Error::data(format!("access-control rules: {err}")))
    }

    /// Reads and parses a TOML file.
    #[cfg(feature = "acl-file")]
    #[cfg_attr(docsrs, doc(cfg(feature = "acl-file")))]
    pub fn from_file(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::io(format!("unable to read {}: {err}", path.display())))?;
        Self::from_toml(&text).map_err(|err| Error::data(format!("{}: {err}", path.display())))
    }

    /// Decides whether a socket client may register `name` (a full name; its primary part picks
    /// the rule). Returns the rule to apply to the client, or an `Access` error that says why.
    pub(crate) fn check_registration(
        &self,
        name: &str,
        peer: PeerAddress<'_>,
    ) -> Result<Arc<AccessRule>, Error> {
        let primary = crate::protocol::primary_name(name);
        let Some(rule) = self.rule_for(primary) else {
            return Err(Error::access(format!("Client not in AAA map: {primary}")));
        };
        let allowed = match peer {
            PeerAddress::Unix(cred) => rule.allows_unix_peer(cred),
            PeerAddress::Tcp(ip) => rule.allows_network(ip),
        };
        if !allowed {
            return Err(Error::access(match peer {
                PeerAddress::Unix(Some(cred)) => format!(
                    "Client {name} may not be registered by uid {} gid {}",
                    cred.uid, cred.gid
                ),
                PeerAddress::Unix(None) => {
                    format!("Client {name}: the peer's credentials are unknown")
                }
                PeerAddress::Tcp(ip) if rule.networks.is_none() => format!(
                    "Client {name} is not allowed to connect from {ip}: its rule restricts \
                     uids/gids and names no networks, so TCP peers are refused"
                ),
                PeerAddress::Tcp(ip) => {
                    format!("Client {name} is not allowed to connect from {ip}")
                }
            }));
        }
        Ok(rule.clone())
    }
}

/// Where a socket client connects from, as far as registration rules care.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PeerAddress<'a> {
    /// A UNIX-socket peer with its credentials (if the platform reported them).
    Unix(Option<&'a PeerCredentials>),
    /// A TCP peer's source address.
    Tcp(IpAddr),
}

/// Access-control rules that listeners share and that can be swapped while the broker runs
/// (`elbusd` reloads its file on SIGHUP). A connection captures the rules in force when it is
/// accepted; a swap applies to later connections only.
#[derive(Debug, Clone, Default)]
pub struct SharedAccessControl {
    current: Arc<RwLock<Arc<AccessControl>>>,
}

impl SharedAccessControl {
    /// Shares `rules`.
    pub fn new(rules: AccessControl) -> Self {
        SharedAccessControl {
            current: Arc::new(RwLock::new(Arc::new(rules))),
        }
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<AccessControl> {
        recover(self.current.read()).clone()
    }

    /// Replaces the rules for connections accepted from now on.
    pub fn replace(&self, rules: AccessControl) {
        *recover(self.current.write()) = Arc::new(rules);
    }
}

impl From<AccessControl> for SharedAccessControl {
    fn from(rules: AccessControl) -> Self {
        SharedAccessControl::new(rules)
    }
}
