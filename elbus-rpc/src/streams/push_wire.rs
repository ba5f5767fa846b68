//! The wire of push streams: the params of `rpc.stream.open`, `rpc.stream.credit` and
//! `rpc.stream.cancel`, and the notifications that carry items, the end and errors.

use serde::{Deserialize, Serialize};

use crate::codec::{decode_value, encode_value};
use crate::error::CodecError;

/// `rpc.stream.open {"m": method, "p": <bin: the method's params>, "s": id, "c": credit}`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Open<'a> {
    pub m: &'a str,
    #[serde(with = "serde_bytes")]
    pub p: &'a [u8],
    pub s: u64,
    pub c: u64,
}

/// `rpc.stream.credit {"s", "n"}` and `rpc.stream.cancel {"s"}`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Control {
    pub s: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
}

/// An error that ended a push stream: `{"code", "message"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushError {
    pub code: i16,
    pub message: String,
}

/// What a push notification carries besides `"s"` and `"q"`.
pub(crate) enum Body<'a> {
    /// `"d"`: one item (its encoded MessagePack).
    Item(&'a [u8]),
    /// `"end": true`.
    End,
    /// `"e": {"code", "message"}`.
    Error(&'a PushError),
}

/// Encodes `{"s": s, "q": q, ..body}`; the item is spliced in as it was encoded.
pub(crate) fn message(s: u64, q: u64, body: Body<'_>) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![0x83];
    out.extend_from_slice(&encode_value("s")?);
    out.extend_from_slice(&encode_value(&s)?);
    out.extend_from_slice(&encode_value("q")?);
    out.extend_from_slice(&encode_value(&q)?);
    match body {
        Body::Item(item) => {
            out.extend_from_slice(&encode_value("d")?);
            out.extend_from_slice(item);
        }
        Body::End => {
            out.extend_from_slice(&encode_value("end")?);
            out.extend_from_slice(&encode_value(&true)?);
        }
        Body::Error(e) => {
            out.extend_from_slice(&encode_value("e")?);
            out.extend_from_slice(&encode_value(e)?);
        }
    }
    Ok(out)
}

/// A received push notification, typed: what the client decodes.
#[derive(Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub(crate) struct Received<T> {
    pub q: u64,
    #[serde(default = "none")]
    pub d: Option<T>,
    #[serde(default)]
    pub end: bool,
    #[serde(default)]
    pub e: Option<PushError>,
}

fn none<T>() -> Option<T> {
    None
}

/// The stream id of a push notification, if `payload` is one.
pub(crate) fn stream_of(payload: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Route {
        s: u64,
    }
    decode_value::<Route>(payload).ok().map(|r| r.s)
}
