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
//! A middleware may also answer without calling `next` (an access check, a cache). The
//! client-side counterpart is a transport wrapping another: implement
//! [`RpcTransport`](crate::RpcTransport) for a type holding the inner transport and forward
//! `call` and `notify` (and `call_qos`, `notify_qos` when the inner one has QoS) to it.

use crate::context::RpcContext;
use crate::error::ServerError;
use crate::router::{BoxFuture, RpcRouter};

/// Wraps every call of an [`RpcRouter`] ([`RpcRouter::layer`]).
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

/// The rest of a middleware chain: the next layers, then the service.
pub struct Next<'a> {
    router: &'a RpcRouter,
    layer: usize,
}

impl<'a> Next<'a> {
    pub(crate) fn new(router: &'a RpcRouter, layer: usize) -> Self {
        Self { router, layer }
    }

    /// Runs the rest of the chain with `ctx` and `params` (a layer may pass on other params).
    pub fn run(
        self,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
        self.router.run_layer(self.layer, ctx, params)
    }
}
