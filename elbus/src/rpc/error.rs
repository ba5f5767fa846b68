//! RPC error codes (`protocol.md` §9.2) and [`RpcError`], the error half of every RPC result.

use std::fmt;

use crate::{Error, ErrorKind};

/// -32700: the payload could not be parsed.
pub const RPC_ERROR_CODE_PARSE: i16 = -32700;
/// -32600: the request is invalid (for example a method name with a NUL in it).
pub const RPC_ERROR_CODE_INVALID_REQUEST: i16 = -32600;
/// -32601: no such method. Also what a handler without a matching method answers.
pub const RPC_ERROR_CODE_METHOD_NOT_FOUND: i16 = -32601;
/// -32602: the method's params are invalid (failed to decode).
pub const RPC_ERROR_CODE_INVALID_METHOD_PARAMS: i16 = -32602;
/// -32603: an internal error of the handler (also a result that failed to encode).
pub const RPC_ERROR_CODE_INTERNAL: i16 = -32603;
/// -32001: the thing asked for was not found (busrt's code, e.g. an unknown cursor).
pub const RPC_ERROR_CODE_NOT_FOUND: i16 = -32001;
/// Bus errors travel as `RPC_ERROR_CODE_BUS_BASE - wire code`: -32113 for a target that is not
/// registered, -32120 for a timeout, -32255 for a closed connection.
pub const RPC_ERROR_CODE_BUS_BASE: i16 = -32000;

/// What the standard codes above mean, in the words reports use: the one table of their names.
#[cfg(feature = "cli")]
const CODE_MEANINGS: [(i16, &str); 6] = [
    (RPC_ERROR_CODE_PARSE, "parse error"),
    (RPC_ERROR_CODE_INVALID_REQUEST, "invalid request"),
    (RPC_ERROR_CODE_METHOD_NOT_FOUND, "method not found"),
    (RPC_ERROR_CODE_INVALID_METHOD_PARAMS, "invalid params"),
    (RPC_ERROR_CODE_INTERNAL, "internal error"),
    (RPC_ERROR_CODE_NOT_FOUND, "not found"),
];

/// The meaning of a standard code (`method not found` for -32601), `None` for any other.
#[cfg(feature = "cli")]
pub(crate) fn code_meaning(code: i16) -> Option<&'static str> {
    CODE_MEANINGS
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, meaning)| *meaning)
}

/// The result of an RPC handler: `Ok(Some(bytes))` is the reply payload, `Ok(None)` an empty
/// reply, `Err` an error reply.
pub type RpcResult = Result<Option<Vec<u8>>, RpcError>;

/// An RPC error: an i16 code and optional data (by convention a UTF-8 message; the Python
/// clients decode it as UTF-8).
///
/// On the wire it is the error reply `12 id code(i16 LE) data`; empty data and `None` are the
/// same bytes, and a received error reply with empty data has `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    code: i16,
    data: Option<Vec<u8>>,
}

impl RpcError {
    /// An error with `code` and `data`.
    pub fn new(code: i16, data: Option<Vec<u8>>) -> Self {
        RpcError { code, data }
    }

    /// An error with `code` and a UTF-8 message as its data, the shape Python peers expect.
    pub fn with_message(code: i16, message: impl fmt::Display) -> Self {
        RpcError::new(code, Some(message.to_string().into_bytes()))
    }

    /// -32601, method not found.
    pub fn method(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_METHOD_NOT_FOUND, data)
    }

    /// -32602, invalid method params.
    pub fn params(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_INVALID_METHOD_PARAMS, data)
    }

    /// -32700, parse error.
    pub fn parse(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_PARSE, data)
    }

    /// -32600, invalid request.
    pub fn invalid(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_INVALID_REQUEST, data)
    }

    /// -32603, internal error.
    pub fn internal(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_INTERNAL, data)
    }

    /// -32001, not found.
    pub fn not_found(data: Option<Vec<u8>>) -> Self {
        RpcError::new(RPC_ERROR_CODE_NOT_FOUND, data)
    }

    /// The bus error `kind` as an RPC error (`-32000 - wire code`), with a message as data.
    pub fn bus(kind: ErrorKind, message: impl fmt::Display) -> Self {
        RpcError::with_message(bus_code(kind), message)
    }

    /// The error code.
    pub fn code(&self) -> i16 {
        self.code
    }

    /// The error data, if any.
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The data as text, if it is valid UTF-8 (the usual case).
    pub fn message(&self) -> Option<&str> {
        self.data().and_then(|data| std::str::from_utf8(data).ok())
    }

    /// Consumes the error, giving its data.
    pub fn into_data(self) -> Option<Vec<u8>> {
        self.data
    }

    /// The bus error kind this code stands for, if the code is in the bus range (-32113 ..
    /// -32255); `None` for application and JSON-RPC codes.
    ///
    /// A bus code means the call failed on the way (no such target, connection lost, timeout),
    /// unless a handler chose to return such a code itself.
    pub fn bus_error_kind(&self) -> Option<ErrorKind> {
        let wire = RPC_ERROR_CODE_BUS_BASE.checked_sub(self.code)?;
        let wire = u8::try_from(wire).ok()?;
        if wire <= crate::protocol::RESPONSE_OK {
            return None;
        }
        ErrorKind::from_code(wire)
    }

    /// Whether this is the timeout error (-32120).
    pub fn is_timeout(&self) -> bool {
        self.code == bus_code(ErrorKind::Timeout)
    }
}

/// `-32000 - wire code` of a bus error kind.
pub(crate) fn bus_code(kind: ErrorKind) -> i16 {
    RPC_ERROR_CODE_BUS_BASE - i16::from(kind.code())
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rpc error code: {}", self.code)?;
        match self.message() {
            Some(message) if !message.is_empty() => write!(f, ": {message}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for RpcError {}

impl From<Error> for RpcError {
    /// `-32000 - wire code`, as the original clients do. The bus error's message, if it has one,
    /// becomes the data; ACK codes carry none.
    fn from(err: Error) -> Self {
        RpcError::new(
            bus_code(err.kind()),
            err.message().map(|m| m.as_bytes().to_vec()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_errors_map_to_minus_32000_minus_code() {
        assert_eq!(RpcError::from(Error::not_registered()).code(), -32113);
        assert_eq!(RpcError::from(Error::not_registered()).data(), None);
        assert_eq!(RpcError::from(Error::timeout()).code(), -32120);
        assert_eq!(RpcError::from(Error::eof()).code(), -32255);
        assert_eq!(RpcError::from(Error::access("no")).code(), -32121);
        assert_eq!(RpcError::from(Error::access("no")).message(), Some("no"));
    }

    #[test]
    fn bus_kind_round_trips_and_app_codes_are_not_bus_errors() {
        for kind in [
            ErrorKind::NotRegistered,
            ErrorKind::Timeout,
            ErrorKind::Eof,
            ErrorKind::Access,
        ] {
            assert_eq!(RpcError::bus(kind, "x").bus_error_kind(), Some(kind));
        }
        for code in [
            -32000,
            -32001,
            -32601,
            -32700,
            0,
            5,
            -777,
            i16::MIN,
            i16::MAX,
        ] {
            assert_eq!(RpcError::new(code, None).bus_error_kind(), None, "{code}");
        }
        assert!(RpcError::bus(ErrorKind::Timeout, "t").is_timeout());
    }

    #[test]
    fn constructors_and_display() {
        assert_eq!(RpcError::method(None).code(), -32601);
        assert_eq!(RpcError::params(None).code(), -32602);
        assert_eq!(RpcError::parse(None).code(), -32700);
        assert_eq!(RpcError::invalid(None).code(), -32600);
        assert_eq!(RpcError::internal(None).code(), -32603);
        assert_eq!(RpcError::not_found(None).code(), -32001);
        assert_eq!(RpcError::method(None).to_string(), "rpc error code: -32601");
        assert_eq!(
            RpcError::with_message(-777, "boom").to_string(),
            "rpc error code: -777: boom"
        );
        assert_eq!(RpcError::new(1, Some(vec![0xff])).message(), None);
    }
}
