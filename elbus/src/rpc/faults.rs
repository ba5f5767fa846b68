//! Failing calls early when what they wait for is gone: the callee unregistered (the broker's
//! `.broker/info` announcement, `protocol.md` §8.7) or the caller's own connection was lost.
//!
//! Without this a call whose ACK already came back waits for its whole timeout when the callee
//! dies before replying; the broker knows at once, and says so on `.broker/info`.

use super::error::RpcError;
use crate::protocol::{Announcement, BROKER_NAME, INFO_TOPIC};
use crate::{ErrorKind, Frame, FrameKind};

/// The primary name an `unreg` announcement is about, if `frame` is one.
pub(crate) fn unregistered(frame: &Frame) -> Option<&str> {
    if frame.kind() != FrameKind::Publish
        || frame.sender() != BROKER_NAME
        || frame.topic() != Some(INFO_TOPIC)
    {
        return None;
    }
    let announcement: Announcement<'_> = rmp_serde::from_slice(frame.payload()).ok()?;
    (announcement.s == "unreg")
        .then_some(announcement.d)
        .flatten()
}

/// The error of calls whose target unregistered before replying: -32113 (not registered).
pub(crate) fn target_gone(primary: &str) -> RpcError {
    RpcError::bus(
        ErrorKind::NotRegistered,
        format!("{primary} unregistered before replying"),
    )
}

/// The error of calls waiting when the caller's connection was lost: -32255 (Eof), also when the
/// client reconnects (the reply, if any, would go to the lost connection).
pub(crate) fn connection_lost() -> RpcError {
    RpcError::bus(
        ErrorKind::Eof,
        "the connection to the broker was lost while waiting",
    )
}

/// The error of calls made on, or waiting on, a closed connection: -32255 (Eof).
pub(crate) fn connection_closed() -> RpcError {
    RpcError::bus(ErrorKind::Eof, "the connection to the broker is closed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_delivery;

    fn publication(sender: &str, topic: &str, payload: &[u8]) -> Frame {
        let wire =
            encode_delivery(FrameKind::Publish, sender, Some(topic), &[payload], false).unwrap();
        Frame::from_wire(wire).unwrap()
    }

    #[test]
    fn unreg_announcements_name_the_primary() {
        // {"s": "unreg", "d": "svc", "t": 1}, as the broker encodes it.
        let unreg = b"\x83\xa1s\xa5unreg\xa1d\xa3svc\xa1t\x01";
        assert_eq!(
            unregistered(&publication(BROKER_NAME, INFO_TOPIC, unreg)),
            Some("svc")
        );
        let reg = b"\x83\xa1s\xa3reg\xa1d\xa3svc\xa1t\x01";
        assert_eq!(
            unregistered(&publication(BROKER_NAME, INFO_TOPIC, reg)),
            None
        );
        // Only the broker's own publications on the topic count.
        assert_eq!(
            unregistered(&publication("impostor", INFO_TOPIC, unreg)),
            None
        );
        assert_eq!(
            unregistered(&publication(BROKER_NAME, "other", unreg)),
            None
        );
        assert_eq!(
            unregistered(&publication(BROKER_NAME, INFO_TOPIC, b"\xc1")),
            None
        );
    }
}
