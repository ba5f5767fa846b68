//! What a frame carries across NATS besides its payload: the headers, and the one RPC fact the
//! gateway reads (the call id of a request it must answer for a missing target).

use async_nats::{HeaderMap, HeaderName};

/// The sender's name on its node (`Elbus-Sender`); the receiving node routes the frame as
/// `sender@origin`.
pub(crate) const SENDER: HeaderName = HeaderName::from_static("Elbus-Sender");
/// The node the frame comes from; a frame of this node's own name is dropped (a loop).
pub(crate) const ORIGIN: HeaderName = HeaderName::from_static("Elbus-Origin");
/// The target name (one-to-one) or mask (broadcast) on the receiving node.
pub(crate) const TARGET: HeaderName = HeaderName::from_static("Elbus-Target");
/// The elbus topic of a publication (the subject is its conversion, which MQTT and NATS
/// subscribers read).
pub(crate) const TOPIC: HeaderName = HeaderName::from_static("Elbus-Topic");
/// Present (`1`) on realtime frames.
pub(crate) const REALTIME: HeaderName = HeaderName::from_static("Elbus-Rt");
/// `reg` or `unreg` on an announcement of a node's registrations.
pub(crate) const EVENT: HeaderName = HeaderName::from_static("Elbus-Event");

/// The payload of a heartbeat that says the node stops.
pub(crate) const HEARTBEAT_DOWN: &[u8] = b"down";

/// Whether `value` can travel as a header value unchanged: no control characters (NATS ends
/// a header at CR LF) and no leading or trailing whitespace (which header parsing trims).
pub(crate) fn header_safe(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control) && value.trim() == value
}

/// What one header entry adds to [`cost`].
pub(crate) fn entry_cost(name: &HeaderName, value: &str) -> usize {
    AsRef::<str>::as_ref(name).len() + value.len() + 4
}

/// What a frame costs on the wire and in the queue: subject, headers and payload.
pub(crate) fn cost(subject: &str, headers: &HeaderMap, payload: usize) -> usize {
    let headers: usize = headers
        .iter()
        .map(|(name, values)| {
            values
                .iter()
                .map(|v| entry_cost(name, v.as_str()))
                .sum::<usize>()
        })
        .sum();
    subject.len() + headers + payload + 16
}

/// The header value `name` of `headers` as a string (a static name: no allocation).
pub(crate) fn header(headers: Option<&HeaderMap>, name: HeaderName) -> Option<&str> {
    headers?.get(name).map(|v| v.as_str())
}

/// The elbus headers of a received frame, read in one pass over the header map (no lookup,
/// hence no hashing, per field).
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    pub(crate) origin: Option<&'a str>,
    pub(crate) sender: Option<&'a str>,
    pub(crate) target: Option<&'a str>,
    pub(crate) topic: Option<&'a str>,
    pub(crate) realtime: bool,
}

impl<'a> Fields<'a> {
    /// The fields `headers` holds (the first value of each).
    pub(crate) fn read(headers: Option<&'a HeaderMap>) -> Fields<'a> {
        let mut fields = Fields::default();
        for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
            let value = values.first().map(|v| v.as_str());
            let name: &str = name.as_ref();
            match name.as_bytes() {
                b"Elbus-Origin" => fields.origin = value,
                b"Elbus-Sender" => fields.sender = value,
                b"Elbus-Target" => fields.target = value,
                b"Elbus-Topic" => fields.topic = value,
                b"Elbus-Rt" => fields.realtime = true,
                _ => {}
            }
        }
        fields
    }
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
}
