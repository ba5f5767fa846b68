//! Client→broker frame bodies: decoding them into commands (broker side) and encoding them
//! (client side).

use bytes::{BufMut, BytesMut};

use crate::protocol::{Op, QoS, RequestHeader};
use crate::Error;

/// A decoded client→broker frame body. Strings and payloads borrow from the frame buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Op 0 with QoS bits and a body that holds a NUL: ignored, no ACK (§3.1).
    Ignored,
    /// Publish `payload` to `topic`.
    Publish {
        /// The topic (literal; wildcards have no meaning here).
        topic: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
    /// Publish to the subscribers of `topic` whose primary name is `receiver`.
    PublishFor {
        /// The topic.
        topic: &'a str,
        /// The primary client name that may receive it.
        receiver: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
    /// Subscribe to every pattern in the list.
    Subscribe(TopicList<'a>),
    /// Unsubscribe from every pattern in the list.
    Unsubscribe(TopicList<'a>),
    /// Exclude every pattern in the list from this client's deliveries.
    Exclude(TopicList<'a>),
    /// Remove exclusions.
    Unexclude(TopicList<'a>),
    /// One-to-one message.
    Message {
        /// The target's full name.
        target: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
    /// Broadcast to clients whose names match `mask`.
    Broadcast {
        /// The client-name mask (`?` one part, `*` the rest).
        mask: &'a str,
        /// The payload.
        payload: &'a [u8],
    },
}

/// A NUL-separated list of topic patterns (the body of subscribe-family frames).
///
/// Every NUL splits, so an empty body is one empty topic (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicList<'a>(&'a str);

impl<'a> TopicList<'a> {
    /// The patterns, in order.
    pub fn iter(&self) -> std::str::Split<'a, char> {
        self.0.split('\0')
    }

    /// Number of patterns (one more than the NULs), counted without splitting the list.
    pub fn len(&self) -> usize {
        self.0.bytes().filter(|&b| b == 0).count() + 1
    }

    /// Always false: even an empty body is one (empty) pattern.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl<'a> IntoIterator for TopicList<'a> {
    type Item = &'a str;
    type IntoIter = std::str::Split<'a, char>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

fn split_nul(body: &[u8]) -> Result<(&str, &[u8]), Error> {
    let pos = body
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Error::data("broken frame"))?;
    Ok((std::str::from_utf8(&body[..pos])?, &body[pos + 1..]))
}

impl<'a> Command<'a> {
    /// Decodes the body of a frame with op `op`.
    ///
    /// Errors here are protocol violations: the broker closes the connection without an ACK.
    pub fn decode(op: Op, body: &'a [u8]) -> Result<Command<'a>, Error> {
        Ok(match op {
            Op::Nop => {
                if body.contains(&0) {
                    Command::Ignored
                } else {
                    return Err(Error::data("broken frame"));
                }
            }
            Op::Publish => {
                let (topic, payload) = split_nul(body)?;
                Command::Publish { topic, payload }
            }
            Op::PublishFor => {
                let (topic, rest) = split_nul(body)?;
                let (receiver, payload) = split_nul(rest)?;
                Command::PublishFor {
                    topic,
                    receiver,
                    payload,
                }
            }
            Op::Message => {
                let (target, payload) = split_nul(body)?;
                Command::Message { target, payload }
            }
            Op::Broadcast => {
                let (mask, payload) = split_nul(body)?;
                Command::Broadcast { mask, payload }
            }
            Op::Subscribe | Op::Unsubscribe | Op::Exclude | Op::Unexclude => {
                let list = TopicList(std::str::from_utf8(body)?);
                match op {
                    Op::Subscribe => Command::Subscribe(list),
                    Op::Unsubscribe => Command::Unsubscribe(list),
                    Op::Exclude => Command::Exclude(list),
                    _ => Command::Unexclude(list),
                }
            }
        })
    }
}

/// Appends one client→broker frame to `buf`: the 9-byte header, then `pieces` back to back.
///
/// Callers supply the NUL separators among the pieces (`target`, `[0]`, `payload`). Fails when the
/// body would not fit the u32 length field.
pub fn encode_request(
    buf: &mut BytesMut,
    op_id: u32,
    op: Op,
    qos: QoS,
    pieces: &[&[u8]],
) -> Result<(), Error> {
    let len: usize = pieces.iter().map(|piece| piece.len()).sum();
    let len = u32::try_from(len).map_err(|_| Error::data("frame body exceeds 4 GiB"))?;
    buf.reserve(crate::protocol::REQUEST_HEADER_LEN + len as usize);
    buf.put_slice(&RequestHeader::new(op_id, op, qos, len).encode());
    for piece in pieces {
        buf.put_slice(piece);
    }
    Ok(())
}

/// Joins topic patterns with NUL, as subscribe-family bodies carry them. Fails on a NUL inside a
/// pattern, which would split it in two on the broker.
pub fn join_topics<S: AsRef<str>>(topics: &[S]) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    for (i, topic) in topics.iter().enumerate() {
        let topic = topic.as_ref();
        if topic.contains('\0') {
            return Err(Error::data("a topic may not contain NUL"));
        }
        if i > 0 {
            body.push(0);
        }
        body.extend_from_slice(topic.as_bytes());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_example_from_spec() {
        // §7: a->B  01 00 00 00 | 52 | 04 00 00 00 | 62 00 68 69
        let mut buf = BytesMut::new();
        encode_request(
            &mut buf,
            1,
            Op::Message,
            QoS::Processed,
            &[b"b", &[0], b"hi"],
        )
        .unwrap();
        assert_eq!(
            &buf[..],
            &[1, 0, 0, 0, 0x52, 4, 0, 0, 0, 0x62, 0, 0x68, 0x69]
        );
        let cmd = Command::decode(Op::Message, &buf[9..]).unwrap();
        assert_eq!(
            cmd,
            Command::Message {
                target: "b",
                payload: b"hi"
            }
        );
    }

    #[test]
    fn publish_example_from_spec() {
        // §7: a->B  02 00 00 00 | 01 | 05 00 00 00 | 74 2F 78 00 70
        let mut buf = BytesMut::new();
        encode_request(&mut buf, 2, Op::Publish, QoS::No, &[b"t/x", &[0], b"p"]).unwrap();
        assert_eq!(
            &buf[..],
            &[2, 0, 0, 0, 0x01, 5, 0, 0, 0, 0x74, 0x2F, 0x78, 0, 0x70]
        );
        assert_eq!(
            Command::decode(Op::Publish, &buf[9..]).unwrap(),
            Command::Publish {
                topic: "t/x",
                payload: b"p"
            }
        );
    }

    #[test]
    fn bulk_subscribe_example_from_spec() {
        // §7: 03 00 00 00 | 42 | 05 00 00 00 | 61 2F 23 00 62
        let body = join_topics(&["a/#", "b"]).unwrap();
        let mut buf = BytesMut::new();
        encode_request(&mut buf, 3, Op::Subscribe, QoS::Processed, &[&body]).unwrap();
        assert_eq!(
            &buf[..],
            &[3, 0, 0, 0, 0x42, 5, 0, 0, 0, 0x61, 0x2F, 0x23, 0, 0x62]
        );
        let Command::Subscribe(list) = Command::decode(Op::Subscribe, &buf[9..]).unwrap() else {
            panic!("not a subscribe");
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), ["a/#", "b"]);
    }

    #[test]
    fn publish_for_example_from_spec() {
        // §7: the body is 74 00 62 00 70.
        let cmd = Command::decode(Op::PublishFor, &[0x74, 0, 0x62, 0, 0x70]).unwrap();
        assert_eq!(
            cmd,
            Command::PublishFor {
                topic: "t",
                receiver: "b",
                payload: b"p"
            }
        );
        assert!(Command::decode(Op::PublishFor, b"t\0b").is_err());
    }

    #[test]
    fn empty_subscribe_body_is_one_empty_topic() {
        let Command::Subscribe(list) = Command::decode(Op::Subscribe, b"").unwrap() else {
            panic!("not a subscribe");
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn protocol_violations() {
        assert!(Command::decode(Op::Message, b"no-nul").is_err());
        assert!(Command::decode(Op::Broadcast, b"\xff\0x").is_err());
        assert!(Command::decode(Op::Subscribe, b"\xfe").is_err());
        assert_eq!(Command::decode(Op::Nop, b"a\0b").unwrap(), Command::Ignored);
        assert!(Command::decode(Op::Nop, b"ab").is_err());
        assert_eq!(
            Command::decode(Op::Message, b"b\0").unwrap(),
            Command::Message {
                target: "b",
                payload: b""
            }
        );
    }

    #[test]
    fn topics_with_nul_are_refused() {
        assert!(join_topics(&["a\0b"]).is_err());
    }
}
