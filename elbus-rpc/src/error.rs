//! Error types: service error codes ([`RpcErrorCode`]), what a client call can fail with
//! ([`CallError`]), what a transport reports ([`RawCallError`]) and what dispatch returns
//! ([`ServerError`]).

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::ops::RangeInclusive;

use crate::schema::ErrorSchema;

/// JSON-RPC "parse error" (also a MessagePack decode failure).
pub const CODE_PARSE_ERROR: i16 = elbus::rpc::RPC_ERROR_CODE_PARSE;
/// JSON-RPC "invalid request".
pub const CODE_INVALID_REQUEST: i16 = elbus::rpc::RPC_ERROR_CODE_INVALID_REQUEST;
/// JSON-RPC "method not found".
pub const CODE_METHOD_NOT_FOUND: i16 = elbus::rpc::RPC_ERROR_CODE_METHOD_NOT_FOUND;
/// JSON-RPC "invalid params": the params failed to decode on the server.
pub const CODE_INVALID_PARAMS: i16 = elbus::rpc::RPC_ERROR_CODE_INVALID_METHOD_PARAMS;
/// JSON-RPC "internal error" (for example a result that failed to encode).
pub const CODE_INTERNAL_ERROR: i16 = elbus::rpc::RPC_ERROR_CODE_INTERNAL;
/// The bus-level timeout (`-32000 - 0x78`).
pub const CODE_TIMEOUT: i16 =
    elbus::rpc::RPC_ERROR_CODE_BUS_BASE - elbus::protocol::ERR_TIMEOUT as i16;
/// The server refused the call because it already runs its `max_in_flight` calls
/// (`-32000 - 0x76`, the bus "busy" code); retry later. Clients see it as a transport error.
pub const CODE_BUSY: i16 = elbus::rpc::RPC_ERROR_CODE_BUS_BASE - elbus::protocol::ERR_BUSY as i16;
/// Codes reserved for the protocol and the bus; service errors must stay outside.
pub const RESERVED_CODES: RangeInclusive<i16> = -32768..=-32000;

/// Bus-level errors are reported as `-32000 - kind`; the kinds the protocol knows lie here.
const BUS_CODES: RangeInclusive<i16> = -32255..=-32101;

/// `true` when `code` lies in the reserved range −32768..=−32000.
pub const fn is_reserved_code(code: i16) -> bool {
    code <= -32000
}

/// A service error type with stable wire codes. Derive it with `#[derive(RpcError)]`.
///
/// The wire form of an error is its [`code`](Self::code) plus its
/// [`wire_message`](Self::wire_message) as UTF-8: the human [`message`](Self::message), and for
/// a variant with fields an `rpc-data:` line carrying them (see [`split_error_text`](crate::split_error_text));
/// [`from_code`](Self::from_code) rebuilds the value on the client from that text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an RPC error type: it must implement `RpcErrorCode`",
    label = "this error type has no RPC error codes",
    note = "add `#[derive(elbus_rpc::RpcError)]` to `{Self}` and give each variant `#[rpc(code = N)]`"
)]
pub trait RpcErrorCode: Sized {
    /// Every variant with its code, for the service schema.
    const ERRORS: &'static [ErrorSchema];
    /// The wire code of this error (outside the reserved range).
    fn code(&self) -> i16;
    /// The human-readable message of this error (the first line of the wire text).
    fn message(&self) -> String;
    /// The UTF-8 text sent with the code: [`message`](Self::message), followed by an
    /// `rpc-data:` line when the variant carries fields. Defaults to the message alone.
    fn wire_message(&self) -> String {
        self.message()
    }
    /// Rebuilds the error from a wire code and the text sent with it (a plain message, or one
    /// with an `rpc-data:` line); `None` for codes this type doesn't know, or fields that don't
    /// decode.
    fn from_code(code: i16, message: &str) -> Option<Self>;
}

impl RpcErrorCode for Infallible {
    const ERRORS: &'static [ErrorSchema] = &[];
    fn code(&self) -> i16 {
        match *self {}
    }
    fn message(&self) -> String {
        match *self {}
    }
    fn from_code(_code: i16, _message: &str) -> Option<Self> {
        None
    }
}

/// A MessagePack encode or decode failure, with rmp-serde's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    message: String,
}

impl CodecError {
    /// A codec error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {}

impl From<rmp_serde::decode::Error> for CodecError {
    fn from(e: rmp_serde::decode::Error) -> Self {
        Self::new(e.to_string())
    }
}

impl From<rmp_serde::encode::Error> for CodecError {
    fn from(e: rmp_serde::encode::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// The bus itself failed: the target is not registered, the frame was not delivered, I/O…
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    code: Option<i16>,
    message: Cow<'static, str>,
}

impl TransportError {
    /// A transport failure described by a message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: None,
            message: message.into(),
        }
    }

    /// A bus-level failure reported as the RPC code `-32000 - kind`.
    pub fn bus(code: i16) -> Self {
        let message = match code {
            -32113 => "target not registered",
            -32114 => "bus data error",
            -32115 => "bus I/O error",
            -32116 => "bus error",
            -32117 => "not supported by the bus",
            -32118 => "bus busy",
            -32119 => "not delivered",
            -32120 => "bus timeout",
            -32121 => "access denied",
            -32255 => "connection closed",
            _ => "bus error",
        };
        Self {
            code: Some(code),
            message: Cow::Borrowed(message),
        }
    }

    /// The bus error code, when the failure came with one.
    pub fn code(&self) -> Option<i16> {
        self.code
    }

    /// A description of the failure.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} (code {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TransportError {}

/// How a byte-level call failed, as an [`RpcTransport`](crate::RpcTransport) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCallError {
    /// The target answered with an error reply: `code` and the raw `data` (usually UTF-8).
    Remote {
        /// The error code of the reply.
        code: i16,
        /// The error payload (empty when there was none).
        data: Vec<u8>,
    },
    /// The deadline passed before a reply arrived.
    Timeout,
    /// The bus failed before the target could answer.
    Transport(TransportError),
}

impl RawCallError {
    /// Classifies a byte layer's `(code, data)` error: −32120 is a timeout, the other
    /// `-32000 - kind` bus codes are transport failures, everything else came from the target.
    pub fn from_code(code: i16, data: Option<Vec<u8>>) -> Self {
        if code == CODE_TIMEOUT {
            Self::Timeout
        } else if BUS_CODES.contains(&code) {
            Self::Transport(TransportError::bus(code))
        } else {
            Self::Remote {
                code,
                data: data.unwrap_or_default(),
            }
        }
    }

    /// Turns the failure into the client's typed [`CallError`], rebuilding `E` when the code is its.
    pub fn into_call_error<E: RpcErrorCode>(self) -> CallError<E> {
        match self {
            Self::Timeout => CallError::Timeout,
            Self::Transport(e) => CallError::Transport(e),
            Self::Remote { code, data } => {
                let message = match String::from_utf8(data) {
                    Ok(s) => s,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                };
                match code {
                    CODE_METHOD_NOT_FOUND => CallError::MethodNotFound,
                    CODE_INVALID_PARAMS => CallError::InvalidParams(message),
                    _ if !is_reserved_code(code) => match E::from_code(code, &message) {
                        Some(e) => CallError::App(e),
                        None => CallError::Remote { code, message },
                    },
                    _ => CallError::Remote { code, message },
                }
            }
        }
    }
}

impl fmt::Display for RawCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Remote { code, data } => {
                write!(f, "rpc error {code}: {}", String::from_utf8_lossy(data))
            }
            Self::Timeout => f.write_str("rpc timeout"),
            Self::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl std::error::Error for RawCallError {}

/// Why a typed client call failed. `E` is the service's own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError<E> {
    /// The service returned its typed error.
    App(E),
    /// The deadline passed.
    Timeout,
    /// The target has no such method (−32601).
    MethodNotFound,
    /// The params failed to decode on the server (−32602), with the server's message.
    InvalidParams(String),
    /// An error code the client doesn't recognise (forward compatibility).
    Remote {
        /// The error code.
        code: i16,
        /// The UTF-8 message (lossily decoded).
        message: String,
    },
    /// The bus itself failed.
    Transport(TransportError),
    /// The reply couldn't be decoded into the method's result type.
    Decode(CodecError),
    /// The arguments couldn't be encoded (a `Serialize` impl failed).
    Encode(CodecError),
}

impl<E> CallError<E> {
    /// The service's typed error, if that is what the call failed with.
    pub fn app(&self) -> Option<&E> {
        match self {
            Self::App(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: RpcErrorCode> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::App(e) => write!(f, "service error {}: {}", e.code(), e.message()),
            Self::Timeout => f.write_str("rpc timeout"),
            Self::MethodNotFound => f.write_str("method not found"),
            Self::InvalidParams(m) => write!(f, "invalid params: {m}"),
            Self::Remote { code, message } => write!(f, "rpc error {code}: {message}"),
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Decode(e) => write!(f, "cannot decode the reply: {e}"),
            Self::Encode(e) => write!(f, "cannot encode the params: {e}"),
        }
    }
}

impl<E: RpcErrorCode + fmt::Debug> std::error::Error for CallError<E> {}

/// An error reply produced by dispatch: the byte layer sends `code` and `data` back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    code: i16,
    data: Vec<u8>,
}

impl ServerError {
    /// An error reply with this code and payload.
    pub fn new(code: i16, data: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            data: data.into(),
        }
    }

    /// −32601 for a method nobody serves.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(CODE_METHOD_NOT_FOUND, format!("method not found: {method}"))
    }

    /// −32602 for params that failed to decode.
    pub fn invalid_params(message: impl fmt::Display) -> Self {
        Self::new(CODE_INVALID_PARAMS, message.to_string())
    }

    /// −32603 for a failure inside the server (for example a result that failed to encode).
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(CODE_INTERNAL_ERROR, message.to_string())
    }

    /// The wire form of a service's typed error.
    pub fn from_app<E: RpcErrorCode>(error: &E) -> Self {
        Self::new(error.code(), error.wire_message())
    }

    /// The error code.
    pub fn code(&self) -> i16 {
        self.code
    }

    /// The error payload (a UTF-8 message).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Splits into `(code, data)`.
    pub fn into_parts(self) -> (i16, Vec<u8>) {
        (self.code, self.data)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rpc error {}: {}",
            self.code,
            String::from_utf8_lossy(&self.data)
        )
    }
}

impl std::error::Error for ServerError {}

impl From<ServerError> for RawCallError {
    fn from(e: ServerError) -> Self {
        let (code, data) = e.into_parts();
        Self::Remote { code, data }
    }
}
