//! NATS subjects of the federation: elbus topics converted with nats-server's own MQTT rules,
//! node names, and the subjects each kind of frame travels on.
//!
//! The conversion is nats-server's MQTT-topic -> subject mapping, so MQTT devices on the same
//! server see elbus topics under their natural names: `/` -> `.`, a literal `.` -> `//`, an
//! empty level -> `/` (a leading, trailing or doubled `/`). In patterns, `+` -> `*` and a final
//! `#` -> `>`; NATS `>` matches one or more trailing tokens as elbus `#` does. A topic with no
//! encoding (empty, whitespace or control characters, a `+` / `#` / `*` / `>` in a level) is
//! not exported.

use std::fmt;

/// Why a topic or pattern has no NATS subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unexportable {
    /// The empty topic.
    Empty,
    /// Whitespace or a control character (NATS separates fields with them).
    Whitespace,
    /// A wildcard character (`+`, `#`, `*`, `>`) in a topic, or misplaced in a pattern.
    Wildcard,
}

impl fmt::Display for Unexportable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unexportable::Empty => "the empty topic has no NATS subject",
            Unexportable::Whitespace => "whitespace or control characters have no NATS subject",
            Unexportable::Wildcard => "a wildcard character where NATS cannot take it",
        })
    }
}

/// Converts an elbus topic (`wildcards` false) or subscription pattern (`wildcards` true) into
/// the NATS subject nats-server's MQTT gateway would use for it.
pub fn topic_to_subject(topic: &str, wildcards: bool) -> Result<String, Unexportable> {
    let mut out = String::with_capacity(topic.len() + 8);
    push_converted(&mut out, topic, wildcards)?;
    Ok(out)
}

/// Appends the conversion of `topic` (see [`topic_to_subject`]) to `out`; on an error `out`
/// holds part of it.
fn push_converted(out: &mut String, topic: &str, wildcards: bool) -> Result<(), Unexportable> {
    if topic.is_empty() {
        return Err(Unexportable::Empty);
    }
    let mut levels = topic.split('/').peekable();
    let mut first = true;
    while let Some(level) = levels.next() {
        if !first {
            out.push('.');
        }
        first = false;
        match level {
            "" => out.push('/'),
            "+" if wildcards => out.push('*'),
            "#" if wildcards && levels.peek().is_none() => out.push('>'),
            level => {
                for c in level.chars() {
                    match c {
                        c if c.is_whitespace() || c.is_control() => {
                            return Err(Unexportable::Whitespace)
                        }
                        '+' | '#' | '*' | '>' => return Err(Unexportable::Wildcard),
                        '.' => out.push_str("//"),
                        c => out.push(c),
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `node` is a valid node name: a NATS token of `[A-Za-z0-9_-]`, 1 to 64 bytes.
pub fn valid_node_name(node: &str) -> bool {
    (1..=64).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A node name made of `raw` (a host name): invalid characters become `-`, at most 64 bytes;
/// `node` when nothing is left.
pub fn node_name_from(raw: &str) -> String {
    let name: String = raw
        .trim()
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "node".to_owned()
    } else {
        name
    }
}

/// The subjects of one cluster (prefix `elbus.<cluster>`, `E` below) as one node uses them.
#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    prefix: String,
}

impl Subjects {
    pub(crate) fn new(cluster: &str) -> Subjects {
        Subjects {
            prefix: format!("elbus.{cluster}"),
        }
    }

    /// `E.t.<subject>`: an import pattern, converted.
    pub(crate) fn topic(&self, converted: &str) -> String {
        format!("{}.t.{converted}", self.prefix)
    }

    /// `E.t.<converted topic>`: the subject of a publication to `topic`, built in one buffer.
    pub(crate) fn publication(&self, topic: &str) -> Result<String, Unexportable> {
        let mut out = String::with_capacity(self.prefix.len() + 3 + topic.len() + 8);
        out.push_str(&self.prefix);
        out.push_str(".t.");
        push_converted(&mut out, topic, false)?;
        Ok(out)
    }

    /// `E.n.<node>.m`: one-to-one messages to `node`.
    pub(crate) fn messages(&self, node: &str) -> String {
        format!("{}.n.{node}.m", self.prefix)
    }

    /// `E.n.<node>.b`: broadcasts to `node`.
    pub(crate) fn broadcasts(&self, node: &str) -> String {
        format!("{}.n.{node}.b", self.prefix)
    }

    /// `E.b`: broadcasts to every node.
    pub(crate) fn broadcast_all(&self) -> String {
        format!("{}.b", self.prefix)
    }

    /// `E.node.<node>.<what>`: `hb` (heartbeat), `info` (announcements), `ctl` (requests).
    pub(crate) fn node(&self, node: &str, what: &str) -> String {
        format!("{}.node.{node}.{what}", self.prefix)
    }

    /// The node named in a `E.node.<node>.<what>` subject.
    pub(crate) fn node_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix(".node.")?;
        rest.split('.').next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_server_mqtt_rules() {
        let conv = |t: &str| topic_to_subject(t, false);
        assert_eq!(conv("a/b/c").as_deref(), Ok("a.b.c"));
        assert_eq!(conv("/a").as_deref(), Ok("/.a"));
        assert_eq!(conv("a/").as_deref(), Ok("a./"));
        assert_eq!(conv("a//b").as_deref(), Ok("a./.b"));
        assert_eq!(conv("a.b/c").as_deref(), Ok("a//b.c"));
        assert_eq!(conv("/").as_deref(), Ok("/./"));
        assert_eq!(conv(""), Err(Unexportable::Empty));
        assert_eq!(conv("a b"), Err(Unexportable::Whitespace));
        assert_eq!(conv("a/*"), Err(Unexportable::Wildcard));
        assert_eq!(conv("a/>"), Err(Unexportable::Wildcard));
        assert_eq!(conv("a/+"), Err(Unexportable::Wildcard));
        let pat = |t: &str| topic_to_subject(t, true);
        assert_eq!(pat("a/+/c").as_deref(), Ok("a.*.c"));
        assert_eq!(pat("a/#").as_deref(), Ok("a.>"));
        assert_eq!(pat("#").as_deref(), Ok(">"));
        assert_eq!(pat("#/a"), Err(Unexportable::Wildcard));
    }

    #[test]
    fn node_names() {
        assert!(valid_node_name("edge-1_b"));
        assert!(!valid_node_name(""));
        assert!(!valid_node_name("a.b"));
        assert!(!valid_node_name("a*"));
        assert_eq!(node_name_from("host.example.org"), "host");
        assert_eq!(node_name_from("h st"), "h-st");
        assert_eq!(node_name_from(""), "node");
    }

    #[test]
    fn subjects() {
        let s = Subjects::new("main");
        assert_eq!(s.topic("a.b"), "elbus.main.t.a.b");
        assert_eq!(s.publication("a.b/c").as_deref(), Ok("elbus.main.t.a//b.c"));
        assert_eq!(s.publication("a b"), Err(Unexportable::Whitespace));
        assert_eq!(s.messages("b"), "elbus.main.n.b.m");
        assert_eq!(s.node("b", "hb"), "elbus.main.node.b.hb");
        assert_eq!(s.node_of("elbus.main.node.b.hb"), Some("b"));
        assert_eq!(s.node_of("elbus.other.node.b.hb"), None);
    }

    /// NATS subject matching as nats-server defines it: `*` one token, a final `>` one or
    /// more tokens, anything else literally.
    fn nats_matches(pattern: &str, subject: &str) -> bool {
        let mut tokens = subject.split('.');
        for part in pattern.split('.') {
            match part {
                ">" => return tokens.next().is_some(),
                "*" => {
                    if tokens.next().is_none() {
                        return false;
                    }
                }
                literal => {
                    if tokens.next() != Some(literal) {
                        return false;
                    }
                }
            }
        }
        tokens.next().is_none()
    }

    fn levels(pattern: bool) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let level = if pattern {
            prop::sample::select(vec!["a", "b", ".", "", "a.b", "+", "x/"])
        } else {
            prop::sample::select(vec!["a", "b", ".", "", "a.b", "c.", "x/"])
        };
        (prop::collection::vec(level, 1..5), any::<bool>()).prop_map(move |(levels, hash)| {
            let mut text = levels.join("/");
            if pattern && hash {
                text.push_str("/#");
            }
            text
        })
    }

    proptest::proptest! {
        /// elbus matching of a pattern and a topic equals NATS matching of their conversions.
        #[test]
        fn elbus_matching_equals_nats_matching(pattern in levels(true), topic in levels(false)) {
            let (Ok(p), Ok(t)) = (topic_to_subject(&pattern, true), topic_to_subject(&topic, false))
            else {
                return Ok(());
            };
            proptest::prop_assert_eq!(
                crate::matching::topic_matches(&pattern, &topic),
                nats_matches(&p, &t),
                "pattern {:?} -> {:?}, topic {:?} -> {:?}", pattern, p, topic, t
            );
        }
    }
}
