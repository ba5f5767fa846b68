//! What a `.broker` method answers with when it fails, and the reply helpers the methods share.

use serde::Serialize;

use crate::rpc::RPC_ERROR_CODE_INTERNAL as INTERNAL_ERROR;

/// An error answer of a `.broker` method: an RPC error code and an optional UTF-8 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodError {
    /// The RPC error code.
    pub code: i16,
    /// The message sent as error data (`None`: empty data).
    pub message: Option<String>,
}

impl MethodError {
    pub(crate) fn new(code: i16, message: Option<String>) -> Self {
        MethodError { code, message }
    }
}

/// Encodes a method's result as MessagePack, structs as maps.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, MethodError> {
    rmp_serde::to_vec_named(value)
        .map_err(|err| MethodError::new(INTERNAL_ERROR, Some(err.to_string())))
}

/// Whether `bytes` starts with a MessagePack map marker.
pub(super) fn is_msgpack_map(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}
