//! Who is on the other end of a connection: the facts fixed when it is accepted, carried
//! unchanged from the listener through the handshake into the client's registry entry.

use std::net::SocketAddr;
use std::sync::Arc;

use super::access::{PeerAddress, PeerCredentials};

/// How a client is connected to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// In the broker's process (inter-thread channels).
    Internal,
    /// Over a UNIX socket.
    LocalIpc,
    /// Over TCP.
    Tcp,
}

impl ClientKind {
    /// Every kind, in the order of their discriminants (`kind as usize`).
    pub const ALL: [ClientKind; 3] = [ClientKind::Internal, ClientKind::LocalIpc, ClientKind::Tcp];

    /// The name `client.list` reports (`internal`, `local_ipc`, `tcp`, as `busrtd` names them).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Internal => "internal",
            ClientKind::LocalIpc => "local_ipc",
            ClientKind::Tcp => "tcp",
        }
    }
}

/// The identity of one connection: one struct from accept to unregistration, so the client
/// table, the logs and the access rules all read the same facts.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) kind: ClientKind,
    /// The bind string of the listener that accepted the connection (the label of a served
    /// stream); `None` for in-process clients.
    pub(crate) listener: Option<Arc<str>>,
    /// The peer's address (TCP peers).
    pub(crate) address: Option<SocketAddr>,
    /// The peer's credentials (UNIX peers whose credentials could be read).
    pub(crate) credentials: Option<PeerCredentials>,
}

impl Peer {
    /// A client in the broker's own process: trusted, nothing to read.
    pub(crate) fn in_process() -> Peer {
        Peer {
            kind: ClientKind::Internal,
            listener: None,
            address: None,
            credentials: None,
        }
    }

    /// A UNIX-socket (or stream) peer accepted by `listener`.
    pub(crate) fn local(listener: Arc<str>, credentials: Option<PeerCredentials>) -> Peer {
        Peer {
            kind: ClientKind::LocalIpc,
            listener: Some(listener),
            address: None,
            credentials,
        }
    }

    /// A TCP peer at `address` accepted by `listener`.
    pub(crate) fn tcp(listener: Arc<str>, address: SocketAddr) -> Peer {
        Peer {
            kind: ClientKind::Tcp,
            listener: Some(listener),
            address: Some(address),
            credentials: None,
        }
    }

    /// The listener's bind string for the logs (`in-process` for in-process clients).
    pub(crate) fn label(&self) -> &str {
        self.listener.as_deref().unwrap_or("in-process")
    }

    /// What the access rules check a registration against.
    pub(crate) fn access_address(&self) -> PeerAddress<'_> {
        match self.address {
            Some(address) => PeerAddress::Tcp(address.ip()),
            None => PeerAddress::Unix(self.credentials.as_ref()),
        }
    }
}
