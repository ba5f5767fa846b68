//! Server side: the object-safe [`RpcService`] trait the generated handlers implement, and the
//! [`RpcRouter`] that serves several of them on one bus client.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use crate::bus_handle::BusHandle;
use crate::codec::encode_value;
use crate::context::RpcContext;
use crate::deadline;
use crate::error::{ServerError, CODE_BUSY, CODE_TIMEOUT};
use crate::future::BoxFuture;
use crate::middleware::{Chain, Next, RpcMiddleware};
use crate::schema::ServiceSchema;
use crate::streams::{
    answer_cursor, is_cursor_method, PushOpen, StreamLimits, StreamTable, PUSH_OPEN,
};

/// The wire name of the generated introspection method.
pub const DESCRIBE_METHOD: &str = "rpc.describe";

/// A typed service behind a type-erased, object-safe interface. `#[rpc]` implements it for the
/// generated `{Trait}Handler<S>`; the router holds services as `Box<dyn RpcService>`.
pub trait RpcService: Send + Sync + 'static {
    /// The service's static schema: its methods, aliases, params and error codes.
    fn schema(&self) -> &'static ServiceSchema;

    /// Decodes `params`, calls the method `ctx.method()` names and encodes its result.
    ///
    /// `Ok` holds the reply payload (empty for `()`); an unknown method gives −32601 and params
    /// that fail to decode give −32602.
    fn dispatch<'a>(
        &'a self,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>>;
}

/// Two services claim the same wire name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterError {
    method: String,
    first: &'static str,
    second: &'static str,
}

impl fmt::Display for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "method `{}` is served by both `{}` and `{}`; give one of them a namespace",
            self.method, self.first, self.second
        )
    }
}

impl std::error::Error for RouterError {}

/// Serves several services on one bus client, routing by wire method name (aliases included),
/// and answers [`DESCRIBE_METHOD`] with every service's schema.
///
/// Every call runs under its context's [`deadline`](RpcContext::deadline) and
/// [`cancelled`](RpcContext::cancelled) signal: when either fires first, the handler future is
/// dropped (its destructors run) and the call is answered with −32120 ([`CODE_TIMEOUT`]). With
/// [`max_in_flight`](Self::max_in_flight), calls beyond the limit are refused at once with
/// −32118 ([`CODE_BUSY`]).
#[derive(Default)]
pub struct RpcRouter {
    services: Vec<Box<dyn RpcService>>,
    methods: HashMap<&'static str, usize>,
    in_flight: Option<(usize, tokio::sync::Semaphore)>,
    layers: Vec<Box<dyn RpcMiddleware>>,
    streams: Arc<StreamTable>,
}

impl RpcRouter {
    /// An empty router (it answers only `rpc.describe`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs at most `limit` calls (and notifications) at once, across all services of this
    /// router; a call arriving while `limit` run is answered at once with −32118
    /// ([`CODE_BUSY`], "busy"), which a client reports as a transport error with that code.
    /// A `limit` of 0 counts as 1.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        let limit = limit.max(1);
        self.in_flight = Some((limit, tokio::sync::Semaphore::new(limit)));
        self
    }

    /// Sets the limits of the router's pull streams (`#[rpc(stream)]` methods): TTL, caps per
    /// caller and in all, the largest batch; see [`StreamLimits`] for the defaults.
    pub fn stream_limits(mut self, limits: StreamLimits) -> Self {
        self.streams = Arc::new(StreamTable::new(limits));
        self
    }

    /// How many pull streams (cursors) are open: a handler's stream is dropped, and leaves this
    /// count, when it ends, fails, is closed, expires or its caller leaves the bus.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Closes the streams of the client `primary` (it left the bus).
    pub(crate) fn close_streams_of(&self, primary: &str) {
        self.streams.close_owner(primary);
    }

    /// Wraps every call in `middleware` (see [`RpcMiddleware`]); layers run in the order they
    /// were added, the first outermost.
    pub fn layer(mut self, middleware: impl RpcMiddleware) -> Self {
        self.layers.push(Box::new(middleware));
        self
    }

    /// Adds a service.
    ///
    /// # Panics
    /// If one of its wire names is already served; see [`try_service`](Self::try_service).
    #[track_caller]
    pub fn service(self, service: impl RpcService) -> Self {
        match self.try_service(service) {
            Ok(router) => router,
            Err(e) => panic!("{e}"),
        }
    }

    /// Adds a service, or reports the first wire name another service already serves.
    pub fn try_service(mut self, service: impl RpcService) -> Result<Self, RouterError> {
        let schema = service.schema();
        let index = self.services.len();
        for method in schema.methods {
            for name in std::iter::once(&method.name).chain(method.aliases) {
                if let Some(&other) = self.methods.get(name) {
                    return Err(RouterError {
                        method: (*name).to_owned(),
                        first: self.services[other].schema().name,
                        second: schema.name,
                    });
                }
            }
        }
        for method in schema.methods {
            for name in std::iter::once(&method.name).chain(method.aliases) {
                self.methods.insert(name, index);
            }
        }
        self.services.push(Box::new(service));
        Ok(self)
    }

    /// The schemas of the mounted services, in mounting order.
    pub fn schemas(&self) -> impl Iterator<Item = &'static ServiceSchema> + '_ {
        self.services.iter().map(|s| s.schema())
    }

    /// The `rpc.describe` reply in MessagePack: `{"schema_version": 2, "hash", "services":
    /// [schema, ..]}` (docs/typed-rpc.md §6).
    pub fn describe(&self) -> Result<Vec<u8>, ServerError> {
        let describe =
            crate::describe::describe_services(self.schemas()).map_err(ServerError::internal)?;
        encode_value(&describe).map_err(ServerError::internal)
    }

    /// Serves one call: takes a [`max_in_flight`](Self::max_in_flight) slot (or answers
    /// −32118), runs the [layers](Self::layer), finds the service by `ctx.method()` and
    /// dispatches to it, all stopped with −32120 when `ctx` is [cancelled](RpcContext::cancelled).
    ///
    /// The reply payload is `Ok` (empty for `()`); the caller sends nothing back when
    /// `ctx.is_notification()`.
    pub async fn dispatch(&self, ctx: &RpcContext, params: &[u8]) -> Result<Vec<u8>, ServerError> {
        #[cfg(feature = "tracing")]
        return crate::traced::server(ctx, self.dispatch_untraced(ctx, params)).await;
        #[cfg(not(feature = "tracing"))]
        self.dispatch_untraced(ctx, params).await
    }

    /// [`dispatch`](Self::dispatch) without its span: the limit, the deadline, the layers.
    async fn dispatch_untraced(
        &self,
        ctx: &RpcContext,
        params: &[u8],
    ) -> Result<Vec<u8>, ServerError> {
        let _permit = match &self.in_flight {
            Some((limit, slots)) => match slots.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return Err(ServerError::new(
                        CODE_BUSY,
                        format!("busy: {limit} calls in flight, the limit of this server"),
                    ))
                }
            },
            None => None,
        };
        let with_streams;
        let ctx = if ctx.has_streams() {
            ctx
        } else {
            with_streams = ctx.clone().with_streams(self.streams.clone());
            &with_streams
        };
        let mut call = pin!(self.run_layer(0, ctx, params));
        let mut stop = pin!(ctx.cancelled());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(reply) = call.as_mut().poll(cx) {
                return Poll::Ready(reply);
            }
            stop.as_mut().poll(cx).map(|()| Err(stopped(ctx)))
        })
        .await
    }

    /// Finds the service of `ctx.method()` and runs the call.
    async fn route(&self, ctx: &RpcContext, params: &[u8]) -> Result<Vec<u8>, ServerError> {
        match self.methods.get(ctx.method()) {
            Some(&index) => self.services[index].dispatch(ctx, params).await,
            None if ctx.method() == DESCRIBE_METHOD => self.describe(),
            None if ctx.method() == PUSH_OPEN => self.open_push(ctx, params).await,
            None if is_cursor_method(ctx.method()) => {
                answer_cursor(&self.streams, ctx.method(), ctx.sender(), params).await
            }
            None => Err(ServerError::method_not_found(ctx.method())),
        }
    }

    /// Answers `rpc.stream.open`: runs the stream method it names as a push stream.
    fn open_push<'a>(
        &'a self,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
        Box::pin(async move {
            let open: PushOpen<'_> = rmp_serde::from_slice(params).map_err(|e| {
                ServerError::invalid_params(format_args!("invalid params for {PUSH_OPEN}: {e}"))
            })?;
            let stream_method = self
                .methods
                .get(open.m)
                .and_then(|&i| self.services[i].schema().method(open.m))
                .is_some_and(|m| m.stream);
            if !stream_method {
                return Err(ServerError::invalid_params(format_args!(
                    "invalid params for {PUSH_OPEN}: {:?} is not a stream method",
                    open.m
                )));
            }
            let ctx = ctx.clone().for_push(open.m, open.s, open.c);
            self.route(&ctx, open.p).await
        })
    }

    /// The byte layer's entry point: a request from `sender` for `method` (raw bytes) with
    /// `call_id` (0 = no reply) and `params`.
    ///
    /// A method name that isn't UTF-8 is answered with −32601. A caller's deadline
    /// (`rpc.timeout_ms`, see [`RpcCall::send_deadline`](crate::RpcCall::send_deadline)) is
    /// taken out of the params and becomes the context's deadline. Map `Ok(payload)` to the
    /// reply (empty = no data) and `Err(e)` to an error reply with `e.code()` and `e.data()`.
    pub async fn handle(
        &self,
        sender: &str,
        method: &[u8],
        call_id: u32,
        params: &[u8],
    ) -> Result<Vec<u8>, ServerError> {
        self.handle_cancellable(sender, method, call_id, params, None, None)
            .await
    }

    /// [`handle`](Self::handle), also stopped when `cancel` turns `true`.
    pub(crate) async fn handle_cancellable(
        &self,
        sender: &str,
        method: &[u8],
        call_id: u32,
        params: &[u8],
        cancel: Option<tokio::sync::watch::Receiver<bool>>,
        bus: Option<BusHandle>,
    ) -> Result<Vec<u8>, ServerError> {
        let Ok(method) = std::str::from_utf8(method) else {
            return Err(ServerError::method_not_found(&String::from_utf8_lossy(
                method,
            )));
        };
        let (timeout, params) = deadline::take(params);
        let mut ctx = RpcContext::new(sender, method, call_id)
            .with_deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
            .with_bus(bus)
            .with_streams(self.streams.clone());
        if let Some(cancel) = cancel {
            ctx = ctx.with_cancel(cancel);
        }
        self.dispatch(&ctx, &params).await
    }
}

impl Chain for RpcRouter {
    /// Runs the middleware from `layer` on, then the call.
    fn run_layer<'a>(
        &'a self,
        layer: usize,
        ctx: &'a RpcContext,
        params: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, ServerError>> {
        match self.layers.get(layer) {
            Some(middleware) => middleware.call(ctx, params, Next::new(self, layer + 1)),
            None => Box::pin(self.route(ctx, params)),
        }
    }
}

impl fmt::Debug for RpcRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcRouter")
            .field(
                "services",
                &self.schemas().map(|s| s.name).collect::<Vec<_>>(),
            )
            .field(
                "max_in_flight",
                &self.in_flight.as_ref().map(|(limit, _)| limit),
            )
            .finish()
    }
}

/// The reply of a call stopped by its context: −32120, saying whether its deadline passed.
fn stopped(ctx: &RpcContext) -> ServerError {
    let message = match ctx.deadline() {
        Some(deadline) if Instant::now() >= deadline => "deadline exceeded",
        _ => "call cancelled: the caller left",
    };
    ServerError::new(CODE_TIMEOUT, format!("{}: {message}", ctx.method()))
}
