//! The RPC payload formats (`protocol.md` §9.1): parsing a received message into an
//! [`RpcEvent`] and encoding the headers the client sends.
//!
//! An RPC payload is the payload of a one-to-one message (after `sender NUL`):
//!
//! | first byte | kind | layout |
//! |---|---|---|
//! | `00` | notification | `00` data |
//! | `01` | request | `01` call_id(u32 LE) method `00` params |
//! | `11` | reply | `11` call_id(u32 LE) result |
//! | `12` | error reply | `12` call_id(u32 LE) code(i16 LE) data |

use std::fmt;

use bytes::Bytes;

use super::error::RpcError;
use crate::{Frame, FrameKind};

const NOTIFICATION: u8 = 0x00;
const REQUEST: u8 = 0x01;
const REPLY: u8 = 0x11;
const ERROR_REPLY: u8 = 0x12;

/// Bytes of the type byte and the call id.
const ID_END: usize = 5;
/// Bytes of the type byte, the call id and the error code.
const CODE_END: usize = 7;

/// What an RPC payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RpcEventKind {
    /// `00`: a notification; [`RpcEvent::payload`] is its data.
    Notification = NOTIFICATION,
    /// `01`: a request (a call); [`RpcEvent::payload`] is its params.
    Request = REQUEST,
    /// `11`: a reply; [`RpcEvent::payload`] is the result.
    Reply = REPLY,
    /// `12`: an error reply; [`RpcEvent::code`] is the code, [`RpcEvent::payload`] the data.
    ErrorReply = ERROR_REPLY,
}

/// Why a message is not a valid RPC payload. Such messages are counted and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidPayload {
    /// The frame is a broadcast or publication; only one-to-one messages carry RPC.
    NotAMessage(FrameKind),
    /// The payload is empty.
    Empty,
    /// The first byte is not a known RPC type.
    UnknownType(u8),
    /// The payload is shorter than its kind's fixed part.
    TooShort {
        /// The kind the first byte announced.
        kind: RpcEventKind,
        /// The payload's length.
        len: usize,
        /// The minimum length of that kind.
        min: usize,
    },
    /// A request whose method name is not terminated by a NUL.
    NoMethodTerminator,
}

impl fmt::Display for InvalidPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidPayload::NotAMessage(kind) => write!(f, "{kind:?} frames carry no RPC"),
            InvalidPayload::Empty => f.write_str("empty RPC payload"),
            InvalidPayload::UnknownType(byte) => write!(f, "unknown RPC payload type {byte:#04x}"),
            InvalidPayload::TooShort { kind, len, min } => {
                write!(f, "RPC {kind:?} of {len} bytes, at least {min} needed")
            }
            InvalidPayload::NoMethodTerminator => {
                f.write_str("RPC request without NUL after the method")
            }
        }
    }
}

impl std::error::Error for InvalidPayload {}

/// Where the parts of a parsed payload sit, as offsets into the message payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    kind: RpcEventKind,
    id: u32,
    /// End of the method name (requests; the name starts at offset 5).
    method_end: usize,
    /// Start of the data: params, result or error data.
    data_start: usize,
    /// The error code (error replies; 0 otherwise).
    code: i16,
}

impl Layout {
    fn parse(payload: &[u8]) -> Result<Layout, InvalidPayload> {
        let first = *payload.first().ok_or(InvalidPayload::Empty)?;
        let (kind, min) = match first {
            NOTIFICATION => (RpcEventKind::Notification, 1),
            // The shortest request is `01 id NUL`: an empty method name.
            REQUEST => (RpcEventKind::Request, ID_END + 1),
            REPLY => (RpcEventKind::Reply, ID_END),
            ERROR_REPLY => (RpcEventKind::ErrorReply, CODE_END),
            other => return Err(InvalidPayload::UnknownType(other)),
        };
        if payload.len() < min {
            return Err(InvalidPayload::TooShort {
                kind,
                len: payload.len(),
                min,
            });
        }
        let id = || u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]);
        Ok(match kind {
            RpcEventKind::Notification => Layout {
                kind,
                id: 0,
                method_end: 0,
                data_start: 1,
                code: 0,
            },
            RpcEventKind::Request => {
                let method_end = payload[ID_END..]
                    .iter()
                    .position(|&b| b == 0)
                    .map(|pos| pos + ID_END)
                    .ok_or(InvalidPayload::NoMethodTerminator)?;
                Layout {
                    kind,
                    id: id(),
                    method_end,
                    data_start: method_end + 1,
                    code: 0,
                }
            }
            RpcEventKind::Reply => Layout {
                kind,
                id: id(),
                method_end: 0,
                data_start: ID_END,
                code: 0,
            },
            RpcEventKind::ErrorReply => Layout {
                kind,
                id: id(),
                method_end: 0,
                data_start: CODE_END,
                code: i16::from_le_bytes([payload[5], payload[6]]),
            },
        })
    }
}

/// A received RPC payload: a notification, request, reply or error reply, together with the
/// message that carried it.
///
/// Every accessor borrows from the frame's buffer; nothing is copied. Cloning is cheap (the
/// buffer is shared).
#[derive(Clone)]
pub struct RpcEvent {
    frame: Frame,
    layout: Layout,
}

impl RpcEvent {
    /// Parses the payload of a one-to-one message. Broadcasts and publications are never RPC.
    pub fn parse(frame: Frame) -> Result<RpcEvent, InvalidPayload> {
        RpcEvent::parse_or_return(frame).map_err(|(_, err)| err)
    }

    /// [`parse`](Self::parse), handing the frame back on failure (for the log line).
    pub(crate) fn parse_or_return(frame: Frame) -> Result<RpcEvent, (Frame, InvalidPayload)> {
        if frame.kind() != FrameKind::Message {
            let kind = frame.kind();
            return Err((frame, InvalidPayload::NotAMessage(kind)));
        }
        match Layout::parse(frame.payload()) {
            Ok(layout) => Ok(RpcEvent { frame, layout }),
            Err(err) => Err((frame, err)),
        }
    }

    /// Notification, request, reply or error reply.
    pub fn kind(&self) -> RpcEventKind {
        self.layout.kind
    }

    /// The message that carried the payload.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// The full name of the sender (replies go back to it).
    pub fn sender(&self) -> &str {
        self.frame.sender()
    }

    /// The sender's primary name (up to the first `%%`).
    pub fn primary_sender(&self) -> &str {
        self.frame.primary_sender()
    }

    /// The call id: 0 for notifications and for requests that want no reply (`call0`).
    pub fn id(&self) -> u32 {
        self.layout.id
    }

    /// Whether the sender waits for a reply (a request with a non-zero call id).
    pub fn is_response_required(&self) -> bool {
        self.layout.kind == RpcEventKind::Request && self.layout.id != 0
    }

    /// The method name of a request, as sent (any bytes but NUL); empty for other kinds.
    pub fn method(&self) -> &[u8] {
        match self.layout.kind {
            RpcEventKind::Request => &self.frame.payload()[ID_END..self.layout.method_end],
            _ => &[],
        }
    }

    /// The method name as text. A name that is not UTF-8 is an invalid request (-32600).
    pub fn parse_method(&self) -> Result<&str, RpcError> {
        std::str::from_utf8(self.method()).map_err(|_| {
            RpcError::with_message(
                super::RPC_ERROR_CODE_INVALID_REQUEST,
                "method name is not UTF-8",
            )
        })
    }

    /// The error code of an error reply; 0 for other kinds.
    pub fn code(&self) -> i16 {
        self.layout.code
    }

    /// The data: a notification's data, a request's params, a reply's result or an error
    /// reply's data. May be empty.
    pub fn payload(&self) -> &[u8] {
        &self.frame.payload()[self.layout.data_start..]
    }

    /// [`payload`](Self::payload) as a shared buffer (no copy), to keep it past the event.
    pub fn payload_bytes(&self) -> Bytes {
        self.frame.payload_bytes().slice(self.layout.data_start..)
    }

    /// The error of an error reply (empty data becomes `None`); `None` for other kinds.
    pub fn to_error(&self) -> Option<RpcError> {
        (self.layout.kind == RpcEventKind::ErrorReply).then(|| {
            let data = self.payload();
            RpcError::new(self.layout.code, (!data.is_empty()).then(|| data.to_vec()))
        })
    }
}

impl fmt::Debug for RpcEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcEvent")
            .field("kind", &self.layout.kind)
            .field("sender", &self.sender())
            .field("id", &self.layout.id)
            .field("method", &String::from_utf8_lossy(self.method()))
            .field("code", &self.layout.code)
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

/// Checks a method name before it is sent: non-empty, no NUL (the NUL ends the name on the
/// wire, so one inside would shift the params).
pub(crate) fn validate_method(method: &str) -> Result<(), RpcError> {
    if method.is_empty() {
        return Err(RpcError::with_message(
            super::RPC_ERROR_CODE_INVALID_REQUEST,
            "the method name is empty",
        ));
    }
    if method.as_bytes().contains(&0) {
        return Err(RpcError::with_message(
            super::RPC_ERROR_CODE_INVALID_REQUEST,
            "the method name contains a NUL byte",
        ));
    }
    Ok(())
}

/// The header of a notification: `00`.
pub(crate) const NOTIFICATION_HEADER: [u8; 1] = [NOTIFICATION];

/// The header of a request: `01 id method 00`; the params follow it.
pub(crate) fn request_header(id: u32, method: &str) -> Vec<u8> {
    let mut header = Vec::with_capacity(ID_END + method.len() + 1);
    header.push(REQUEST);
    header.extend_from_slice(&id.to_le_bytes());
    header.extend_from_slice(method.as_bytes());
    header.push(0);
    header
}

/// The header of a reply: `11 id`; the result follows it.
pub(crate) fn reply_header(id: u32) -> [u8; ID_END] {
    let id = id.to_le_bytes();
    [REPLY, id[0], id[1], id[2], id[3]]
}

/// The header of an error reply: `12 id code`; the data follows it.
pub(crate) fn error_header(id: u32, code: i16) -> [u8; CODE_END] {
    let id = id.to_le_bytes();
    let code = code.to_le_bytes();
    [ERROR_REPLY, id[0], id[1], id[2], id[3], code[0], code[1]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(payload: &[u8]) -> Frame {
        let mut body = b"caller%%1\0".to_vec();
        body.extend_from_slice(payload);
        Frame::from_body(FrameKind::Message, false, Bytes::from(body)).unwrap()
    }

    fn join(header: &[u8], data: &[u8]) -> Vec<u8> {
        [header, data].concat()
    }

    #[test]
    fn broker_test_request_matches_spec_bytes() {
        // §7: `.broker` method `test`, call id 1, empty params.
        let wire = join(&request_header(1, "test"), b"");
        assert_eq!(wire, [0x01, 0x01, 0, 0, 0, 0x74, 0x65, 0x73, 0x74, 0x00]);
        let event = RpcEvent::parse(message(&wire)).unwrap();
        assert_eq!(event.kind(), RpcEventKind::Request);
        assert_eq!(event.id(), 1);
        assert_eq!(event.method(), b"test");
        assert_eq!(event.parse_method().unwrap(), "test");
        assert!(event.is_response_required());
        assert_eq!(event.payload(), b"");
        assert_eq!(event.sender(), "caller%%1");
        assert_eq!(event.primary_sender(), "caller");
    }

    #[test]
    fn method_not_found_error_matches_spec_bytes() {
        // §7: `12 06 00 00 00 A7 80` is call id 6, code -32601, no data.
        let header = error_header(6, -32601);
        assert_eq!(header, [0x12, 0x06, 0, 0, 0, 0xA7, 0x80]);
        let event = RpcEvent::parse(message(&header)).unwrap();
        assert_eq!(event.kind(), RpcEventKind::ErrorReply);
        assert_eq!(event.id(), 6);
        assert_eq!(event.code(), -32601);
        assert_eq!(event.to_error(), Some(RpcError::method(None)));
        assert!(!event.is_response_required());
    }

    #[test]
    fn reply_notification_and_call0() {
        // §7: the reply `11 01 00 00 00 | 81 A2 6F 6B C3` ({"ok": true}).
        let reply = join(&reply_header(1), &[0x81, 0xA2, 0x6F, 0x6B, 0xC3]);
        assert_eq!(&reply[..5], &[0x11, 1, 0, 0, 0]);
        let event = RpcEvent::parse(message(&reply)).unwrap();
        assert_eq!((event.kind(), event.id()), (RpcEventKind::Reply, 1));
        assert_eq!(event.payload(), &[0x81, 0xA2, 0x6F, 0x6B, 0xC3]);
        assert_eq!(
            event.payload_bytes(),
            Bytes::from_static(&[0x81, 0xA2, 0x6F, 0x6B, 0xC3])
        );
        assert_eq!(event.to_error(), None);
        assert_eq!(event.method(), b"");

        let note = RpcEvent::parse(message(&join(&NOTIFICATION_HEADER, b"hi"))).unwrap();
        assert_eq!(
            (note.kind(), note.id(), note.payload()),
            (RpcEventKind::Notification, 0, &b"hi"[..])
        );
        assert!(!note.is_response_required());

        let call0 = join(&request_header(0, "m"), b"p\0q");
        assert_eq!(call0, [1, 0, 0, 0, 0, b'm', 0, b'p', 0, b'q']);
        let event = RpcEvent::parse(message(&call0)).unwrap();
        assert!(!event.is_response_required());
        assert_eq!(
            event.payload(),
            b"p\0q",
            "params may hold NULs; only the first ends the method"
        );

        let with_data =
            RpcEvent::parse(message(&join(&error_header(u32::MAX, -777), b"boom"))).unwrap();
        assert_eq!(with_data.id(), u32::MAX);
        assert_eq!(
            with_data.to_error(),
            Some(RpcError::with_message(-777, "boom"))
        );
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        let cases: &[(&[u8], InvalidPayload)] = &[
            (b"", InvalidPayload::Empty),
            (b"\x02abc", InvalidPayload::UnknownType(2)),
            (
                b"\x01\x01\x00\x00\x00",
                InvalidPayload::TooShort {
                    kind: RpcEventKind::Request,
                    len: 5,
                    min: 6,
                },
            ),
            (
                b"\x01\x01\x00\x00\x00test",
                InvalidPayload::NoMethodTerminator,
            ),
            (
                b"\x11\x01\x00\x00",
                InvalidPayload::TooShort {
                    kind: RpcEventKind::Reply,
                    len: 4,
                    min: 5,
                },
            ),
            (
                b"\x12\x01\x00\x00\x00\xa7",
                InvalidPayload::TooShort {
                    kind: RpcEventKind::ErrorReply,
                    len: 6,
                    min: 7,
                },
            ),
        ];
        for (payload, expected) in cases {
            let err = RpcEvent::parse(message(payload)).unwrap_err();
            assert_eq!(&err, expected, "{payload:02x?}");
            assert!(!err.to_string().is_empty());
        }
        let broadcast =
            Frame::from_body(FrameKind::Broadcast, false, Bytes::from_static(b"a\0\x00x")).unwrap();
        assert_eq!(
            RpcEvent::parse(broadcast).unwrap_err(),
            InvalidPayload::NotAMessage(FrameKind::Broadcast)
        );
    }

    #[test]
    fn method_names_are_validated() {
        assert!(validate_method("svc.method").is_ok());
        assert_eq!(validate_method("").unwrap_err().code(), -32600);
        assert_eq!(validate_method("a\0b").unwrap_err().code(), -32600);
        let event = RpcEvent::parse(message(b"\x01\x01\x00\x00\x00\xff\x00")).unwrap();
        assert_eq!(event.method(), b"\xff");
        assert_eq!(event.parse_method().unwrap_err().code(), -32600);
    }

    proptest! {
        #[test]
        fn parse_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(event) = RpcEvent::parse(message(&payload)) {
                // Every accessor stays inside the buffer.
                let _ = (event.method(), event.payload(), event.code(), event.to_error(), event.parse_method());
                prop_assert!(event.payload().len() < payload.len());
            }
        }

        #[test]
        fn requests_round_trip(
            id in any::<u32>(),
            method in "[^\u{0}]{1,24}",
            params in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let event = RpcEvent::parse(message(&join(&request_header(id, &method), &params))).unwrap();
            prop_assert_eq!(event.kind(), RpcEventKind::Request);
            prop_assert_eq!(event.id(), id);
            prop_assert_eq!(event.parse_method().unwrap(), method.as_str());
            prop_assert_eq!(event.payload(), &params[..]);
        }

        #[test]
        fn replies_and_errors_round_trip(
            id in any::<u32>(),
            code in any::<i16>(),
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let reply = RpcEvent::parse(message(&join(&reply_header(id), &data))).unwrap();
            prop_assert_eq!((reply.kind(), reply.id()), (RpcEventKind::Reply, id));
            prop_assert_eq!(reply.payload(), &data[..]);
            let error = RpcEvent::parse(message(&join(&error_header(id, code), &data))).unwrap();
            prop_assert_eq!((error.kind(), error.id(), error.code()), (RpcEventKind::ErrorReply, id, code));
            prop_assert_eq!(error.payload(), &data[..]);
        }
    }
}
