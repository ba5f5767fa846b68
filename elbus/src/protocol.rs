//! Wire constants and the fixed-size headers of protocol v1 (`protocol.md` §2–§5).
//!
//! The two directions use different headers: a client sends 9 bytes (`op_id`, `flags`, `len`), the
//! broker sends 6 (`kind`, `len` or `op_id`, `realtime` or result code). Everything multi-byte is
//! little-endian.

use crate::{Error, ErrorKind};

/// First byte of the broker's greeting.
pub const GREETING: u8 = 0xEB;
/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The 3-byte greeting the broker sends and the client echoes.
pub const GREETING_BYTES: [u8; 3] = [
    GREETING,
    PROTOCOL_VERSION as u8,
    (PROTOCOL_VERSION >> 8) as u8,
];

/// Checks a greeting as the broker sends it: [`GREETING`], then [`PROTOCOL_VERSION`]
/// little-endian. A wrong byte or another version is [`ErrorKind::NotSupported`].
pub fn check_greeting(greeting: &[u8; 3]) -> Result<(), Error> {
    if greeting[0] != GREETING {
        return Err(Error::not_supported(format!(
            "invalid greeting byte {:#04x}",
            greeting[0]
        )));
    }
    let version = u16::from_le_bytes([greeting[1], greeting[2]]);
    if version != PROTOCOL_VERSION {
        return Err(Error::not_supported(format!(
            "unsupported protocol version {version}"
        )));
    }
    Ok(())
}

/// Result code: success.
pub const RESPONSE_OK: u8 = 0x01;
/// Result code: the client (target or primary) is not registered.
pub const ERR_CLIENT_NOT_REGISTERED: u8 = 0x71;
/// Result code: malformed data.
pub const ERR_DATA: u8 = 0x72;
/// Result code: I/O error.
pub const ERR_IO: u8 = 0x73;
/// Result code: other error.
pub const ERR_OTHER: u8 = 0x74;
/// Result code: not supported.
pub const ERR_NOT_SUPPORTED: u8 = 0x75;
/// Result code: busy (the name is taken).
pub const ERR_BUSY: u8 = 0x76;
/// Result code: not delivered.
pub const ERR_NOT_DELIVERED: u8 = 0x77;
/// Result code: timeout.
pub const ERR_TIMEOUT: u8 = 0x78;
/// Result code: access denied.
pub const ERR_ACCESS: u8 = 0x79;
/// Result code: end of stream (used internally and in error replies).
pub const ERR_EOF: u8 = 0xFF;

/// The name of the broker's own client, which serves the `.broker` RPC API and sends the
/// announcements. Names starting with `.` are reserved for the broker's clients.
pub const BROKER_NAME: &str = ".broker";
/// The topic of registration announcements (`reg` and `unreg`, see [`Announcement`]).
pub const INFO_TOPIC: &str = ".broker/info";
/// The topic every client is subscribed to at registration; the broker announces its
/// `shutdown` there.
pub const WARN_TOPIC: &str = ".broker/warn";

/// The payload of an announcement on [`INFO_TOPIC`] or [`WARN_TOPIC`], MessagePack-encoded with
/// named keys in this order: `{"s": event, "d": name, "t": nanoseconds since the epoch}`; `d`
/// is left out when there is no name (`shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announcement<'a> {
    /// The event: `reg`, `unreg` or `shutdown`.
    #[serde(borrow)]
    pub s: &'a str,
    /// The client the event is about (a primary name).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub d: Option<&'a str>,
    /// When it happened, nanoseconds since the UNIX epoch.
    #[serde(default)]
    pub t: u64,
}

/// Separator between a primary client name and a secondary's suffix.
pub const SECONDARY_SEP: &str = "%%";
/// The 9 zero bytes a client sends as a ping.
pub const PING_FRAME: [u8; 9] = [0; 9];
/// The 6 zero bytes the broker sends as a keepalive NOP.
pub const NOP_FRAME: [u8; 6] = [0; 6];

/// Size of a client→broker frame header.
pub const REQUEST_HEADER_LEN: usize = 9;
/// Size of a broker→client frame header.
pub const DELIVERY_HEADER_LEN: usize = 6;

/// Quality of service of a client→broker frame: bit 0 asks for an ACK, bit 1 is the realtime hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum QoS {
    /// No ACK, not realtime.
    #[default]
    No = 0,
    /// The broker ACKs once the frame is routed.
    Processed = 1,
    /// No ACK; flushed at once and flagged realtime on delivery.
    Realtime = 2,
    /// ACKed and realtime.
    RealtimeProcessed = 3,
}

impl QoS {
    /// Decodes the two QoS bits (any value is valid).
    pub fn from_bits(bits: u8) -> QoS {
        match bits & 0b11 {
            0 => QoS::No,
            1 => QoS::Processed,
            2 => QoS::Realtime,
            _ => QoS::RealtimeProcessed,
        }
    }

    /// Whether the broker answers this frame with an ACK.
    pub fn needs_ack(self) -> bool {
        self as u8 & 0b01 != 0
    }

    /// Whether the frame is flagged realtime.
    pub fn is_realtime(self) -> bool {
        self as u8 & 0b10 != 0
    }
}

/// The operation of a client→broker frame (the low 6 bits of the flags byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// `0x00` with QoS bits set: not a ping; ignored when the body holds a NUL (§3.1).
    Nop = 0x00,
    /// `0x01`: publish to a topic.
    Publish = 0x01,
    /// `0x02`: subscribe to topics.
    Subscribe = 0x02,
    /// `0x03`: unsubscribe from topics.
    Unsubscribe = 0x03,
    /// `0x04`: exclude topics from this client's deliveries.
    Exclude = 0x04,
    /// `0x05`: remove exclusions.
    Unexclude = 0x05,
    /// `0x06`: publish to the subscribers of one primary client.
    PublishFor = 0x06,
    /// `0x12`: one-to-one message.
    Message = 0x12,
    /// `0x13`: broadcast to a client-name mask.
    Broadcast = 0x13,
}

impl Op {
    /// Decodes an op number; unknown ops are a protocol error that closes the connection.
    pub fn from_u8(op: u8) -> Result<Op, Error> {
        Ok(match op {
            0x00 => Op::Nop,
            0x01 => Op::Publish,
            0x02 => Op::Subscribe,
            0x03 => Op::Unsubscribe,
            0x04 => Op::Exclude,
            0x05 => Op::Unexclude,
            0x06 => Op::PublishFor,
            0x12 => Op::Message,
            0x13 => Op::Broadcast,
            other => {
                return Err(Error::new(
                    ErrorKind::Data,
                    format!("Invalid frame type: {other}"),
                ))
            }
        })
    }
}

/// The kind byte of a broker→client frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// `0x00`: keepalive, no body.
    Nop = 0x00,
    /// `0x01`: a publication (`sender NUL topic NUL payload`).
    Publish = 0x01,
    /// `0x12`: a one-to-one message (`sender NUL payload`).
    Message = 0x12,
    /// `0x13`: a broadcast (`sender NUL payload`).
    Broadcast = 0x13,
    /// `0xFE`: an ACK (no body).
    Ack = 0xFE,
}

impl FrameKind {
    /// Decodes a kind byte; other values are a protocol error.
    pub fn from_u8(kind: u8) -> Result<FrameKind, Error> {
        Ok(match kind {
            0x00 => FrameKind::Nop,
            0x01 => FrameKind::Publish,
            0x12 => FrameKind::Message,
            0x13 => FrameKind::Broadcast,
            0xFE => FrameKind::Ack,
            other => return Err(Error::data(format!("invalid frame kind: {other:#04x}"))),
        })
    }
}

/// The 9-byte header of a client→broker frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// Opaque id echoed in the ACK.
    pub op_id: u32,
    /// `op | qos << 6`; `0` is a ping.
    pub flags: u8,
    /// Body length (ignored for pings).
    pub len: u32,
}

impl RequestHeader {
    /// Builds a header for `op` with `qos`.
    pub fn new(op_id: u32, op: Op, qos: QoS, len: u32) -> Self {
        RequestHeader {
            op_id,
            flags: op as u8 | (qos as u8) << 6,
            len,
        }
    }

    /// Decodes the 9 header bytes.
    pub fn decode(buf: &[u8; REQUEST_HEADER_LEN]) -> Self {
        RequestHeader {
            op_id: u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]),
            flags: buf[4],
            len: u32::from_le_bytes([buf[5], buf[6], buf[7], buf[8]]),
        }
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; REQUEST_HEADER_LEN] {
        let id = self.op_id.to_le_bytes();
        let len = self.len.to_le_bytes();
        [
            id[0], id[1], id[2], id[3], self.flags, len[0], len[1], len[2], len[3],
        ]
    }

    /// A ping is a header whose flags byte is zero; its length field is ignored.
    pub fn is_ping(&self) -> bool {
        self.flags == 0
    }

    /// The op bits, decoded.
    pub fn op(&self) -> Result<Op, Error> {
        Op::from_u8(self.flags & 0x3F)
    }

    /// The QoS bits.
    pub fn qos(&self) -> QoS {
        QoS::from_bits(self.flags >> 6)
    }
}

/// Encodes the 6-byte header of a delivered frame (message, broadcast, publish).
pub fn delivery_header(
    kind: FrameKind,
    body_len: u32,
    realtime: bool,
) -> [u8; DELIVERY_HEADER_LEN] {
    let len = body_len.to_le_bytes();
    [
        kind as u8,
        len[0],
        len[1],
        len[2],
        len[3],
        u8::from(realtime),
    ]
}

/// A decoded broker→client header: the frame kind, then a `u32` that is the body length of a
/// delivery or the op id of an ACK, then a byte that is the realtime flag of a delivery or the
/// result code of an ACK (zero in a NOP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryHeader {
    kind: FrameKind,
    value: u32,
    last: u8,
}

impl DeliveryHeader {
    /// Decodes the 6 header bytes; an unknown kind is an error.
    pub fn decode(buf: &[u8; DELIVERY_HEADER_LEN]) -> Result<Self, Error> {
        Ok(DeliveryHeader {
            kind: FrameKind::from_u8(buf[0])?,
            value: u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]),
            last: buf[5],
        })
    }

    /// The frame kind.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The body length of a delivered frame.
    pub fn body_len(&self) -> u32 {
        self.value
    }

    /// The realtime flag of a delivered frame.
    pub fn is_realtime(&self) -> bool {
        self.last != 0
    }

    /// The op id an ACK answers.
    pub fn op_id(&self) -> u32 {
        self.value
    }

    /// The result code of an ACK.
    pub fn code(&self) -> u8 {
        self.last
    }
}

/// Encodes an ACK frame: `FE op_id code`.
pub fn ack_frame(op_id: u32, code: u8) -> [u8; DELIVERY_HEADER_LEN] {
    let id = op_id.to_le_bytes();
    [FrameKind::Ack as u8, id[0], id[1], id[2], id[3], code]
}

/// Returns the primary part of a client name: everything before the first `%%`.
pub fn primary_name(name: &str) -> &str {
    match name.find(SECONDARY_SEP) {
        Some(pos) => &name[..pos],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_examples_from_spec() {
        // §3.3: message + Processed = 0x52, message + RealtimeProcessed = 0xD2,
        // subscribe + Processed = 0x42, publish + No = 0x01.
        assert_eq!(
            RequestHeader::new(0, Op::Message, QoS::Processed, 0).flags,
            0x52
        );
        assert_eq!(
            RequestHeader::new(0, Op::Message, QoS::RealtimeProcessed, 0).flags,
            0xD2
        );
        assert_eq!(
            RequestHeader::new(0, Op::Subscribe, QoS::Processed, 0).flags,
            0x42
        );
        assert_eq!(RequestHeader::new(0, Op::Publish, QoS::No, 0).flags, 0x01);
    }

    #[test]
    fn request_header_round_trip() {
        // §7: `a` sends `hi` to `b`, op id 1, QoS Processed.
        let bytes = [0x01, 0x00, 0x00, 0x00, 0x52, 0x04, 0x00, 0x00, 0x00];
        let header = RequestHeader::decode(&bytes);
        assert_eq!(header.op_id, 1);
        assert_eq!(header.op().unwrap(), Op::Message);
        assert_eq!(header.qos(), QoS::Processed);
        assert_eq!(header.len, 4);
        assert_eq!(header.encode(), bytes);
    }

    #[test]
    fn ping_ignores_length() {
        let header = RequestHeader::decode(&[0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(header.is_ping());
        // op 0 with QoS bits set is not a ping (§3.1).
        assert!(!RequestHeader::decode(&[0, 0, 0, 0, 0x40, 0, 0, 0, 0]).is_ping());
    }

    #[test]
    fn unknown_op_is_an_error() {
        let err = Op::from_u8(7).unwrap_err();
        assert_eq!(err.to_string(), "Data Error: Invalid frame type: 7");
    }

    #[test]
    fn qos_bits() {
        assert!(!QoS::No.needs_ack() && !QoS::No.is_realtime());
        assert!(QoS::Processed.needs_ack() && !QoS::Processed.is_realtime());
        assert!(!QoS::Realtime.needs_ack() && QoS::Realtime.is_realtime());
        assert!(QoS::RealtimeProcessed.needs_ack() && QoS::RealtimeProcessed.is_realtime());
    }

    #[test]
    fn greetings() {
        assert!(check_greeting(&GREETING_BYTES).is_ok());
        let err = check_greeting(&[0xEA, 1, 0]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSupported);
        assert!(check_greeting(&[GREETING, 2, 0]).is_err());
    }

    #[test]
    fn delivery_headers_decode_what_they_encode() {
        let header = DeliveryHeader::decode(&delivery_header(FrameKind::Publish, 70000, true));
        let header = header.unwrap();
        assert_eq!(header.kind(), FrameKind::Publish);
        assert_eq!(header.body_len(), 70000);
        assert!(header.is_realtime());
        let ack = DeliveryHeader::decode(&ack_frame(0x0102_0304, ERR_BUSY)).unwrap();
        assert_eq!(
            (ack.kind(), ack.op_id(), ack.code()),
            (FrameKind::Ack, 0x0102_0304, ERR_BUSY)
        );
        assert!(DeliveryHeader::decode(&[0x55, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn announcements_keep_the_original_key_order() {
        let reg = Announcement {
            s: "reg",
            d: Some("svc"),
            t: 1,
        };
        let wire = rmp_serde::to_vec_named(&reg).unwrap();
        assert_eq!(wire, b"\x83\xa1s\xa3reg\xa1d\xa3svc\xa1t\x01");
        assert_eq!(
            rmp_serde::from_slice::<Announcement<'_>>(&wire).unwrap(),
            reg
        );
        let shutdown = Announcement {
            s: "shutdown",
            d: None,
            t: 1,
        };
        let wire = rmp_serde::to_vec_named(&shutdown).unwrap();
        assert_eq!(wire, b"\x82\xa1s\xa8shutdown\xa1t\x01");
    }

    #[test]
    fn ack_and_delivery_headers() {
        assert_eq!(
            ack_frame(3, ERR_CLIENT_NOT_REGISTERED),
            [0xFE, 3, 0, 0, 0, 0x71]
        );
        assert_eq!(
            delivery_header(FrameKind::Message, 4, false),
            [0x12, 4, 0, 0, 0, 0]
        );
        assert_eq!(delivery_header(FrameKind::Message, 4, true)[5], 1);
        assert_eq!(GREETING_BYTES, [0xEB, 0x01, 0x00]);
    }

    #[test]
    fn primary_names() {
        assert_eq!(primary_name("a.b%%x%%y"), "a.b");
        assert_eq!(primary_name("a%%"), "a");
        assert_eq!(primary_name("plain"), "plain");
    }
}
