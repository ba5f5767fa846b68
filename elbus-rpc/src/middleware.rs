//! Server middleware: [`RpcMiddleware`] wraps every call an [`RpcRouter`] serves, seeing its
//! context and params before and its result after; [`Next`] runs the rest of the chain.
//!
//! Layers run in the order they were added, the first outermost:
//!
//! ```
//! use std::time::Instant;
//! use elbus_rpc::{BoxFuture, Next, RpcContext, RpcMiddleware, RpcRouter, ServerError};
//!
//! /// Logs every call with its result code and how long it took.
//! struct Log;
//!
//! impl RpcMiddleware for Log {
//!     fn call<'a>(
//!         &'a self,
//!         ctx: &'a RpcContext,
//!         params: &'a [u8],
//!         next: Next<'a>,
//!     ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
//!         Box::pin(async move {
//!             let started = Instant::now();
//!             let result = next.run(ctx, params).await;
//!             let code = result.as_ref().err().map_or(0, ServerError::code);
//!             eprintln!("{} from {}: {code} in {:?}", ctx.method(), ctx.sender(), started.elapsed());
//!             result
//!         })
//!     }
//! }
//!
//! let router = RpcRouter::new().layer(Log);
//! ```
//!
//! A middleware may also answer without calling `next` (an access check, a cache).
//!
//! The client-side counterpart is a transport wrapping another: implement
//! [`RpcTransport`](crate::RpcTransport) for a type holding the inner transport and forward
//! `call` and `notify` to it, plus `call_qos`, `notify_qos` and `default_timeout` when the inner
//! one has them (the defaults would drop the QoS and the timeout):
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use elbus_rpc::{RawCallError, RpcTransport};
//!
//! /// Counts the calls that failed, then passes everything on.
//! #[derive(Clone)]
//! struct CountFailures<T> {
//!     inner: T,
//!     failed: Arc<AtomicU64>,
//! }
//!
//! impl<T: RpcTransport> RpcTransport for CountFailures<T> {
//!     async fn call(&self, target: &str, method: &str, params: Vec<u8>, timeout: Duration)
//!         -> Result<Bytes, RawCallError>
//!     {
//!         let reply = self.inner.call(target, method, params, timeout).await;
//!         if reply.is_err() {
//!             self.failed.fetch_add(1, Ordering::Relaxed);
//!         }
//!         reply
//!     }
//!
//!     async fn notify(&self, target: &str, method: &str, params: Vec<u8>, timeout: Duration)
//!         -> Result<(), RawCallError>
//!     {
//!         self.inner.notify(target, method, params, timeout).await
//!     }
//!
//!     fn default_timeout(&self) -> Option<Duration> {
//!         self.inner.default_timeout()
//!     }
//! }
//!
//! # #[elbus_rpc::rpc(namespace = "calc")]
//! # pub trait Calc { async fn add(&self, a: i64, b: i64) -> Result<i64, std::convert::Infallible>; }
//! # struct Impl;
//! # impl Calc for Impl { async fn add(&self, a: i64, b: i64) -> Result<i64, std::convert::Infallible> { Ok(a + b) } }
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let router = elbus_rpc::RpcRouter::new().service(Impl.into_handler());
//! let failed = Arc::new(AtomicU64::new(0));
//! let transport = CountFailures { inner: elbus_rpc::Loopback::new(router), failed: failed.clone() };
//! let calc = CalcClient::new(transport, "svc.calc");
//! assert_eq!(calc.add(1, 2).await, Ok(3));
//! assert_eq!(failed.load(Ordering::Relaxed), 0);
//! # }
//! ```

use crate::context::RpcContext;
use crate::error::ServerError;
use crate::future::BoxFuture;

/// Wraps every call of an [`RpcRouter`](crate::RpcRouter) ([`RpcRouter::layer`](crate::RpcRouter::layer)).
pub trait RpcMiddleware: Send + Sync + 'static {
    /// Serves one call: usually does something, awaits `next.run(ctx, params)`, and returns its
    /// result (possibly changed). Runs inside the router's deadline and `max_in_flight` slot.
    fn call<'a>(
        &'a self,
        ctx: &'a RpcContext,
        params: &'a [u8],
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>>;
}

/// What runs a chain from one of its layers on: the router, seen from its middleware.
pub(crate) trait Chain: Sync {
    /// Runs layer `layer` (the service once past the last layer) with `ctx` and `params`.
    fn run_layer<'a>(
        &'a self,
        layer: usize,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>>;
}

/// The rest of a middleware chain: the next layers, then the service.
pub struct Next<'a> {
    chain: &'a dyn Chain,
    layer: usize,
}

impl<'a> Next<'a> {
    pub(crate) fn new(chain: &'a dyn Chain, layer: usize) -> Self {
        Self { chain, layer }
    }

    /// Runs the rest of the chain with `ctx` and `params` (a layer may pass on other params).
    pub fn run(
        self,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
        self.chain.run_layer(self.layer, ctx, params)
    }
}
