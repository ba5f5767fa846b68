//! [`CliError`]: why a command failed, reported as one line on stderr, and its exit code; how
//! RPC errors become such reports.

use std::fmt;
use std::process::ExitCode;

use super::render::hex;
use crate::rpc::{code_meaning, RpcError};
use crate::{Error, ErrorKind};

/// The classes of failure, each with its own exit code (listed in `elbus --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The remote RPC handler answered with an error reply: exit 1.
    Remote,
    /// Bad arguments (clap exits 2 on its own for what it checks): exit 2.
    Usage,
    /// The target (or a secondary's primary) is not registered: exit 3.
    NotRegistered,
    /// Connecting, an ACK or an RPC reply timed out: exit 4.
    Timeout,
    /// Anything else: the connection refused or lost, a taken name, an I/O error: exit 5.
    Other,
}

impl Failure {
    /// The process exit code of this class.
    pub fn code(self) -> u8 {
        match self {
            Failure::Remote => 1,
            Failure::Usage => 2,
            Failure::NotRegistered => 3,
            Failure::Timeout => 4,
            Failure::Other => 5,
        }
    }

    /// The class of a bus error.
    pub fn of_kind(kind: ErrorKind) -> Failure {
        match kind {
            ErrorKind::NotRegistered => Failure::NotRegistered,
            ErrorKind::Timeout => Failure::Timeout,
            _ => Failure::Other,
        }
    }
}

/// A failed command: its class and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    failure: Failure,
    message: String,
}

impl CliError {
    /// An error of `failure` class. Line breaks in `message` become spaces, so the report
    /// stays one line whatever a remote peer put in its error text.
    pub fn new(failure: Failure, message: impl fmt::Display) -> Self {
        let message = message
            .to_string()
            .split(['\r', '\n'])
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        CliError { failure, message }
    }

    /// A usage error.
    pub fn usage(message: impl fmt::Display) -> Self {
        CliError::new(Failure::Usage, message)
    }

    /// A bus error while doing `what` (e.g. `send to x`), classed by its kind.
    pub fn bus(what: impl fmt::Display, err: &Error) -> Self {
        let reason = match (err.kind(), err.message()) {
            (ErrorKind::NotRegistered, None) => "target not registered".to_owned(),
            (ErrorKind::Timeout, None) => "timed out".to_owned(),
            (ErrorKind::Eof, None) => "connection closed".to_owned(),
            _ => err.to_string(),
        };
        CliError::new(Failure::of_kind(err.kind()), format!("{what}: {reason}"))
    }

    /// A local I/O error while doing `what` (reading stdin, writing stdout).
    pub fn io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        CliError::new(Failure::Other, format!("{what}: {err}"))
    }

    /// The failure class.
    pub fn failure(&self) -> Failure {
        self.failure
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.failure.code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// An RPC failure while doing `what`: a bus error (no such target, timeout, connection lost)
/// is classed as such; anything else is the remote handler's error reply (exit 1), shown as
/// `RPC error CODE (meaning): data`.
pub(crate) fn rpc_error(what: impl std::fmt::Display, err: &RpcError) -> CliError {
    if let Some(kind) = err.bus_error_kind() {
        let bus = match err.message() {
            Some(message) if !message.is_empty() => Error::new(kind, message),
            _ => Error::from_kind(kind),
        };
        return CliError::bus(what, &bus);
    }
    let meaning = code_meaning(err.code())
        .map(|meaning| format!(" ({meaning})"))
        .unwrap_or_default();
    let data = match (err.message(), err.data()) {
        (Some(message), _) if !message.is_empty() => format!(": {message}"),
        (None, Some(data)) if !data.is_empty() => format!(": {}", hex(data)),
        _ => String::new(),
    };
    CliError::new(
        Failure::Remote,
        format!("{what}: RPC error {}{meaning}{data}", err.code()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            Failure::Remote,
            Failure::Usage,
            Failure::NotRegistered,
            Failure::Timeout,
            Failure::Other,
        ];
        let mut codes: Vec<u8> = all.iter().map(|f| f.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn bus_errors_are_classed_and_one_line() {
        let err = CliError::bus("send to x", &Error::not_registered());
        assert_eq!(err.failure(), Failure::NotRegistered);
        assert_eq!(err.message(), "send to x: target not registered");
        assert_eq!(
            CliError::bus("call", &Error::timeout()).failure(),
            Failure::Timeout
        );
        assert_eq!(
            CliError::bus("c", &Error::busy("name taken")).failure(),
            Failure::Other
        );
        let err = CliError::new(Failure::Remote, "line one\nline two\r\n");
        assert_eq!(err.message(), "line one line two");
    }

    #[test]
    fn rpc_errors_are_classed() {
        let err = rpc_error("call a m", &RpcError::method(None));
        assert_eq!(err.failure(), Failure::Remote);
        assert_eq!(
            err.message(),
            "call a m: RPC error -32601 (method not found)"
        );
        let err = rpc_error("c", &RpcError::with_message(-777, "boom\nagain"));
        assert_eq!(err.message(), "c: RPC error -777: boom again");
        let err = rpc_error("c", &RpcError::new(5, Some(vec![0xFF, 0x00])));
        assert_eq!(err.message(), "c: RPC error 5: ff00");
        let err = rpc_error("call x m", &RpcError::new(-32113, None));
        assert_eq!(err.failure(), Failure::NotRegistered);
        assert_eq!(err.message(), "call x m: target not registered");
        let err = rpc_error("c", &RpcError::with_message(-32120, "no reply within 5s"));
        assert_eq!(err.failure(), Failure::Timeout);
        assert_eq!(
            rpc_error("c", &RpcError::new(-32255, None)).failure(),
            Failure::Other
        );
    }
}
