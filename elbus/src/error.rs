//! Errors of the bus, and their one-byte wire result codes.

use std::fmt;

use crate::protocol;

/// What went wrong, as far as the bus is concerned.
///
/// Every kind maps to the one-byte result code used on the wire in registration answers and ACK
/// frames (`protocol.md` §4.3), so an error raised by the broker travels to the client unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `0x71`: the target (or the primary of a secondary) is not registered.
    NotRegistered,
    /// `0x72`: malformed data: a bad name, a broken frame, an unknown op.
    Data,
    /// `0x73`: an I/O error.
    Io,
    /// `0x74`: any other error.
    Other,
    /// `0x75`: the operation or protocol version is not supported.
    NotSupported,
    /// `0x76`: the name is already registered.
    Busy,
    /// `0x77`: the frame was not delivered (the target's queue was full).
    NotDelivered,
    /// `0x78`: an operation timed out.
    Timeout,
    /// `0x79`: access denied.
    Access,
    /// `0xFF`: the connection was closed.
    Eof,
}

impl ErrorKind {
    /// The wire result code of this kind.
    pub fn code(self) -> u8 {
        match self {
            ErrorKind::NotRegistered => protocol::ERR_CLIENT_NOT_REGISTERED,
            ErrorKind::Data => protocol::ERR_DATA,
            ErrorKind::Io => protocol::ERR_IO,
            ErrorKind::Other => protocol::ERR_OTHER,
            ErrorKind::NotSupported => protocol::ERR_NOT_SUPPORTED,
            ErrorKind::Busy => protocol::ERR_BUSY,
            ErrorKind::NotDelivered => protocol::ERR_NOT_DELIVERED,
            ErrorKind::Timeout => protocol::ERR_TIMEOUT,
            ErrorKind::Access => protocol::ERR_ACCESS,
            ErrorKind::Eof => protocol::ERR_EOF,
        }
    }

    /// Decodes a wire result code; `None` for `0x01` (OK). Unknown codes decode as [`Other`].
    ///
    /// [`Other`]: ErrorKind::Other
    pub fn from_code(code: u8) -> Option<ErrorKind> {
        Some(match code {
            protocol::RESPONSE_OK => return None,
            protocol::ERR_CLIENT_NOT_REGISTERED => ErrorKind::NotRegistered,
            protocol::ERR_DATA => ErrorKind::Data,
            protocol::ERR_IO => ErrorKind::Io,
            protocol::ERR_NOT_SUPPORTED => ErrorKind::NotSupported,
            protocol::ERR_BUSY => ErrorKind::Busy,
            protocol::ERR_NOT_DELIVERED => ErrorKind::NotDelivered,
            protocol::ERR_TIMEOUT => ErrorKind::Timeout,
            protocol::ERR_ACCESS => ErrorKind::Access,
            protocol::ERR_EOF => ErrorKind::Eof,
            _ => ErrorKind::Other,
        })
    }

    /// The text the original broker logs for this kind (`protocol.md` §11).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotRegistered => "Client not registered",
            ErrorKind::Data => "Data Error",
            ErrorKind::Io => "I/O Error",
            ErrorKind::Other => "Error",
            ErrorKind::NotSupported => "Feature not supported",
            ErrorKind::Busy => "Busy",
            ErrorKind::NotDelivered => "Frame not delivered",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Access => "Access denied",
            ErrorKind::Eof => "Eof",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bus error: a kind (which has a wire code) and an optional message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: Option<String>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Error {
            kind,
            message: Some(message.to_string()),
        }
    }

    /// An error of `kind` without a message.
    pub fn from_kind(kind: ErrorKind) -> Self {
        Error {
            kind,
            message: None,
        }
    }

    /// Decodes an ACK or registration result code: `Ok(())` for `0x01`.
    pub fn check_code(code: u8) -> Result<(), Error> {
        match ErrorKind::from_code(code) {
            None => Ok(()),
            Some(kind) => Err(Error::from_kind(kind)),
        }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// A [`ErrorKind::Data`] error.
    pub fn data(message: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Data, message)
    }

    /// A [`ErrorKind::Io`] error.
    pub fn io(message: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Io, message)
    }

    /// A [`ErrorKind::Timeout`] error.
    pub fn timeout() -> Self {
        Error::from_kind(ErrorKind::Timeout)
    }

    /// A [`ErrorKind::NotSupported`] error.
    pub fn not_supported(message: impl fmt::Display) -> Self {
        Error::new(ErrorKind::NotSupported, message)
    }

    /// A [`ErrorKind::Busy`] error.
    pub fn busy(message: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Busy, message)
    }

    /// A [`ErrorKind::NotRegistered`] error.
    pub fn not_registered() -> Self {
        Error::from_kind(ErrorKind::NotRegistered)
    }

    /// A [`ErrorKind::Access`] error.
    pub fn access(message: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Access, message)
    }

    /// A [`ErrorKind::Eof`] error: the connection is closed.
    pub fn eof() -> Self {
        Error::from_kind(ErrorKind::Eof)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "{}: {}", self.kind, message),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::from_kind(kind)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        match err.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted => Error::new(ErrorKind::Eof, err),
            std::io::ErrorKind::TimedOut => Error::new(ErrorKind::Timeout, err),
            _ => Error::new(ErrorKind::Io, err),
        }
    }
}

impl From<tokio::time::error::Elapsed> for Error {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Error::timeout()
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(err: std::str::Utf8Error) -> Self {
        Error::data(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in [
            ErrorKind::NotRegistered,
            ErrorKind::Data,
            ErrorKind::Io,
            ErrorKind::NotSupported,
            ErrorKind::Busy,
            ErrorKind::NotDelivered,
            ErrorKind::Timeout,
            ErrorKind::Access,
            ErrorKind::Eof,
        ] {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0x01), None);
        assert_eq!(ErrorKind::from_code(0x42), Some(ErrorKind::Other));
        assert_eq!(ErrorKind::NotRegistered.code(), 0x71);
        assert_eq!(ErrorKind::Access.code(), 0x79);
    }

    #[test]
    fn display_matches_original_log_text() {
        let err = Error::busy("the client is already registered: x");
        assert_eq!(err.to_string(), "Busy: the client is already registered: x");
        assert_eq!(Error::timeout().to_string(), "Timeout");
    }
}
