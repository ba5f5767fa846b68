//! What the broker accepts of the names, topics and masks clients give it (the subscribe
//! family's patterns and the per-client pattern limit are checked in `router/patterns.rs`).
//!
//! Every name, mask, topic and pattern is held to a [`PathLimits`] (bytes and `.` or `/`
//! parts), so neither the routing tries nor a walk over them can be made arbitrarily large by
//! one frame. Names also may not hold NUL, control or invisible formatting characters: the
//! sender field of a delivered frame ends at the first NUL, so `app.admin\0x` would show as
//! `app.admin` to every peer, and an invisible character would make a name look like another
//! in logs and listings. A refused name gets the registration answer `0x72` (the answer to an
//! empty or `.`-prefixed name); a refused topic, mask or pattern an ACK `0x72`; a subscription
//! or exclusion over [`BrokerOptions::max_subscriptions`](super::BrokerOptions) an ACK `0x74`.

use tracing::warn;

use super::path_limits::name_char_allowed;
#[cfg(doc)]
use super::path_limits::PathLimits;
use super::registry::ClientEntry;
use super::BrokerInner;
use crate::{protocol, Error};

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

    /// Logs a refused name, topic or pattern, at most 10 lines a second (the drop limiter's
    /// rate, through its own limiter so a refusal flood cannot hide drop warnings).
    pub(crate) fn log_refusal(&self, sender: &ClientEntry, what: &dyn std::fmt::Display) {
        if self.refusal_log.allow() {
            warn!(client = %sender.name, "client {}: {what}", sender.name);
        }
    }
}
