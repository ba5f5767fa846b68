//! The byte RPC layer (`protocol.md` §9): calls, replies, errors and notifications carried in
//! one-to-one messages, wire-compatible with the busrt/elbus clients in Rust and Python.
//!
//! * [`RpcClient`] wraps any [`AsyncClient`](crate::AsyncClient), socket or in-process. It
//!   [`call`](RpcClient::call)s (bounded by a timeout; a timed-out or dropped call leaves
//!   nothing behind), [`call0`](RpcClient::call0)s (no reply) and [`notify`](RpcClient::notify)s,
//!   and serves incoming requests with your [`RpcHandlers`].
//! * [`RpcEvent`] is a received notification, request, reply or error reply; its accessors borrow
//!   from the frame.
//! * [`RpcError`] is an i16 code with optional data; bus failures become `-32000 - code`
//!   (-32113: no such target, -32120: timeout, -32255: connection closed).
//! * [`to_msgpack`] and [`from_msgpack`] encode and decode params and results the way every
//!   peer expects, with failures already mapped to -32603 and -32602.
//!
//! Params, results and error data are opaque bytes on the wire; MessagePack is the convention,
//! and error data is by convention a UTF-8 message (the Python clients decode it as such).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use elbus::broker::Broker;
//! use elbus::rpc::{self, RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
//! use elbus::QoS;
//!
//! struct Greeter;
//!
//! impl RpcHandlers for Greeter {
//!     async fn handle_call(&self, event: RpcEvent) -> RpcResult {
//!         match event.parse_method()? {
//!             "hello" => {
//!                 let name: String = rpc::from_msgpack(event.payload())?;
//!                 Ok(Some(rpc::to_msgpack(&format!("hello, {name}"))?))
//!             }
//!             _ => Err(RpcError::method(None)),
//!         }
//!     }
//! }
//!
//! let broker = Broker::new();
//! let _server = RpcClient::new(broker.register_client("greeter")?, Greeter)?;
//! let caller = RpcClient::new(broker.register_client("caller")?, rpc::DummyHandlers)?;
//! let reply = caller
//!     .call("greeter", "hello", &rpc::to_msgpack("bus")?, QoS::Processed)
//!     .await?;
//! let text: String = rpc::from_msgpack(reply.payload())?;
//! assert_eq!(text, "hello, bus");
//! # Ok(()) }
//! ```

mod client;
mod error;
mod faults;
mod handlers;
#[cfg(any(feature = "cli", feature = "broker-api"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "cli", feature = "broker-api"))))]
pub mod kv;
mod msgpack;
mod payload;

pub use client::{RpcClient, RpcOptions, RpcStats, DEFAULT_CALL_TIMEOUT};
#[cfg(feature = "broker-api")]
pub(crate) use error::bus_code;
#[cfg(feature = "cli")]
pub(crate) use error::code_meaning;
pub use error::{
    RpcError, RpcResult, RPC_ERROR_CODE_BUS_BASE, RPC_ERROR_CODE_INTERNAL,
    RPC_ERROR_CODE_INVALID_METHOD_PARAMS, RPC_ERROR_CODE_INVALID_REQUEST,
    RPC_ERROR_CODE_METHOD_NOT_FOUND, RPC_ERROR_CODE_NOT_FOUND, RPC_ERROR_CODE_PARSE,
};
pub use handlers::{DummyHandlers, RpcHandlers};

/// The primary name of the client a broker's `unreg` announcement on
/// [`INFO_TOPIC`](crate::protocol::INFO_TOPIC) is about, if `frame` is one (a server uses it to
/// stop the calls of a caller that left).
pub fn unregistered_client(frame: &crate::Frame) -> Option<&str> {
    faults::unregistered(frame)
}
pub use msgpack::{from_msgpack, to_msgpack};
pub use payload::{InvalidPayload, RpcEvent, RpcEventKind};

/// The topic of registration announcements, under the name it had here before it moved to
/// [`protocol`](crate::protocol).
#[deprecated(note = "use `elbus::protocol::INFO_TOPIC`, the one name of `.broker/info`")]
pub const ANNOUNCEMENT_TOPIC: &str = crate::protocol::INFO_TOPIC;
