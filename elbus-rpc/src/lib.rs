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
//! ## Attribute keys
//!
//! Every key `#[rpc(..)]` and `#[derive(RpcError)]` accept; any other key is a compile error.
//!
//! | on | key | example |
//! |---|---|---|
//! | trait | `namespace` | `#[rpc(namespace = "calc")]`: wire names `calc.add`, .. |
//! | trait | `namespace_separator` | `#[rpc(namespace = "calc", namespace_separator = "/")]` |
//! | trait | `rename_all` | `#[rpc(rename_all = "camelCase")]` (also `snake_case`, `PascalCase`, `kebab-case`, `SCREAMING_SNAKE_CASE`, `lowercase`) |
//! | trait | `version` | `#[rpc(version = "1.2")]`, shown by `rpc.describe` |
//! | trait | `timeout` | `#[rpc(timeout = "5s")]` (`ms`, `s`, `m`/`min`, `h`) |
//! | trait | `crate` | `#[rpc(crate = "::my_reexport::elbus_rpc")]` |
//! | trait | `server` | `#[rpc(server = false)]`: no `{Trait}Handler` |
//! | trait | `client` | `#[rpc(client = false)]`: no `{Trait}Client` |
//! | trait | `deny_unknown_params` | `#[rpc(deny_unknown_params)]`: unknown param keys are -32602 |
//! | trait, method | `meta` | `#[rpc(meta(owner = "ops"))]`, shown by `rpc.describe` |
//! | method | `name` | `#[rpc(name = "sum_all")] async fn sum(..)` |
//! | method | `aliases` | `#[rpc(aliases = ["sum"])] async fn sum(..)` |
//! | method | `notify` | `#[rpc(notify)] async fn reset(&self);`: call id 0, no reply |
//! | method | `timeout` | `#[rpc(timeout = "30s")] async fn slow(..)` |
//! | trait | `events` | `#[rpc(events = CalcEvent)]`: `rpc.describe` lists the [`RpcEvent`] enum's topics |
//! | method | `stream` | `#[rpc(stream)] fn history(&self, n: u32) -> impl Stream<Item = Result<T, E>> + Send;`: a pull stream |
//! | method | `bytes` | `#[rpc(bytes)] async fn read(..) -> Result<Vec<u8>, E>`: the `Ok` result as MessagePack `bin`; `bytes = false` silences the hint a plain `Vec<u8>` result gets |
//! | param | `rename` | `#[rpc(rename = "who")] name: String` (the Rust name stays an alias) |
//! | param | `alias` | `#[rpc(alias = "n")] name: String` (repeatable) |
//! | param | `default` | `#[rpc(default)] scale: i64`: missing means `Default::default()` |
//! | param | `bytes` | `#[rpc(bytes)] data: Vec<u8>`: MessagePack `bin` (Python `bytes`); `bytes = false` silences the hint a plain `Vec<u8>` gets |
//! | param | `context` | `#[rpc(context)] ctx: &RpcContext` (implied by the type): not on the wire |
//! | error enum | `crate` | `#[rpc(crate = "::my_reexport::elbus_rpc")]` |
//! | error variant | `code` | `#[rpc(code = 1001)] Overflow` (required, outside −32768..=−32000) |
//! | event enum | `namespace` | `#[derive(RpcEvent)] #[rpc(namespace = "calc")] enum CalcEvent { Added { sum: i64 } }`: topic `calc/added` |
//! | event variant | `topic` | `#[rpc(topic = "calc/room/{room}")] Room { room: String, total: i64 }` |
//! | error variant | `message` | `#[rpc(code = 10, message = "value {value} out of range {min}..{max}")] OutOfRange { value: i64, min: i64, max: i64 }` |
//!
//! The full rules (wire names, what each key does on the wire) are in the repository's
//! `docs/typed-rpc.md` §2–§4.
//!
//! ## Errors that carry data
//!
//! A variant's fields reach the Rust caller with it: the error text is the message, then for a
//! variant with fields an `rpc-data:` line with the hex of their MessagePack ([`split_error_text`]).
//!
//! ```
//! use elbus_rpc::{RpcError, RpcErrorCode};
//!
//! #[derive(Debug, PartialEq, RpcError)]
//! pub enum GaugeError {
//!     #[rpc(code = 10, message = "value {value} out of range {min}..{max}")]
//!     OutOfRange { value: i64, min: i64, max: i64 },
//!     /// The device failed.
//!     #[rpc(code = 11)]
//!     Io(String),
//! }
//!
//! let e = GaugeError::OutOfRange { value: 12, min: 0, max: 10 };
//! assert_eq!(e.message(), "value 12 out of range 0..10");
//! let wire = e.wire_message();
//! assert!(wire.starts_with("value 12 out of range 0..10\nrpc-data: "));
//! assert_eq!(GaugeError::from_code(10, &wire), Some(e));
//! // A lone `String` field is the message itself, as before.
//! assert_eq!(GaugeError::from_code(11, "disk gone"), Some(GaugeError::Io("disk gone".into())));
//! ```
//!
//! ## Over the bus
//!
//! * Client side: [`elbus::rpc::RpcClient`] implements [`RpcTransport`], so
//!   `CalcClient::new(rpc, "svc.calc")` calls the service registered as `svc.calc`.
//! * Server side: [`serve`] (or [`RouterHandlers`]) answers the requests an `RpcClient` receives
//!   with an [`RpcRouter`]. **Keep what `serve` returns**: dropping it stops the service (it is
//!   `#[must_use]`); a server's `main` awaits [`RpcClient::closed`](elbus::rpc::RpcClient::closed):
//!
//! ```no_run
//! # async fn demo(router: elbus_rpc::RpcRouter) -> Result<(), elbus::Error> {
//! let bus = elbus::ipc::Client::connect(&elbus::ipc::Config::new("/tmp/elbus.sock", "svc.calc")).await?;
//! let server = elbus_rpc::serve(bus, router)?;
//! eprintln!("stopped: {}", server.closed().await);
//! # Ok(()) }
//! ```
//!
//! * Other transports implement [`RpcTransport`] (`call` and `notify`, optionally
//!   `default_timeout`, `call_qos`, `notify_qos`) and convert their error replies with
//!   [`RawCallError::from_code`]; [`Loopback`] runs a router in process.
//!
//! ## Events and streams
//!
//! * `#[derive(RpcEvent)]` makes an enum's variants topics whose payload is a MessagePack map of
//!   the fields; publish with [`RpcBus::publish`], [`publish_event`] or, in a handler,
//!   [`RpcContext::publish`]; receive with [`RpcBus::subscribe`] (an [`EventReceiver`] that
//!   resolves after the broker's ACK, filters with [`EventFilter`] and reports overflow as
//!   [`RecvError::Lagged`]).
//! * [`RpcBus`] serves a router, calls (it is an [`RpcTransport`]) and receives events on one
//!   connection.
//! * `#[rpc(stream)]` methods are pull streams on the wire of busrt cursors ([`CURSOR_NEXT`],
//!   [`CURSOR_NEXT_BATCH`], [`CURSOR_CLOSE`], [`CODE_CURSOR_NOT_FOUND`]); the client gets a
//!   [`PullStream`]; [`PullStream::push`] opens the same method as a push stream with credit
//!   ([`PushStream`], [`PUSH_OPEN`]); the router's [`StreamLimits`] bound both. Wire contract:
//!   the repository's `docs/typed-rpc.md` §8–§10.
//!
//! ## Deadlines, limits, QoS
//!
//! * [`RpcCall::send_deadline`] sends the call's timeout to the server (the reserved params key
//!   [`TIMEOUT_KEY`]); the handler sees it as [`RpcContext::deadline`]. The router drops a
//!   handler future when the deadline passes or the caller leaves the bus, and answers −32120;
//!   [`RpcContext::cancelled`] signals the same moment. [`Loopback`] behaves alike.
//! * [`RpcRouter::max_in_flight`] refuses calls beyond a limit with −32118 ([`CODE_BUSY`]).
//! * [`RpcCall::qos`] sends one call with another QoS than [`DEFAULT_QOS`].
//!
//! ## Middleware, tracing, blocking callers
//!
//! * [`RpcRouter::layer`] wraps every served call in an [`RpcMiddleware`]; on the client, wrap a
//!   transport in your own [`RpcTransport`].
//! * The `tracing` cargo feature opens `rpc.client` and `rpc.server` spans (method, peer, code,
//!   duration).
//! * [`blocking::BlockingRuntime`] makes typed calls from code without an async runtime.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod blocking;
mod bus;
mod bus_handle;
mod client;
mod codec;
mod context;
mod deadline;
mod describe;
mod error;
mod error_data;
mod events;
mod future;
mod loopback;
mod middleware;
mod node;
mod router;
mod schema;
mod streams;
#[cfg(feature = "tracing")]
mod traced;
mod transport;
pub mod type_schema;

pub use bus::{serve, RouterHandlers, DEFAULT_QOS};
pub use client::RpcCall;
pub use context::RpcContext;
pub use deadline::TIMEOUT_KEY;
pub use describe::{describe_services, SCHEMA_VERSION};
pub use error::{
    is_reserved_code, CallError, CodecError, RawCallError, RpcErrorCode, ServerError,
    TransportError, CODE_BUSY, CODE_INTERNAL_ERROR, CODE_INVALID_PARAMS, CODE_INVALID_REQUEST,
    CODE_METHOD_NOT_FOUND, CODE_PARSE_ERROR, CODE_TIMEOUT, RESERVED_CODES,
};
pub use error_data::{split_error_text, ERROR_DATA_MARKER};
pub use events::{
    key_segment, publish_event, topic_matches, EventError, EventFieldSchema, EventFilter, EventHub,
    EventReceiver, EventSchema, ReceivedEvent, RecvError, RpcEvent, DEFAULT_EVENT_BUFFER,
    EVENT_QOS,
};
pub use future::BoxFuture;
pub use futures_core::Stream;
pub use loopback::Loopback;
pub use middleware::{Next, RpcMiddleware};
pub use node::RpcBus;
pub use router::{RouterError, RpcRouter, RpcService, DESCRIBE_METHOD};
pub use schema::{ErrorSchema, ErrorTypeSchema, MethodSchema, ParamSchema, ServiceSchema};
/// The schema crate behind [`type_schema`]: `#[derive(schemars::JsonSchema)]` on a user type
/// describes it in full in `rpc.describe`.
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use schemars;
pub use streams::{
    ItemStream, PullStream, PushInboxes, PushStream, StreamLimits, CODE_CURSOR_NOT_FOUND,
    CURSOR_CLOSE, CURSOR_NEXT, CURSOR_NEXT_BATCH, DEFAULT_PULL_BATCH, DEFAULT_PUSH_CREDIT,
    PUSH_CANCEL, PUSH_CREDIT, PUSH_OPEN,
};
pub use transport::{DefaultTransport, RpcTransport, DEFAULT_TIMEOUT};

/// Turns a trait into a typed RPC service: the trait, a `{Trait}Handler<S>` and a `{Trait}Client<T>`.
///
/// The trait, method and param keys, each with an example, are listed in the
/// [crate documentation](crate#attribute-keys).
pub use elbus_macros::rpc;

/// Derives [`RpcErrorCode`] for a service error enum; every variant needs `#[rpc(code = N)]`.
///
/// Unit, tuple and struct variants round-trip with their fields. On the wire an error is its
/// code and a UTF-8 text: the message (`message = ".."` with `{field}` / `{0}` placeholders,
/// else the doc comment's first line, else the variant's name), then, for a variant with fields,
/// a line `rpc-data: HEX` holding the MessagePack of the fields (a map by name for a struct
/// variant, an array for a tuple variant; see [`split_error_text`]). A variant whose only field
/// is a `String` and that has no `message` sends that string as its message, without the line.
/// Field types must implement `serde::Serialize` and `Deserialize`. Codes must fit in `i16` and
/// stay outside the reserved range −32768..=−32000. Keys: see the
/// [crate documentation](crate#attribute-keys).
pub use elbus_macros::RpcError;

/// Derives [`RpcEvent`] for an enum of events: each variant a topic under the enum's
/// `#[rpc(namespace = "..")]` (`{namespace}/{variant in snake_case}`, or `#[rpc(topic = "..")]`
/// with `{field}` key segments), its payload a MessagePack map of its fields. Link it to a
/// service with `#[rpc(events = Type)]` so `rpc.describe` lists it.
pub use elbus_macros::RpcEvent;

/// Re-exports used by the code `#[rpc]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::client::RpcCall;
    pub use crate::codec::{
        assert_param_decode, assert_result_decode, decode_bytes, decode_params, decode_value,
        encode_bytes, encode_unit, encode_value, ResultEncode,
    };
    pub use crate::error::RpcErrorCode;
    pub use crate::error_data::{decode_error_fields, encode_error_text};
    pub use crate::events::encode_fields;

    /// Opens a cursor over a `#[rpc(stream)]` handler's stream for the caller of `ctx` and
    /// answers `{"u": id}`.
    pub fn open_stream<S, T, E>(
        ctx: &crate::RpcContext,
        stream: S,
    ) -> ::core::result::Result<::std::vec::Vec<u8>, crate::ServerError>
    where
        S: crate::Stream<Item = ::core::result::Result<T, E>> + Send + 'static,
        T: ::serde::Serialize + 'static,
        E: crate::RpcErrorCode + 'static,
    {
        ctx.open_stream(crate::streams::encode(stream))
    }
    pub use ::core;
    pub use ::elbus::QoS;
    pub use ::rmp_serde;
    pub use ::serde;
    pub use ::serde_bytes;
    pub use ::serde_json;
    pub use ::std;

    /// `Option::is_none` spelled with an absolute path for generated serde attributes.
    pub fn is_none<T>(value: &::core::option::Option<T>) -> bool {
        value.is_none()
    }
}
