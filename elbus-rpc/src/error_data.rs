//! Where the fields of a data-carrying error variant travel: appended to the UTF-8 error text as
//! one `rpc-data:` line holding the hex of their MessagePack, so text-only peers still read the
//! message on the first line.
//!
//! The error payload stays valid UTF-8 because peers such as the Python client decode it strictly
//! as text; hex (rather than base64 or JSON) needs no dependency, keeps every MessagePack type
//! exact, and is one call to decode in any language (`bytes.fromhex` in Python).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What separates the human message from the encoded fields in an error payload.
pub const ERROR_DATA_MARKER: &str = "\nrpc-data: ";

/// `message` followed by the `rpc-data:` line of `fields` (their MessagePack, maps keyed by
/// name, in lowercase hex). A field that fails to encode leaves the message alone.
pub fn encode_error_text<F: Serialize + ?Sized>(message: String, fields: &F) -> String {
    let Ok(bytes) = rmp_serde::to_vec_named(fields) else {
        return message;
    };
    let mut text = message;
    text.reserve(ERROR_DATA_MARKER.len() + 2 * bytes.len());
    text.push_str(ERROR_DATA_MARKER);
    for b in bytes {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    text
}

/// Splits an error payload into its human message and the MessagePack bytes of its
/// `rpc-data:` line (`None` when there is no such line, or it is not valid hex).
pub fn split_error_text(text: &str) -> (&str, Option<Vec<u8>>) {
    match text.rsplit_once(ERROR_DATA_MARKER) {
        Some((message, hex)) => match decode_hex(hex.trim_end()) {
            Some(bytes) => (message, Some(bytes)),
            None => (text, None),
        },
        None => (text, None),
    }
}

/// The fields carried by an error payload, decoded as `F`; `None` when there are none or they
/// do not decode as `F`.
pub fn decode_error_fields<F: DeserializeOwned>(text: &str) -> Option<F> {
    let bytes = split_error_text(text).1?;
    rmp_serde::from_slice(&bytes).ok()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_behind_the_message() {
        let text = encode_error_text(
            "value 12 out of range 0..10".to_owned(),
            &(12i64, 0i64, 10i64),
        );
        assert!(text.starts_with("value 12 out of range 0..10\nrpc-data: "));
        assert_eq!(split_error_text(&text).0, "value 12 out of range 0..10");
        assert_eq!(
            decode_error_fields::<(i64, i64, i64)>(&text),
            Some((12, 0, 10))
        );
    }

    #[test]
    fn a_plain_message_or_bad_hex_carries_no_fields() {
        assert_eq!(split_error_text("just text"), ("just text", None));
        assert_eq!(
            split_error_text("a\nrpc-data: zz"),
            ("a\nrpc-data: zz", None)
        );
        assert_eq!(decode_error_fields::<(i64,)>("a\nrpc-data: 9"), None);
    }
}
