//! The subscribe family (subscribe, unsubscribe, exclude, unexclude): which patterns a frame
//! may add or remove, and the refusal ACKs that come before the frame's own.

use std::sync::Arc;

use super::RouteScratch;
use crate::broker::registry::ClientEntry;
use crate::broker::BrokerInner;
use crate::command::TopicList;
use crate::{protocol, QoS};

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
    /// How many patterns of a subscribe-family frame are looked at: at most
    /// [`BrokerOptions::max_subscriptions`](crate::broker::BrokerOptions), as many as a client may
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
            PatternSet::Subscriptions => {
                self.registry.unsubscribe(sender.id, patterns);
                self.interest_changed();
            }
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
        if set == PatternSet::Subscriptions {
            self.interest_changed();
        }
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
}
