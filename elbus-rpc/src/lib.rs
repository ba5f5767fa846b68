//! Typed RPC over the elbus bus: the runtime behind `#[rpc]` traits.
//!
//! Users write a trait, annotate it with [`rpc`], and get three things:
//!
//! * the trait itself, unchanged in meaning (`&self` methods whose futures are `Send`);
//! * a server adapter `{Trait}Handler<S>` implementing [`RpcService`], mounted on an [`RpcRouter`];
//! * a client stub `{Trait}Client<T>` generic over an [`RpcTransport`], whose methods return an
//!   [`RpcCall`] builder (`client.add(1, 2).timeout(d).await`).
//!
//! ```
//! use elbus_rpc::{rpc, RpcError, RpcRouter, Loopback};
//!
//! #[derive(Debug, RpcError)]
//! pub enum CalcError {
//!     /// The result does not fit.
//!     #[rpc(code = 1001)]
//!     Overflow,
//! }
//!
//! #[rpc(namespace = "calc")]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
//! }
//!
//! struct Impl;
//! impl Calc for Impl {
//!     async fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
//!         a.checked_add(b).ok_or(CalcError::Overflow)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let router = RpcRouter::new().service(Impl.into_handler());
//! let client = CalcClient::new(Loopback::new(router), "svc.calc");
//! assert_eq!(client.add(1, 2).await.unwrap(), 3);
//! # }
//! ```
//!
//! The wire contract (params as a MessagePack map keyed by param name, bare MessagePack results,
//! errors as an `i16` code plus a UTF-8 message) is described in the repository's
//! `docs/typed-rpc.md` §4, with the attribute keys (§2) and how to call a service from Python.
//!
//! ## Over the bus
//!
//! * Client side: [`elbus::rpc::RpcClient`] implements [`RpcTransport`], so
//!   `CalcClient::new(rpc, "svc.calc")` calls the service registered as `svc.calc`.
//! * Server side: [`serve`] (or [`RouterHandlers`]) answers the requests an `RpcClient` receives
//!   with an [`RpcRouter`].
//! * Other transports implement [`RpcTransport`] (`call` and `notify`, optionally
//!   `default_timeout`) and convert their error replies with [`RawCallError::from_code`];
//!   [`Loopback`] runs a router in process.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bus;
mod client;
mod codec;
mod context;
mod error;
mod error_data;
mod loopback;
mod router;
mod schema;
mod transport;

pub use bus::{serve, RouterHandlers};
pub use client::RpcCall;
pub use context::RpcContext;
pub use error::{
    is_reserved_code, CallError, CodecError, RawCallError, RpcErrorCode, ServerError,
    TransportError, CODE_INTERNAL_ERROR, CODE_INVALID_PARAMS, CODE_INVALID_REQUEST,
    CODE_METHOD_NOT_FOUND, CODE_PARSE_ERROR, CODE_TIMEOUT, RESERVED_CODES,
};
pub use error_data::{split_error_text, ERROR_DATA_MARKER};
pub use loopback::Loopback;
pub use router::{BoxFuture, RouterError, RpcRouter, RpcService, DESCRIBE_METHOD};
pub use schema::{ErrorSchema, ErrorTypeSchema, MethodSchema, ParamSchema, ServiceSchema};
pub use transport::{DefaultTransport, RpcTransport, DEFAULT_TIMEOUT};

/// Turns a trait into a typed RPC service: the trait, a `{Trait}Handler<S>` and a `{Trait}Client<T>`.
///
/// See the crate documentation, and the repository's `docs/typed-rpc.md` §2 for the attribute keys.
pub use elbus_macros::rpc;

/// Derives [`RpcErrorCode`] for a service error enum; every variant needs `#[rpc(code = N)]`.
///
/// Unit variants and variants holding one `String` round-trip through the code and a UTF-8
/// message. Codes must fit in `i16` and stay outside the reserved range −32768..=−32000.
pub use elbus_macros::RpcError;

/// Re-exports used by the code `#[rpc]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::client::RpcCall;
    pub use crate::error::RpcErrorCode;
    pub use crate::error_data::{decode_error_fields, encode_error_text};
    pub use crate::codec::{
        assert_result_decode, decode_params, decode_value, encode_unit, encode_value, ResultEncode,
    };
    pub use ::core;
    pub use ::rmp_serde;
    pub use ::serde;
    pub use ::std;

    /// `Option::is_none` spelled with an absolute path for generated serde attributes.
    pub fn is_none<T>(value: &::core::option::Option<T>) -> bool {
        value.is_none()
    }
}
