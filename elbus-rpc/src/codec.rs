//! MessagePack helpers the generated code calls, and the static assertions it emits.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CodecError, RpcErrorCode, ServerError};

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

/// The wire form of `()`: an empty payload.
pub fn encode_unit() -> Vec<u8> {
    Vec::new()
}

/// Static assertion: `T` can travel as an RPC param (encoded by clients, decoded by servers).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an RPC param: it must implement `Serialize` and `DeserializeOwned`",
    label = "this param type is not (de)serializable",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or use an owned type such as `String` or `Vec<u8>`"
)]
pub trait RpcParam: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> RpcParam for T {}

/// Static assertion: `T` can travel as an RPC result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an RPC result: it must implement `Serialize` and `DeserializeOwned`",
    label = "this result type is not (de)serializable",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it"
)]
pub trait RpcResult: Serialize + DeserializeOwned {}
impl<T: Serialize + DeserializeOwned> RpcResult for T {}

/// Static assertion: `T` has a `Default` for `#[rpc(default)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `Default`, so `#[rpc(default)]` can't fill it in",
    label = "`#[rpc(default)]` needs this type to implement `Default`",
    note = "implement or derive `Default` for it, or drop `#[rpc(default)]` to make the param required"
)]
pub trait ParamDefault: Default {}
impl<T: Default> ParamDefault for T {}

/// Asserts `T: RpcParam`.
pub fn assert_param<T: RpcParam>() {}
/// Asserts `T: RpcResult`.
pub fn assert_result<T: RpcResult>() {}
/// Asserts `T: ParamDefault`.
pub fn assert_default<T: ParamDefault>() {}
/// Asserts `E: RpcErrorCode`.
pub fn assert_error<E: RpcErrorCode>() {}
