//! MessagePack helpers the generated code calls, and the static assertions it emits.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CodecError, ServerError};

/// An empty MessagePack map: what an empty payload or nil means for params.
const EMPTY_MAP: &[u8] = &[0x80];
/// MessagePack nil: what an empty reply means for a result.
const NIL: &[u8] = &[0xc0];

/// Decodes a params payload (a map, an array, nil or empty) into the generated params struct.
pub fn decode_params<P: DeserializeOwned>(method: &str, params: &[u8]) -> Result<P, ServerError> {
    let params = if params.is_empty() || params == NIL {
        EMPTY_MAP
    } else {
        params
    };
    rmp_serde::from_slice(params)
        .map_err(|e| ServerError::invalid_params(format_args!("invalid params for {method}: {e}")))
}

/// Decodes a reply payload; an empty payload reads as nil (so `()` and `None` accept it).
pub fn decode_value<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let payload = if payload.is_empty() { NIL } else { payload };
    rmp_serde::from_slice(payload).map_err(CodecError::from)
}

/// Encodes a result (or params) as MessagePack, structs as maps keyed by field name.
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    rmp_serde::to_vec_named(value).map_err(CodecError::from)
}

/// Decodes a reply payload of a `#[rpc(bytes)]` result: MessagePack `bin` (an array of
/// integers, or a string, is accepted too, as serde_bytes reads them); empty reads as nil.
pub fn decode_bytes<T: for<'de> serde_bytes::Deserialize<'de>>(
    payload: &[u8],
) -> Result<T, CodecError> {
    let payload = if payload.is_empty() { NIL } else { payload };
    let mut de = rmp_serde::Deserializer::from_read_ref(payload);
    serde_bytes::deserialize(&mut de).map_err(CodecError::from)
}

/// Encodes a `#[rpc(bytes)]` result as MessagePack `bin`.
pub fn encode_bytes<T: serde_bytes::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    struct AsBin<'a, T: ?Sized>(&'a T);
    impl<T: serde_bytes::Serialize + ?Sized> Serialize for AsBin<'_, T> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serde_bytes::Serialize::serialize(self.0, serializer)
        }
    }
    encode_value(&AsBin(value))
}

/// The wire form of `()`: an empty payload.
pub fn encode_unit() -> Vec<u8> {
    Vec::new()
}

/// Names `T` when the server can encode it as a result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an RPC result: the server can't encode it (no `serde::Serialize`)",
    label = "this result type does not implement `Serialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait ResultEncode {
    /// `T` itself.
    type Type: ?Sized;
}
impl<T: Serialize + ?Sized> ResultEncode for T {
    type Type = T;
}

/// Static assertion: the client can decode `T` as a result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an RPC result: the client can't decode it (no `serde::Deserialize`)",
    label = "this result type does not implement `Deserialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait ResultDecode {}
impl<T: DeserializeOwned> ResultDecode for T {}

/// Asserts `T: ResultDecode`.
pub fn assert_result_decode<T: ResultDecode>() {}

/// Static assertion: the server can decode `T` as a param.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an RPC param: the server can't decode it (no `serde::Deserialize`)",
    label = "this param type does not implement `Deserialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait ParamDecode {}
impl<T: DeserializeOwned> ParamDecode for T {}

/// Asserts `T: ParamDecode`.
pub fn assert_param_decode<T: ParamDecode>() {}
