//! How payloads are shown (`protocol.md` §12.1): a JSON object, text, MessagePack or hex, and
//! the conversion of MessagePack values to JSON.

use serde_json::{Map, Number, Value as Json};

/// Deeper MessagePack (or JSON) nesting than this is shown as hex: decoding and printing
/// recurse, and a hostile payload must not exhaust the stack.
const MAX_DEPTH: usize = 128;
/// Human output shows at most this many bytes of a binary payload in hex.
const HEX_LIMIT: usize = 256;

/// What a payload turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadView<'a> {
    /// Nothing.
    Empty,
    /// Text that parses as a JSON object.
    Json(Json),
    /// Other UTF-8 text without control characters (tab, CR and LF allowed).
    Text(&'a str),
    /// Exactly one MessagePack value, converted to JSON.
    MsgPack(Json),
    /// Anything else.
    Binary(&'a [u8]),
}

impl<'a> PayloadView<'a> {
    /// Classifies a payload.
    ///
    /// As the original CLI: text that is a JSON object is JSON, other text is text, then
    /// MessagePack, then binary. Stricter than the original where it showed garbage: text with
    /// control characters (terminal escapes) is not printed as text, and MessagePack must
    /// span the whole payload, since any byte below 0x80 alone is a valid MessagePack integer.
    pub fn of(payload: &'a [u8]) -> PayloadView<'a> {
        if payload.is_empty() {
            return PayloadView::Empty;
        }
        if let Ok(text) = std::str::from_utf8(payload) {
            if is_printable(text) {
                return match serde_json::from_str::<Json>(text) {
                    Ok(json @ Json::Object(_)) => PayloadView::Json(json),
                    _ => PayloadView::Text(text),
                };
            }
        }
        match decode_msgpack(payload) {
            Some(value) => PayloadView::MsgPack(msgpack_to_json(&value)),
            None => PayloadView::Binary(payload),
        }
    }

    /// The human form: a label and the value (`JSON:` and pretty JSON on the next lines,
    /// `STR:  text`, `MSGPACK:` and pretty JSON, `HEX: …` cut after 256 bytes, `EMPTY`).
    pub fn human(&self) -> String {
        match self {
            PayloadView::Empty => "EMPTY".to_owned(),
            PayloadView::Json(json) => format!("JSON:\n{}", pretty(json)),
            PayloadView::Text(text) => format!("STR:  {text}"),
            PayloadView::MsgPack(json) => format!("MSGPACK:\n{}", pretty(json)),
            PayloadView::Binary(bytes) => {
                let shown = &bytes[..bytes.len().min(HEX_LIMIT)];
                let more = if bytes.len() > HEX_LIMIT { "..." } else { "" };
                format!("HEX: {}{more}", hex(shown))
            }
        }
    }

    /// The compact form (`-s`): one-line JSON, the text itself, or the raw bytes.
    pub fn compact(&self) -> Vec<u8> {
        match self {
            PayloadView::Empty => Vec::new(),
            PayloadView::Json(json) | PayloadView::MsgPack(json) => json.to_string().into_bytes(),
            PayloadView::Text(text) => text.as_bytes().to_vec(),
            PayloadView::Binary(bytes) => bytes.to_vec(),
        }
    }

    /// The `--json` form: `{"format": "empty|json|str|msgpack|hex", "value": …}`, the value
    /// being the JSON, the text, the converted MessagePack or the whole payload in hex.
    pub fn to_json(&self) -> Json {
        let (format, value) = match self {
            PayloadView::Empty => ("empty", Json::Null),
            PayloadView::Json(json) => ("json", json.clone()),
            PayloadView::Text(text) => ("str", Json::from(*text)),
            PayloadView::MsgPack(json) => ("msgpack", json.clone()),
            PayloadView::Binary(bytes) => ("hex", Json::from(hex(bytes))),
        };
        serde_json::json!({ "format": format, "value": value })
    }
}

/// Pretty JSON with two-space indents.
pub fn pretty(json: &Json) -> String {
    // Serializing a `serde_json::Value` cannot fail.
    serde_json::to_string_pretty(json).unwrap_or_default()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Text safe to print on a terminal: no control characters but tab, CR and LF.
fn is_printable(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Decodes `bytes` as exactly one MessagePack value, nesting at most [`MAX_DEPTH`] deep.
pub fn decode_msgpack(bytes: &[u8]) -> Option<rmpv::Value> {
    // rmpv reads the never-used marker 0xC1 as nil; walk the structure first to refuse it.
    if msgpack_len(bytes, MAX_DEPTH)? != bytes.len() {
        return None;
    }
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH).ok()?;
    reader.is_empty().then_some(value)
}

/// The length of the one MessagePack value at the start of `bytes`, or `None` if it is
/// truncated, nests deeper than `depth` or uses the reserved marker 0xC1.
fn msgpack_len(bytes: &[u8], depth: usize) -> Option<usize> {
    let depth = depth.checked_sub(1)?;
    let marker = *bytes.first()?;
    let be = |n: usize| -> Option<usize> {
        let field = bytes.get(1..1 + n)?;
        Some(
            field
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    // (header length, payload bytes, nested values)
    let (header, data, items): (usize, usize, usize) = match marker {
        0x00..=0x7F | 0xE0..=0xFF | 0xC0 | 0xC2 | 0xC3 => (1, 0, 0),
        0x80..=0x8F => (1, 0, 2 * usize::from(marker & 0x0F)),
        0x90..=0x9F => (1, 0, usize::from(marker & 0x0F)),
        0xA0..=0xBF => (1, usize::from(marker & 0x1F), 0),
        0xC1 => return None,
        0xC4 | 0xD9 => (2, be(1)?, 0),
        0xC5 | 0xDA => (3, be(2)?, 0),
        0xC6 | 0xDB => (5, be(4)?, 0),
        0xC7 => (3, be(1)?, 0),
        0xC8 => (4, be(2)?, 0),
        0xC9 => (6, be(4)?, 0),
        0xCA | 0xCE | 0xD2 => (5, 0, 0),
        0xCB | 0xCF | 0xD3 => (9, 0, 0),
        0xCC | 0xD0 => (2, 0, 0),
        0xCD | 0xD1 => (3, 0, 0),
        0xD4 => (3, 0, 0),
        0xD5 => (4, 0, 0),
        0xD6 => (6, 0, 0),
        0xD7 => (10, 0, 0),
        0xD8 => (18, 0, 0),
        0xDC => (3, 0, be(2)?),
        0xDD => (5, 0, be(4)?),
        0xDE => (3, 0, 2 * be(2)?),
        0xDF => (5, 0, 2usize.checked_mul(be(4)?)?),
    };
    let mut len = header.checked_add(data)?;
    if len > bytes.len() {
        return None;
    }
    for _ in 0..items {
        // Each nested value takes at least one byte, so a lying count ends at the slice end.
        len += msgpack_len(bytes.get(len..)?, depth)?;
    }
    Some(len)
}

/// Converts a MessagePack value to JSON: binary becomes an array of byte values (as
/// rmp-serde → serde_json does), non-string map keys their compact JSON text, floats that
/// JSON cannot hold (NaN, ±inf) their text, extension values `{"ext": type, "hex": data}`.
pub fn msgpack_to_json(value: &rmpv::Value) -> Json {
    use rmpv::Value as Mp;
    match value {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(*b),
        Mp::Integer(int) => int
            .as_i64()
            .map(Json::from)
            .or_else(|| int.as_u64().map(Json::from))
            .unwrap_or(Json::Null),
        Mp::F32(f) => float(f64::from(*f)),
        Mp::F64(f) => float(*f),
        Mp::String(s) => Json::String(match s.as_str() {
            Some(text) => text.to_owned(),
            None => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        }),
        Mp::Binary(bytes) => Json::Array(bytes.iter().map(|b| Json::from(*b)).collect()),
        Mp::Array(items) => Json::Array(items.iter().map(msgpack_to_json).collect()),
        Mp::Map(pairs) => {
            let mut map = Map::new();
            for (key, value) in pairs {
                let key = match key {
                    Mp::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    other => msgpack_to_json(other).to_string(),
                };
                map.insert(key, msgpack_to_json(value));
            }
            Json::Object(map)
        }
        Mp::Ext(ty, data) => serde_json::json!({ "ext": ty, "hex": hex(data) }),
    }
}

fn float(f: f64) -> Json {
    Number::from_f64(f).map_or_else(|| Json::String(f.to_string()), Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_objects_and_text() {
        let view = PayloadView::of(br#"{"a":1}"#);
        assert_eq!(view, PayloadView::Json(json!({"a": 1})));
        assert_eq!(view.human(), "JSON:\n{\n  \"a\": 1\n}");
        assert_eq!(view.compact(), br#"{"a":1}"#);
        // JSON that is not an object is text, as in the original.
        assert_eq!(PayloadView::of(b"[1,2]"), PayloadView::Text("[1,2]"));
        assert_eq!(PayloadView::of(b"12"), PayloadView::Text("12"));
        let view = PayloadView::of("héllo\tworld\n".as_bytes());
        assert_eq!(view.human(), "STR:  héllo\tworld\n");
        assert_eq!(
            view.to_json(),
            json!({"format": "str", "value": "héllo\tworld\n"})
        );
    }

    #[test]
    fn msgpack_maps_and_the_broker_test_reply() {
        let view = PayloadView::of(&[0x81, 0xA2, b'o', b'k', 0xC3]);
        assert_eq!(view, PayloadView::MsgPack(json!({"ok": true})));
        assert_eq!(view.human(), "MSGPACK:\n{\n  \"ok\": true\n}");
        assert_eq!(view.compact(), br#"{"ok":true}"#);
        assert_eq!(
            view.to_json(),
            json!({"format": "msgpack", "value": {"ok": true}})
        );
        // A lone small integer (a byte below 9, so not text) is MessagePack.
        assert_eq!(PayloadView::of(&[0x01]), PayloadView::MsgPack(json!(1)));
    }

    #[test]
    fn binary_is_hex_and_trailing_bytes_are_not_msgpack() {
        // The original showed this as MSGPACK 1 (first value only); it is binary.
        let view = PayloadView::of(&[0x01, 0x02, 0xFF]);
        assert_eq!(view, PayloadView::Binary(&[0x01, 0x02, 0xFF]));
        assert_eq!(view.human(), "HEX: 0102ff");
        assert_eq!(view.compact(), [0x01, 0x02, 0xFF]);
        assert_eq!(view.to_json(), json!({"format": "hex", "value": "0102ff"}));
        // 0xC1 is never valid MessagePack, not even nested.
        assert_eq!(PayloadView::of(&[0xC1]).human(), "HEX: c1");
        assert_eq!(PayloadView::of(&[0x92, 0x01, 0xC1]).human(), "HEX: 9201c1");
        // Every other form decodes: str8, bin8, fixext1, float64, nested maps and arrays.
        for ok in [
            &[0xD9, 0x01, b'a'][..],
            &[0xC4, 0x02, 1, 2],
            &[0xD4, 0x01, 0xFF],
            &[0xCB, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x81, 0xA1, b'k', 0x92, 0xC0, 0xDC, 0x00, 0x01, 0x05],
        ] {
            assert!(decode_msgpack(ok).is_some(), "{ok:02x?}");
            assert!(decode_msgpack(&ok[..ok.len() - 1]).is_none(), "{ok:02x?}");
        }
        let long = vec![0xC1u8; 300];
        let human = PayloadView::of(&long).human();
        assert_eq!(human.len(), "HEX: ".len() + 512 + 3);
        assert!(human.ends_with("c1..."));
    }

    #[test]
    fn terminal_escapes_are_not_printed_as_text() {
        let payload = b"\x1b[2Jgotcha";
        assert!(matches!(
            PayloadView::of(payload),
            PayloadView::Binary(_) | PayloadView::MsgPack(_)
        ));
        assert_eq!(PayloadView::of(b"").human(), "EMPTY");
        assert_eq!(
            PayloadView::of(b"").to_json(),
            json!({"format": "empty", "value": null})
        );
    }

    #[test]
    fn hostile_msgpack_is_bounded() {
        // An array header claiming 4 billion items, with none following.
        assert!(decode_msgpack(&[0xDD, 0xFF, 0xFF, 0xFF, 0xFF]).is_none());
        // Nesting deeper than the limit.
        let deep = vec![0x91u8; MAX_DEPTH + 10];
        assert!(decode_msgpack(&deep).is_none());
        assert!(matches!(PayloadView::of(&deep), PayloadView::Binary(_)));
    }

    #[test]
    fn msgpack_conversion_covers_every_type() {
        use rmpv::Value as Mp;
        let value = Mp::Map(vec![
            (Mp::from("nil"), Mp::Nil),
            (Mp::from("neg"), Mp::from(-5i64)),
            (Mp::from("big"), Mp::from(u64::MAX)),
            (Mp::from("f"), Mp::F32(0.5)),
            (Mp::from("nan"), Mp::F64(f64::NAN)),
            (Mp::from("bin"), Mp::Binary(vec![1, 2])),
            (Mp::from(7i64), Mp::Array(vec![Mp::from("x")])),
            (Mp::from("ext"), Mp::Ext(-1, vec![0xAB])),
        ]);
        assert_eq!(
            msgpack_to_json(&value),
            json!({
                "nil": null, "neg": -5, "big": u64::MAX, "f": 0.5, "nan": "NaN",
                "bin": [1, 2], "7": ["x"], "ext": {"ext": -1, "hex": "ab"}
            })
        );
    }
}
