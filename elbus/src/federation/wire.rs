//! What a frame carries across NATS besides its payload. Messages and broadcasts carry their
//! elbus metadata in a compact binary prefix of the NATS payload (no NATS headers, which the
//! client would build and parse as a hash map per message); publications, which plain NATS and
//! MQTT subscribers read, keep their payload raw and carry the metadata in one `Elbus` header;
//! announcements carry one `Elbus-Event` header. Also the one RPC fact the gateway reads (the
//! call id of a request it must answer for a missing target).

use async_nats::HeaderName;

/// The one header of a publication: `FLAG ORIGIN TOPIC SENDER` separated by single spaces
/// (`FLAG` is `r` for a realtime frame, `-` otherwise; the sender, last, may hold spaces).
pub(crate) const ELBUS: HeaderName = HeaderName::from_static("Elbus");
/// The one header of an announcement of a node's registrations: `reg NAME` or `unreg NAME`.
pub(crate) const EVENT: HeaderName = HeaderName::from_static("Elbus-Event");

/// The first byte of a message or broadcast prefix (the prefix format's version).
pub(crate) const PREFIX_MAGIC: u8 = 0xEB;
/// The prefix flag of a realtime frame.
const FLAG_REALTIME: u8 = 0x01;

/// The payload of a heartbeat that says the node stops.
pub(crate) const HEARTBEAT_DOWN: &[u8] = b"down";

/// Whether `value` can travel as a header value unchanged: no control characters (NATS ends
/// a header at CR LF) and no leading or trailing whitespace (which header parsing trims).
pub(crate) fn header_safe(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control) && value.trim() == value
}

/// Whether `origin`, `sender` and `target` fit a prefix (lengths: 255, 65535, 65535 bytes).
pub(crate) fn prefix_fits(origin: &str, sender: &str, target: &str) -> bool {
    origin.len() <= usize::from(u8::MAX)
        && sender.len() <= usize::from(u16::MAX)
        && target.len() <= usize::from(u16::MAX)
}

/// Writes the prefix of a message or broadcast to `out`: magic, flags, the origin (a length
/// byte), the sender and the target (each a little-endian `u16` length), then nothing else:
/// the elbus payload follows. The caller checked [`prefix_fits`].
pub(crate) fn write_prefix(out: &mut Vec<u8>, origin: &str, sender: &str, target: &str, rt: bool) {
    out.push(PREFIX_MAGIC);
    out.push(if rt { FLAG_REALTIME } else { 0 });
    out.push(origin.len() as u8);
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&(sender.len() as u16).to_le_bytes());
    out.extend_from_slice(sender.as_bytes());
    out.extend_from_slice(&(target.len() as u16).to_le_bytes());
    out.extend_from_slice(target.as_bytes());
}

/// What a prefix takes on the wire.
pub(crate) fn prefix_len(origin: &str, sender: &str, target: &str) -> usize {
    3 + origin.len() + 2 + sender.len() + 2 + target.len()
}

/// The elbus fields of a received frame, borrowed from the message (no allocation).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    pub(crate) origin: &'a str,
    pub(crate) sender: &'a str,
    /// The target name or mask (messages, broadcasts) or the topic (publications).
    pub(crate) target: &'a str,
    pub(crate) realtime: bool,
}

fn take<'a>(data: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if data.len() < len {
        return None;
    }
    let (head, rest) = data.split_at(len);
    *data = rest;
    Some(head)
}

fn take_str<'a>(data: &mut &'a [u8], len: usize) -> Option<&'a str> {
    std::str::from_utf8(take(data, len)?).ok()
}

fn take_u16(data: &mut &[u8]) -> Option<usize> {
    let b = take(data, 2)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

impl<'a> Fields<'a> {
    /// Splits a message or broadcast payload into its prefix fields and the elbus payload;
    /// `None` for a malformed prefix.
    pub(crate) fn split_prefix(payload: &'a [u8]) -> Option<(Fields<'a>, &'a [u8])> {
        let mut data = payload;
        let head = take(&mut data, 3)?;
        if head[0] != PREFIX_MAGIC {
            return None;
        }
        let realtime = head[1] & FLAG_REALTIME != 0;
        let origin = take_str(&mut data, usize::from(head[2]))?;
        let len = take_u16(&mut data)?;
        let sender = take_str(&mut data, len)?;
        let len = take_u16(&mut data)?;
        let target = take_str(&mut data, len)?;
        let fields = Fields {
            origin,
            sender,
            target,
            realtime,
        };
        Some((fields, data))
    }

    /// Reads the value of a publication's [`ELBUS`] header; `None` when malformed.
    pub(crate) fn from_header(value: &'a str) -> Option<Fields<'a>> {
        let mut parts = value.splitn(4, ' ');
        let realtime = match parts.next()? {
            "r" => true,
            "-" => false,
            _ => return None,
        };
        let origin = parts.next()?;
        let target = parts.next()?;
        let sender = parts.next()?;
        Some(Fields {
            origin,
            sender,
            target,
            realtime,
        })
    }
}

/// The [`ELBUS`] header value of a publication (the topic has no whitespace: it has a subject).
pub(crate) fn publication_header(origin: &str, topic: &str, sender: &str, rt: bool) -> String {
    let flag = if rt { "r" } else { "-" };
    let mut value = String::with_capacity(origin.len() + topic.len() + sender.len() + 4);
    for part in [flag, " ", origin, " ", topic, " ", sender] {
        value.push_str(part);
    }
    value
}

/// The call id of an RPC request payload (`01 id method NUL params`), if it is one with a
/// non-zero id (a caller waiting for a reply).
pub(crate) fn rpc_request_id(payload: &[u8]) -> Option<u32> {
    match payload {
        [0x01, a, b, c, d, ..] => Some(u32::from_le_bytes([*a, *b, *c, *d])).filter(|id| *id != 0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_and_request_ids() {
        assert!(header_safe("svc.calc"));
        assert!(!header_safe("a\r\nX: y"));
        assert!(!header_safe(" a"));
        assert!(!header_safe(""));
        assert_eq!(rpc_request_id(b"\x01\x02\x00\x00\x00m\x00"), Some(2));
        assert_eq!(rpc_request_id(b"\x01\x00\x00\x00\x00m\x00"), None);
        assert_eq!(rpc_request_id(b"\x11\x02\x00\x00\x00"), None);
        assert_eq!(rpc_request_id(b"\x01\x02"), None);
    }

    #[test]
    fn prefix_round_trip_and_malformed() {
        let mut buf = Vec::new();
        write_prefix(&mut buf, "a", "svc calc", "app.*", true);
        assert_eq!(buf.len(), prefix_len("a", "svc calc", "app.*"));
        buf.extend_from_slice(b"body");
        let (fields, body) = Fields::split_prefix(&buf).expect("prefix");
        assert_eq!(
            fields,
            Fields {
                origin: "a",
                sender: "svc calc",
                target: "app.*",
                realtime: true
            }
        );
        assert_eq!(body, b"body");
        for cut in 0..buf.len() - 4 {
            assert!(Fields::split_prefix(&buf[..cut]).is_none(), "cut {cut}");
        }
        buf[0] = 0;
        assert!(Fields::split_prefix(&buf).is_none());
    }

    #[test]
    fn publication_header_round_trip() {
        let value = publication_header("b", "sensors/t", "pub one", false);
        assert_eq!(value, "- b sensors/t pub one");
        let fields = Fields::from_header(&value).expect("fields");
        assert_eq!((fields.origin, fields.target), ("b", "sensors/t"));
        assert_eq!((fields.sender, fields.realtime), ("pub one", false));
        assert!(Fields::from_header("x b t s").is_none());
        assert!(Fields::from_header("r b t").is_none());
    }
}
