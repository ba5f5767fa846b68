//! A frame delivered by the broker to a client: the one type both socket and in-process clients
//! hand to applications.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::{self, DeliveryHeader, FrameKind, DELIVERY_HEADER_LEN};
use crate::Error;

/// A message, broadcast or publication received from the bus.
///
/// The frame owns one shared buffer (`sender NUL [topic NUL] payload`); the accessors borrow from
/// it, so receiving a frame costs no copy beyond the socket read.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    kind: FrameKind,
    realtime: bool,
    body: Bytes,
    sender_end: usize,
    topic: Option<(usize, usize)>,
    payload_start: usize,
}

impl Frame {
    /// Parses a delivered frame body of `kind` (message, broadcast or publish).
    ///
    /// Fails when the body lacks its NUL separators or the sender or topic is not UTF-8, the same
    /// checks the original Rust client makes.
    pub fn from_body(kind: FrameKind, realtime: bool, body: Bytes) -> Result<Frame, Error> {
        let nul = |from: usize| {
            body[from..]
                .iter()
                .position(|&b| b == 0)
                .map(|pos| pos + from)
                .ok_or_else(|| Error::data("broken frame: no NUL separator"))
        };
        let sender_end = match kind {
            FrameKind::Message | FrameKind::Broadcast | FrameKind::Publish => nul(0)?,
            FrameKind::Nop | FrameKind::Ack => {
                return Err(Error::data("NOP and ACK frames carry no body"))
            }
        };
        std::str::from_utf8(&body[..sender_end])?;
        let (topic, payload_start) = if kind == FrameKind::Publish {
            let topic_end = nul(sender_end + 1)?;
            std::str::from_utf8(&body[sender_end + 1..topic_end])?;
            (Some((sender_end + 1, topic_end)), topic_end + 1)
        } else {
            (None, sender_end + 1)
        };
        Ok(Frame {
            kind,
            realtime,
            body,
            sender_end,
            topic,
            payload_start,
        })
    }

    /// Parses a whole delivered frame, 6-byte header included.
    pub fn from_wire(wire: Bytes) -> Result<Frame, Error> {
        let header = header_of(&wire)?;
        let body = wire.slice(DELIVERY_HEADER_LEN..);
        Frame::from_body(header.kind(), header.is_realtime(), body)
    }

    /// Builds a frame the broker routed, whose layout the router knows from the strings it
    /// encoded ([`FrameLayout::of`]): no NUL scan or UTF-8 check per recipient, only the
    /// 6-byte header's.
    #[cfg(feature = "broker")]
    pub(crate) fn from_routed(wire: Bytes, layout: FrameLayout) -> Result<Frame, Error> {
        let header = header_of(&wire)?;
        let body = wire.slice(DELIVERY_HEADER_LEN..);
        let sender_end = layout.sender_end as usize;
        let topic = (layout.topic_end != 0).then(|| (sender_end + 1, layout.topic_end as usize));
        let payload_start = topic.map_or(sender_end, |(_, end)| end) + 1;
        if payload_start > body.len() {
            return Err(Error::data("routed frame does not match its layout"));
        }
        Ok(Frame {
            kind: header.kind(),
            realtime: header.is_realtime(),
            body,
            sender_end,
            topic,
            payload_start,
        })
    }

    /// Message, broadcast or publish.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The full name of the client that sent the frame (`.broker` for the broker itself).
    pub fn sender(&self) -> &str {
        // Checked to be UTF-8 at construction.
        std::str::from_utf8(&self.body[..self.sender_end]).unwrap_or_default()
    }

    /// The sender's primary name: its name up to the first `%%`.
    pub fn primary_sender(&self) -> &str {
        protocol::primary_name(self.sender())
    }

    /// The topic of a publication; `None` for messages and broadcasts.
    pub fn topic(&self) -> Option<&str> {
        self.topic
            .map(|(start, end)| std::str::from_utf8(&self.body[start..end]).unwrap_or_default())
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.body[self.payload_start..]
    }

    /// The payload as a shared buffer (no copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.body.slice(self.payload_start..)
    }

    /// Whether the sender used a realtime QoS.
    pub fn is_realtime(&self) -> bool {
        self.realtime
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("kind", &self.kind)
            .field("sender", &self.sender())
            .field("topic", &self.topic())
            .field("payload_len", &self.payload().len())
            .field("realtime", &self.realtime)
            .finish()
    }
}

/// The header of a whole delivered frame, checked against the frame's length.
fn header_of(wire: &[u8]) -> Result<DeliveryHeader, Error> {
    let Some(bytes) = wire.first_chunk::<DELIVERY_HEADER_LEN>() else {
        return Err(Error::data("frame shorter than its header"));
    };
    let header = DeliveryHeader::decode(bytes)?;
    if header.body_len() as usize != wire.len() - DELIVERY_HEADER_LEN {
        return Err(Error::data("frame length does not match its header"));
    }
    Ok(header)
}

/// Where the sender and the topic end in the body of a frame the broker encoded: what an
/// in-process recipient needs to read the frame without parsing it again.
#[cfg(feature = "broker")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameLayout {
    sender_end: u32,
    /// `0` for a frame without a topic (a topic always ends after the sender's NUL).
    topic_end: u32,
}

#[cfg(feature = "broker")]
impl FrameLayout {
    /// The layout of `encode_delivery(_, sender, topic, ..)`; `None` when an offset does not
    /// fit in 32 bits (such a frame is parsed instead).
    pub(crate) fn of(sender: &str, topic: Option<&str>) -> Option<FrameLayout> {
        let sender_end = u32::try_from(sender.len()).ok()?;
        let topic_end = match topic {
            Some(topic) => u32::try_from(sender.len() + 1 + topic.len()).ok()?,
            None => 0,
        };
        Some(FrameLayout {
            sender_end,
            topic_end,
        })
    }
}

/// Encodes a complete broker→client frame (header and body) into one shared buffer.
///
/// `payload` is a list of pieces written back to back (a zero-copy RPC header and its data, for
/// example). Fails when the body would exceed the u32 length field.
pub fn encode_delivery(
    kind: FrameKind,
    sender: &str,
    topic: Option<&str>,
    payload: &[&[u8]],
    realtime: bool,
) -> Result<Bytes, Error> {
    let payload_len: usize = payload.iter().map(|piece| piece.len()).sum();
    let body_len = sender.len() + 1 + topic.map_or(0, |t| t.len() + 1) + payload_len;
    let body_len_u32 =
        u32::try_from(body_len).map_err(|_| Error::data("frame body exceeds 4 GiB"))?;
    let mut buf = BytesMut::with_capacity(DELIVERY_HEADER_LEN + body_len);
    buf.put_slice(&protocol::delivery_header(kind, body_len_u32, realtime));
    buf.put_slice(sender.as_bytes());
    buf.put_u8(0);
    if let Some(topic) = topic {
        buf.put_slice(topic.as_bytes());
        buf.put_u8(0);
    }
    for piece in payload {
        buf.put_slice(piece);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bytes_match_spec_example() {
        // §7: B->b  12 | 04 00 00 00 | 00 | 61 00 68 69
        let wire = encode_delivery(FrameKind::Message, "a", None, &[b"hi"], false).unwrap();
        assert_eq!(&wire[..], &[0x12, 4, 0, 0, 0, 0, 0x61, 0, 0x68, 0x69]);
        let frame = Frame::from_wire(wire).unwrap();
        assert_eq!(frame.kind(), FrameKind::Message);
        assert_eq!(frame.sender(), "a");
        assert_eq!(frame.topic(), None);
        assert_eq!(frame.payload(), b"hi");
        assert!(!frame.is_realtime());
    }

    #[test]
    fn publish_bytes_match_spec_example() {
        // §7: B->s  01 | 07 00 00 00 | 00 | 61 00 74 2F 78 00 70
        let wire = encode_delivery(FrameKind::Publish, "a", Some("t/x"), &[b"p"], false).unwrap();
        assert_eq!(
            &wire[..],
            &[0x01, 7, 0, 0, 0, 0, 0x61, 0, 0x74, 0x2F, 0x78, 0, 0x70]
        );
        let frame = Frame::from_wire(wire).unwrap();
        assert_eq!(frame.topic(), Some("t/x"));
        assert_eq!(frame.payload(), b"p");
    }

    #[test]
    fn realtime_flag_and_pieces() {
        let wire =
            encode_delivery(FrameKind::Message, "a%%1", None, &[b"\x11", b"xy"], true).unwrap();
        assert_eq!(wire[5], 1);
        let frame = Frame::from_wire(wire).unwrap();
        assert!(frame.is_realtime());
        assert_eq!(frame.payload(), b"\x11xy");
        assert_eq!(frame.primary_sender(), "a");
        assert_eq!(frame.payload_bytes(), Bytes::from_static(b"\x11xy"));
    }

    #[test]
    fn broken_bodies_are_rejected() {
        let no_nul = Bytes::from_static(b"abc");
        assert!(Frame::from_body(FrameKind::Message, false, no_nul.clone()).is_err());
        let one_nul = Bytes::from_static(b"a\0topic-without-nul");
        assert!(Frame::from_body(FrameKind::Publish, false, one_nul).is_err());
        let bad_utf8 = Bytes::from_static(b"\xff\0x");
        assert!(Frame::from_body(FrameKind::Message, false, bad_utf8).is_err());
        assert!(Frame::from_body(FrameKind::Ack, false, no_nul).is_err());
        assert!(Frame::from_wire(Bytes::from_static(&[0x12, 9, 0, 0, 0, 0, b'a', 0])).is_err());
    }
}
