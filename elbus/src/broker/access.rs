//! Access control of socket clients: who may register which name, and what each client may do
//! (the original broker's AAA, `protocol.md` §8.9), plus the peer credentials it relies on.
//!
//! An [`AccessControl`] is an ordered list of [`AccessRule`]s. A socket client's *primary* name
//! (secondaries share their primary's rule) picks the first rule whose `name` mask matches it;
//! a name that no rule matches is refused with `0x79`. The rule then decides:
//!
//! * who may register the name: UNIX peers by uid/gid ([`AccessRule::uids`],
//!   [`AccessRule::gids`]), TCP peers by source network ([`AccessRule::networks`]);
//! * what the client may do, with the original's matching rules: one-to-one targets
//!   ([`AccessRule::p2p`], `.`-masks against the target name), broadcasts
//!   ([`AccessRule::broadcast`], `.`-masks against the *mask string*), publications
//!   ([`AccessRule::publish`], `/`-patterns against the topic, also for publish_for) and
//!   subscriptions ([`AccessRule::subscribe`], `/`-patterns against each *pattern string*).
//!   Unsubscribe, exclude and unexclude are never checked.
//!
//! Rules are captured when a client connects ([`SharedAccessControl::replace`] affects new
//! connections only, as the original clones its AAA entry at connect); in-process clients are
//! never checked. Without rules the broker does no check at all.
//!
//! The TOML form (feature `acl-file`, which `elbusd --acl FILE` uses) is documented with an
//! example in `elbus/examples/acl.toml`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use crate::matching::{mask_matches, topic_matches};
use crate::Error;

/// The credentials of a UNIX-socket peer, as the kernel reported them at connect time
/// (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
    /// The peer's process id, where the platform reports it.
    pub pid: Option<i32>,
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is a single host).
///
/// Parsed by hand: it is a dozen lines over `std::net`, not worth a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Whether `ip` is inside the network. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, as a
    /// dual-stack listener reports them) are compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xFFu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid network {s:?}: bad address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                    format!("invalid network {s:?}: the prefix must be 0..={max}")
                })?,
            };
        Ok(IpNetwork { addr, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

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
    /// (`None`: any; `[]`: no TCP peer, which keeps a name UNIX-only).
    #[serde(default)]
    pub networks: Option<Vec<IpNetwork>>,
    /// One-to-one targets: `.`-masks matched against the target's full name.
    #[serde(default)]
    pub p2p: Option<Vec<String>>,
    /// Broadcasts: `.`-masks matched against the broadcast *mask string* itself.
    #[serde(default)]
    pub broadcast: Option<Vec<String>>,
    /// Publications (publish and publish_for): `/`-patterns matched against the topic.
    #[serde(default)]
    pub publish: Option<Vec<String>>,
    /// Subscriptions: `/`-patterns matched against each subscription *pattern string*, so
    /// `news/#` permits subscribing to `news/#` or `news/x` but not to `#`.
    #[serde(default)]
    pub subscribe: Option<Vec<String>>,
    /// May call the `.broker` administrative methods (such as `client.disconnect`).
    #[serde(default)]
    pub admin: bool,
}

/// Whether one of `patterns` (absent: any) lets `value` through `matches(pattern, value)`.
fn allowed(patterns: &Option<Vec<String>>, value: &str, matches: fn(&str, &str) -> bool) -> bool {
    patterns
        .as_ref()
        .is_none_or(|patterns| patterns.iter().any(|p| matches(p, value)))
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

    /// Whether a TCP peer from `ip` may register a name of this rule.
    pub fn allows_network(&self, ip: IpAddr) -> bool {
        self.networks
            .as_ref()
            .is_none_or(|nets| nets.iter().any(|net| net.contains(ip)))
    }

    /// Whether a one-to-one message to `target` is allowed.
    pub fn allows_p2p(&self, target: &str) -> bool {
        allowed(&self.p2p, target, mask_matches)
    }

    /// Whether a broadcast to `mask` is allowed.
    pub fn allows_broadcast(&self, mask: &str) -> bool {
        allowed(&self.broadcast, mask, mask_matches)
    }

    /// Whether publishing to `topic` is allowed.
    pub fn allows_publish(&self, topic: &str) -> bool {
        allowed(&self.publish, topic, topic_matches)
    }

    /// Whether subscribing to the pattern string `pattern` is allowed.
    pub fn allows_subscribe(&self, pattern: &str) -> bool {
        allowed(&self.subscribe, pattern, topic_matches)
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

    /// Parses the TOML form (see `elbus/examples/acl.toml`).
    #[cfg(feature = "acl-file")]
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|err| Error::data(format!("access-control rules: {err}")))
    }

    /// Reads and parses a TOML file.
    #[cfg(feature = "acl-file")]
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
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the rules for connections accepted from now on.
    pub fn replace(&self, rules: AccessControl) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(rules);
    }
}

impl From<AccessControl> for SharedAccessControl {
    fn from(rules: AccessControl) -> Self {
        SharedAccessControl::new(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn networks() {
        assert!(net("10.0.0.0/8").contains("10.1.2.3".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("127.0.0.1".parse().unwrap()));
        assert!(net("127.0.0.1").contains("127.0.0.1".parse().unwrap()));
        assert!(!net("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(!net("0.0.0.0/0").contains("::1".parse().unwrap()));
        assert!(net("192.168.0.0/23").contains("192.168.1.200".parse().unwrap()));
        assert!(!net("192.168.0.0/23").contains("192.168.2.1".parse().unwrap()));
        assert!(net("::1/128").contains("::1".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
        // A dual-stack listener reports IPv4 peers as mapped addresses.
        assert!(net("127.0.0.0/8").contains("::ffff:127.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "nonsense/8", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
        assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn operation_checks_follow_the_original() {
        let rule = AccessRule {
            p2p: Some(vec!["test".into(), "group.?.*".into()]),
            broadcast: Some(vec!["group.*".into()]),
            publish: Some(vec!["news/#".into()]),
            subscribe: Some(vec!["news/#".into()]),
            ..AccessRule::new("x")
        };
        assert!(rule.allows_p2p("test"));
        assert!(rule.allows_p2p("group.a.b"));
        assert!(!rule.allows_p2p("group.a"));
        assert!(!rule.allows_p2p("other"));
        // The broadcast check is on the mask string, not on the recipients.
        assert!(rule.allows_broadcast("group.*"));
        assert!(rule.allows_broadcast("group.x"));
        assert!(!rule.allows_broadcast("*"));
        assert!(rule.allows_publish("news/today"));
        assert!(!rule.allows_publish("news"));
        assert!(rule.allows_subscribe("news/#"));
        assert!(rule.allows_subscribe("news/x"));
        assert!(!rule.allows_subscribe("#"));
        let open = AccessRule::new("y");
        assert!(open.allows_p2p("a") && open.allows_publish("t") && open.allows_subscribe("#"));
        let closed = AccessRule {
            publish: Some(vec![]),
            ..AccessRule::new("z")
        };
        assert!(!closed.allows_publish("t"));
    }

    #[test]
    fn registration_rules() {
        let acl = AccessControl::new()
            .rule(AccessRule {
                uids: Some(vec![1000]),
                gids: Some(vec![50]),
                networks: Some(vec![net("10.0.0.0/8")]),
                ..AccessRule::new("svc.*")
            })
            .rule(AccessRule::new("open"));
        let cred = |uid, gid| PeerCredentials {
            uid,
            gid,
            pid: None,
        };
        let (owner, member, stranger) = (cred(1000, 1), cred(7, 50), cred(7, 7));
        let unix = |c| PeerAddress::Unix(Some(c));
        assert!(acl.check_registration("svc.a", unix(&owner)).is_ok());
        assert!(acl.check_registration("svc.a", unix(&member)).is_ok());
        let denied = acl
            .check_registration("svc.a", unix(&stranger))
            .unwrap_err();
        assert_eq!(denied.kind(), crate::ErrorKind::Access);
        // Secondaries are judged by their primary's rule.
        assert!(acl.check_registration("svc.a%%1", unix(&stranger)).is_err());
        assert!(acl
            .check_registration("svc.a", PeerAddress::Unix(None))
            .is_err());
        let tcp = |ip: &str| PeerAddress::Tcp(ip.parse().unwrap());
        assert!(acl.check_registration("svc.a", tcp("10.9.9.9")).is_ok());
        assert!(acl.check_registration("svc.a", tcp("127.0.0.1")).is_err());
        assert!(acl.check_registration("open", tcp("127.0.0.1")).is_ok());
        assert!(acl.check_registration("nobody", tcp("10.0.0.1")).is_err());
        // The first matching rule wins.
        let acl = AccessControl::new()
            .rule(AccessRule {
                networks: Some(vec![]),
                ..AccessRule::new("a")
            })
            .rule(AccessRule::new("*"));
        assert!(acl.check_registration("a", tcp("127.0.0.1")).is_err());
        assert!(acl.check_registration("b", tcp("127.0.0.1")).is_ok());
    }

    #[test]
    fn shared_rules_swap_for_new_captures() {
        let shared = SharedAccessControl::new(AccessControl::new().rule(AccessRule::new("a")));
        let captured = shared.current();
        shared.replace(AccessControl::new());
        assert!(captured.rule_for("a").is_some());
        assert!(shared.current().rule_for("a").is_none());
    }

    #[cfg(feature = "acl-file")]
    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../examples/acl.toml");
        let acl = AccessControl::from_toml(text).unwrap();
        assert!(!acl.rules.is_empty());
        let err = AccessControl::from_toml("[[client]]\nname = \"a\"\nbogus = 1\n").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err =
            AccessControl::from_toml("[[client]]\nname = \"a\"\nnetworks = [\"1.2.3.4/99\"]\n")
                .unwrap_err();
        assert!(err.to_string().contains("prefix"), "{err}");
    }
}
