//! MessagePack helpers for params and results, the convention every elbus peer follows, with
//! failures already mapped to [`RpcError`]s.

use serde::{Deserialize, Serialize};

use super::error::RpcError;

/// Encodes `value` as MessagePack, structs as maps with string keys (what Python's `msgpack`
/// produces and expects). A failure is an internal error (-32603) carrying the reason.
pub fn to_msgpack<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RpcError> {
    rmp_serde::to_vec_named(value)
        .map_err(|err| RpcError::internal(Some(err.to_string().into_bytes())))
}

/// Decodes MessagePack `bytes` into `T`; structs decode from maps or arrays. A failure is an
/// invalid-params error (-32602) carrying the reason, which is what a handler decoding its
/// params should answer.
pub fn from_msgpack<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, RpcError> {
    rmp_serde::from_slice(bytes).map_err(|err| RpcError::params(Some(err.to_string().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Params {
        a: i64,
        name: String,
    }

    #[test]
    fn structs_are_maps_and_round_trip() {
        let params = Params {
            a: 1,
            name: "x".into(),
        };
        let bytes = to_msgpack(&params).unwrap();
        // fixmap of 2: "a" => 1, "name" => "x"
        assert_eq!(bytes, b"\x82\xa1a\x01\xa4name\xa1x");
        assert_eq!(from_msgpack::<Params>(&bytes).unwrap(), params);
        // The §7 reply payload {"ok": true}.
        let ok: BTreeMap<String, bool> = from_msgpack(&[0x81, 0xA2, 0x6F, 0x6B, 0xC3]).unwrap();
        assert_eq!(ok.get("ok"), Some(&true));
    }

    #[test]
    fn decode_failures_are_invalid_params() {
        let err = from_msgpack::<Params>(b"\xc1").unwrap_err();
        assert_eq!(err.code(), -32602);
        assert!(err.message().is_some_and(|m| !m.is_empty()));
        assert_eq!(from_msgpack::<Params>(b"").unwrap_err().code(), -32602);
    }

    #[test]
    fn encode_failures_are_internal_errors() {
        // A map with non-string keys encodes fine; a failing Serialize impl is the only way to
        // make rmp-serde fail, so use one.
        struct Failing;
        impl Serialize for Failing {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        let err = to_msgpack(&Failing).unwrap_err();
        assert_eq!(err.code(), -32603);
        assert_eq!(err.message(), Some("nope"));
    }
}
