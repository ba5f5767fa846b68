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

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use crate::logging::Escaped;
use crate::matching::{mask_matches, topic_matches};
use crate::sync::recover;
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

/// Whether the pattern `rule` contains the pattern `pattern`: every part sequence `pattern`
/// matches is matched by `rule`, in the syntax whose parts are split on `separator`, where
/// `one` matches exactly one part and `rest` one or more remaining parts (ending the pattern).
///
/// One pass over both, part by part: a `rest` in the rule takes whatever the pattern has left
/// (at least one part); a `rest` in the pattern (any number of parts) fits only under a `rest`
/// of the rule; a `one` in the pattern (any part) fits only under a `one`; a literal fits
/// under `one` or the same literal. Cost: linear in the shorter pattern.
fn contains(rule: &str, pattern: &str, separator: char, one: &str, rest: &str) -> bool {
    let mut rule_parts = rule.split(separator);
    let mut parts = pattern.split(separator);
    loop {
        match (rule_parts.next(), parts.next()) {
            (None, None) => return true,
            (Some(r), part) if r == rest => return part.is_some(),
            (Some(_), Some(p)) if p == rest => return false,
            (Some(r), Some(p)) if r == one || r == p => {}
            _ => return false,
        }
    }
}

/// Whether the broadcast mask `rule` contains the mask `mask`: every client name `mask` matches
/// (by [`mask_matches`]) is matched by `rule`. `svc.*` contains `svc.*`, `svc.?.x` and `svc.a`;
/// `?.alerts` does not contain `*.alerts`, and `svc.?` does not contain `svc.*`.
pub fn mask_contains(rule: &str, mask: &str) -> bool {
    contains(rule, mask, '.', "?", "*")
}

/// Whether the topic pattern `rule` contains the pattern `pattern`: every topic `pattern`
/// matches (by [`topic_matches`]) is matched by `rule`. `news/#` contains `news/#` and
/// `news/+/x`; `+/public` does not contain `#/public` (which means `#`), and `x/#` does not
/// contain `x` (`x/#` does not match the topic `x`).
pub fn topic_contains(rule: &str, pattern: &str) -> bool {
    contains(rule, pattern, '/', "+", "#")
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
        // The broadcast check is on what the mask can reach: the rule mask must contain it.
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
    fn containment_examples() {
        // The escalations of issue 13: a `?` or `+` rule chunk never admits a client's `*`/`#`.
        assert!(!mask_contains("?.alerts", "*.alerts"));
        assert!(!topic_contains("+/public", "#/public"));
        assert!(!topic_contains("+/public", "#"));
        for (rule, mask, want) in [
            ("svc.*", "svc.*", true),
            ("svc.*", "svc.*.x", true),
            ("svc.*", "svc.?", true),
            ("svc.*", "svc.a.b", true),
            ("svc.*", "svc", false),
            ("svc.*", "*", false),
            ("svc.?", "svc.a", true),
            ("svc.?", "svc.?", true),
            ("svc.?", "svc.*", false),
            ("?.alerts", "x.alerts", true),
            ("*", "*", true),
            ("*", "?.?", true),
            ("a", "?", false),
            ("a*", "a*", true),
            ("a*", "ab", false),
        ] {
            assert_eq!(
                mask_contains(rule, mask),
                want,
                "{rule:?} contains {mask:?}"
            );
        }
        for (rule, pattern, want) in [
            ("news/#", "news/#", true),
            ("news/#", "news/+/x", true),
            ("news/#", "news/#/x", true),
            ("news/#", "news", false),
            ("news/#", "#", false),
            ("news/+", "news/x", true),
            ("news/+", "news/+", true),
            ("news/+", "news/#", false),
            ("x/#", "x", false),
            ("#", "x", true),
            ("#", "#", true),
            ("+/#", "#", false),
            ("+/#", "+/+", true),
            ("+", "#", false),
        ] {
            assert_eq!(
                topic_contains(rule, pattern),
                want,
                "{rule:?} contains {pattern:?}"
            );
        }
    }

    /// Parts of generated patterns: both wildcards, a non-wildcard `a*`/`a#`, empty parts and
    /// literals.
    const MASK_PARTS: [&str; 6] = ["", "a", "b", "?", "*", "a*"];
    const TOPIC_PARTS: [&str; 6] = ["", "a", "b", "+", "#", "a#"];
    /// Parts of the names tried: every literal the patterns use, plus parts no pattern names
    /// (`z`, and the wildcard characters, which are ordinary parts in a name or topic).
    const NAME_PARTS: [&str; 8] = ["", "a", "b", "a*", "a#", "z", "*", "#"];
    /// Generated patterns have at most this many parts.
    const MAX_PARTS: usize = 4;

    /// Every name of 1 ..= `MAX_PARTS + 1` parts from [`NAME_PARTS`] joined with `separator`.
    /// A pattern of at most `MAX_PARTS` parts cannot tell a part it does not name from `z`, nor a
    /// longer name from one of `MAX_PARTS + 1` parts, so this finite set decides containment.
    fn all_names(separator: &str) -> Vec<String> {
        let mut names: Vec<String> = NAME_PARTS.iter().map(|p| (*p).to_owned()).collect();
        let mut last = names.clone();
        for _ in 1..=MAX_PARTS {
            last = last
                .iter()
                .flat_map(|name| {
                    NAME_PARTS
                        .iter()
                        .map(move |p| format!("{name}{separator}{p}"))
                })
                .collect();
            names.extend(last.iter().cloned());
        }
        names
    }

    fn pattern(
        parts: &'static [&'static str],
        separator: &'static str,
    ) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(parts), 1..=MAX_PARTS)
            .prop_map(move |p| p.join(separator))
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Containment agrees with the broker's matchers: the rule contains the client's
        /// pattern exactly when every name (topic) the pattern matches is matched by the rule.
        #[test]
        fn mask_containment_agrees_with_matching(
            rule in pattern(&MASK_PARTS, "."),
            mask in pattern(&MASK_PARTS, "."),
        ) {
            let names = all_names(".");
            let escaping = names
                .iter()
                .find(|name| mask_matches(&mask, name) && !mask_matches(&rule, name));
            prop_assert_eq!(
                mask_contains(&rule, &mask),
                escaping.is_none(),
                "rule {:?}, mask {:?}, a name only the mask matches: {:?}",
                rule,
                mask,
                escaping
            );
        }

        #[test]
        fn topic_containment_agrees_with_matching(
            rule in pattern(&TOPIC_PARTS, "/"),
            topic in pattern(&TOPIC_PARTS, "/"),
        ) {
            let topics = all_names("/");
            let escaping = topics
                .iter()
                .find(|t| topic_matches(&topic, t) && !topic_matches(&rule, t));
            prop_assert_eq!(
                topic_contains(&rule, &topic),
                escaping.is_none(),
                "rule {:?}, pattern {:?}, a topic only the pattern matches: {:?}",
                rule,
                topic,
                escaping
            );
        }
    }

    #[test]
    fn uid_rules_refuse_tcp_peers_unless_they_name_networks() {
        let tcp = |ip: &str| PeerAddress::Tcp(ip.parse().unwrap());
        let acl = AccessControl::new()
            .rule(AccessRule {
                uids: Some(vec![0]),
                admin: true,
                ..AccessRule::new("admin")
            })
            .rule(AccessRule {
                gids: Some(vec![50]),
                networks: Some(vec![net("127.0.0.0/8")]),
                ..AccessRule::new("staff")
            })
            .rule(AccessRule {
                networks: Some(vec![net("127.0.0.0/8")]),
                ..AccessRule::new("net")
            })
            .rule(AccessRule::new("open"));
        let err = acl
            .check_registration("admin", tcp("127.0.0.1"))
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Access);
        assert!(err.to_string().contains("TCP peers are refused"), "{err}");
        assert!(acl.check_registration("staff", tcp("127.0.0.1")).is_ok());
        assert!(acl.check_registration("staff", tcp("10.0.0.1")).is_err());
        assert!(acl.check_registration("net", tcp("127.0.0.1")).is_ok());
        assert!(acl.check_registration("open", tcp("10.0.0.1")).is_ok());
        // UNIX peers: uids/gids decide; a networks-only rule leaves them to the socket's mode.
        let root = PeerCredentials {
            uid: 0,
            gid: 0,
            pid: None,
        };
        let user = PeerCredentials { uid: 1000, ..root };
        assert!(acl
            .check_registration("admin", PeerAddress::Unix(Some(&root)))
            .is_ok());
        assert!(acl
            .check_registration("admin", PeerAddress::Unix(Some(&user)))
            .is_err());
        assert!(acl
            .check_registration("net", PeerAddress::Unix(Some(&user)))
            .is_ok());
    }

    #[test]
    fn warnings_flag_wide_rules_once_each() {
        let acl = AccessControl::new()
            .rule(AccessRule {
                uids: Some(vec![0]),
                ..AccessRule::new("root.only")
            })
            .rule(AccessRule {
                admin: true,
                ..AccessRule::new("ops.*")
            })
            .rule(AccessRule {
                networks: Some(vec![net("0.0.0.0/0")]),
                ..AccessRule::new("any\nwhere")
            })
            .rule(AccessRule {
                uids: Some(vec![0]),
                networks: Some(vec![]),
                admin: true,
                ..AccessRule::new("admin")
            })
            .rule(AccessRule::new("*"));
        let warnings = acl.warnings();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(
            warnings[0].contains("\"root.only\"") && warnings[0].contains("TCP peers are refused")
        );
        assert!(warnings[1].contains("every local user") && warnings[1].contains("TCP peers"));
        assert!(warnings[2].contains("0.0.0.0/0") && !warnings[2].contains('\n'));
        #[cfg(feature = "acl-file")]
        {
            let example =
                AccessControl::from_toml(include_str!("../../examples/acl.toml")).unwrap();
            assert!(example.warnings().is_empty(), "{:#?}", example.warnings());
        }
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
