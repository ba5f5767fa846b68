//! What the broker accepts of the names, topics and patterns clients give it, and how many
//! patterns one client may hold.
//!
//! Every name, mask, topic and pattern is held to a [`PathLimits`] (bytes and `.` or `/`
//! parts), so neither the routing tries nor a walk over them can be made arbitrarily large by
//! one frame. Names also may not hold NUL, control or invisible formatting characters: the
//! sender field of a delivered frame ends at the first NUL, so `app.admin\0x` would show as
//! `app.admin` to every peer, and an invisible character would make a name look like another
//! in logs and listings. A refused name gets the registration answer `0x72` (the answer to an
//! empty or `.`-prefixed name); a refused topic, mask or pattern an ACK `0x72`; a subscription
//! or exclusion over [`BrokerOptions::max_subscriptions`](super::BrokerOptions) an ACK `0x74`.

use std::sync::Arc;

use tracing::warn;

use super::registry::ClientEntry;
use super::router::RouteScratch;
use super::BrokerInner;
use crate::command::TopicList;
use crate::{protocol, Error, QoS};

/// Bounds of a name or mask (`.`-separated) or a topic or pattern (`/`-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLimits {
    /// Most bytes (UTF-8).
    pub max_bytes: usize,
    /// Most parts (separators + 1).
    pub max_parts: usize,
}

impl PathLimits {
    /// Default byte bound of names, masks, topics and patterns: 1 KiB, four times the sender
    /// buffer the original clients pre-size (256 bytes) and far above a `group.subgroup.client`
    /// name or an MQTT-style topic.
    pub const DEFAULT_MAX_BYTES: usize = 1024;
    /// Default part bound: 128 parts, the default topic depth of common MQTT brokers (EMQX's
    /// `max_topic_levels`).
    pub const DEFAULT_MAX_PARTS: usize = 128;

    /// Why `text` (parts separated by `sep`) exceeds these bounds or holds a NUL, if it does.
    pub(crate) fn violation(&self, text: &str, sep: char) -> Option<String> {
        if text.len() > self.max_bytes {
            return Some(format!(
                "{} bytes, more than the limit of {}",
                text.len(),
                self.max_bytes
            ));
        }
        let parts = text.matches(sep).count() + 1;
        if parts > self.max_parts {
            return Some(format!(
                "{parts} parts, more than the limit of {}",
                self.max_parts
            ));
        }
        // Never the case for what arrives over a socket (frames are split at NUL), but an
        // in-process client could otherwise put a NUL into a delivered frame's topic.
        text.contains('\0').then(|| "a NUL byte".to_owned())
    }
}

impl Default for PathLimits {
    fn default() -> Self {
        PathLimits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_parts: Self::DEFAULT_MAX_PARTS,
        }
    }
}

/// Whether `c` may appear in a client name: no control characters (NUL, newline, escape, C1),
/// no line or paragraph separators and no invisible formatting characters (zero-width, bidi
/// overrides, BOM, tags), which would make a name show as another one.
fn name_char_allowed(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'))
}

/// Patterns of one subscribe-family frame the broker would not take.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Over the size bounds (or holding a NUL): `0x72`.
    pub(crate) malformed: usize,
    /// Over the client's pattern limit: `0x74`.
    pub(crate) over_limit: usize,
}

impl Refused {
    /// The code a client that gets one answer (an in-process one) sees: OK when nothing was
    /// refused.
    pub(crate) fn code(&self) -> u8 {
        if self.malformed > 0 {
            protocol::ERR_DATA
        } else if self.over_limit > 0 {
            protocol::ERR_OTHER
        } else {
            protocol::RESPONSE_OK
        }
    }
}

/// Which pattern set a subscribe-family frame changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatternSet {
    Subscriptions,
    Exclusions,
}

impl BrokerInner {
    /// Checks a name any client registers: the size bounds and the allowed characters.
    pub(crate) fn check_name(&self, name: &str) -> Result<(), Error> {
        if let Some(why) = self.options.name_limits.violation(name, '.') {
            return Err(Error::data(format!("Invalid client name: {why}")));
        }
        if let Some(c) = name.chars().find(|&c| !name_char_allowed(c)) {
            return Err(Error::data(format!(
                "Invalid client name: holds the character {:?}",
                c
            )));
        }
        Ok(())
    }

    /// Checks a name registered over a socket (`protocol.md` §8.1, UTF-8 is checked by the
    /// caller): non-empty, not starting with `.`, and [`check_name`](Self::check_name).
    pub(crate) fn check_socket_name(&self, name: &str) -> Result<(), Error> {
        if name.is_empty() {
            return Err(Error::data("Invalid client name: empty"));
        }
        if name.starts_with('.') {
            return Err(Error::data(
                "Invalid client name: names starting with . are reserved",
            ));
        }
        self.check_name(name)
    }

    /// `None` if the topic (`/`) or mask (`.`) `text` is within its bounds; otherwise logs why
    /// (rate-limited) and returns the ACK code `0x72`.
    pub(crate) fn refuse_oversized(
        &self,
        sender: &ClientEntry,
        text: &str,
        sep: char,
    ) -> Option<u8> {
        let (limits, what) = if sep == '.' {
            (&self.options.name_limits, "mask")
        } else {
            (&self.options.topic_limits, "topic")
        };
        let why = limits.violation(text, sep)?;
        self.log_refusal(sender, &format_args!("{what} refused: {why}"));
        Some(protocol::ERR_DATA)
    }

    /// How many patterns of a subscribe-family frame are looked at: at most
    /// [`BrokerOptions::max_subscriptions`](super::BrokerOptions), as many as a client may
    /// hold. The rest are refused (`0x74`) without being looked at, so a frame of millions of
    /// empty patterns costs a count of its NULs, not millions of look-ups under the registry
    /// lock. Returns the patterns to look at and how many are past the cap.
    pub(crate) fn capped_patterns<'a>(
        &self,
        topics: TopicList<'a>,
    ) -> (std::iter::Take<std::str::Split<'a, char>>, usize) {
        let max = self.options.max_subscriptions;
        (topics.iter().take(max), topics.len().saturating_sub(max))
    }

    /// Removes the frame's patterns (within [`capped_patterns`](Self::capped_patterns)) from
    /// the sender's subscriptions or exclusions; patterns past the cap get one ACK `0x74`
    /// before the frame's `0x01`.
    pub(crate) fn remove_patterns(
        &self,
        sender: &Arc<ClientEntry>,
        set: PatternSet,
        topics: TopicList<'_>,
        (qos, op_id, scratch): (QoS, u32, &mut RouteScratch),
    ) {
        let (patterns, beyond) = self.capped_patterns(topics);
        match set {
            PatternSet::Subscriptions => self.registry.unsubscribe(sender.id, patterns),
            PatternSet::Exclusions => self.registry.unexclude(sender.id, patterns),
        }
        if beyond > 0 {
            self.log_refusal(
                sender,
                &format_args!("{beyond} pattern(s) past the limit of one frame ignored"),
            );
            if qos.needs_ack() {
                self.ack(sender, op_id, protocol::ERR_OTHER, scratch);
            }
        }
    }

    /// Adds `patterns` to the sender's subscriptions or exclusions, refusing those over the
    /// size bounds and those past the client's pattern limit (`beyond` more were cut off by
    /// [`capped_patterns`](Self::capped_patterns)). A socket sender that asked for an ACK gets
    /// one refusal ACK per kind of refusal (`0x72`, `0x74`) before the frame's own `0x01`, as
    /// the original broker does for denied subscriptions; an in-process sender gets
    /// [`Refused::code`].
    pub(crate) fn add_patterns<'a>(
        &self,
        sender: &Arc<ClientEntry>,
        set: PatternSet,
        patterns: impl Iterator<Item = &'a str>,
        beyond: usize,
        ack: Option<(QoS, u32, &mut RouteScratch)>,
    ) -> Refused {
        let limits = self.options.topic_limits;
        let mut malformed = 0;
        let mut first_malformed = None;
        let valid = patterns.filter(|pattern| match limits.violation(pattern, '/') {
            None => true,
            Some(why) => {
                malformed += 1;
                first_malformed.get_or_insert(why);
                false
            }
        });
        let max = self.options.max_subscriptions;
        let over_limit = beyond
            + match set {
                PatternSet::Subscriptions => self.registry.subscribe(sender.id, valid, max),
                PatternSet::Exclusions => self.registry.exclude(sender.id, valid, max),
            };
        let refused = Refused {
            malformed,
            over_limit,
        };
        if let Some(why) = first_malformed {
            self.log_refusal(
                sender,
                &format_args!("{malformed} pattern(s) refused, the first: {why}"),
            );
        }
        if over_limit > 0 {
            self.log_refusal(
                sender,
                &format_args!(
                    "{over_limit} pattern(s) refused: a client may hold {max} subscriptions and \
                     exclusions"
                ),
            );
        }
        if let Some((qos, op_id, scratch)) = ack {
            if qos.needs_ack() {
                for (count, code) in [
                    (malformed, protocol::ERR_DATA),
                    (over_limit, protocol::ERR_OTHER),
                ] {
                    if count > 0 {
                        self.ack(sender, op_id, code, scratch);
                    }
                }
            }
        }
        refused
    }

    /// Logs a refused name, topic or pattern, at most 10 lines a second (the drop limiter's
    /// rate, through its own limiter so a refusal flood cannot hide drop warnings).
    fn log_refusal(&self, sender: &ClientEntry, what: &dyn std::fmt::Display) {
        if self.refusal_log.allow() {
            warn!(client = %sender.name, "client {}: {what}", sender.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_limits() {
        let limits = PathLimits {
            max_bytes: 8,
            max_parts: 3,
        };
        assert_eq!(limits.violation("a/b/c", '/'), None);
        assert_eq!(limits.violation("", '/'), None);
        assert!(limits.violation("a/b/c/d", '/').is_some());
        assert_eq!(limits.violation("a/b/c/d", '.'), None);
        assert!(limits.violation("123456789", '/').is_some());
        assert!(limits.violation("a\0b", '/').is_some());
    }

    #[test]
    fn name_characters() {
        for c in [
            '\0', '\n', '\r', '\x1b', '\u{7f}', '\u{85}', '\u{200B}', '\u{202E}', '\u{FEFF}',
            '\u{2028}',
        ] {
            assert!(!name_char_allowed(c), "{c:?}");
        }
        for c in ['a', '.', '%', '*', '?', ' ', '/', 'é', 'Ж', '中', '😀'] {
            assert!(name_char_allowed(c), "{c:?}");
        }
    }
}
