//! The bus glue: generated clients call over [`elbus::rpc::RpcClient`], and an [`RpcRouter`]
//! serves the requests an `RpcClient` receives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use elbus::rpc::{
    RpcClient, RpcError, RpcEvent as RequestEvent, RpcHandlers, RpcOptions, RpcResult,
};
use elbus::{AsyncClient, Frame, QoS};
use tokio::sync::watch;

use crate::bus_handle::BusHandle;
use crate::events::EventHub;
use crate::streams::PushInboxes;
use crate::{RawCallError, RpcRouter, RpcTransport};

/// The QoS of typed calls unless the call sets one ([`RpcCall::qos`](crate::RpcCall::qos)):
/// the broker ACKs the request, so a missing target fails at once.
pub const DEFAULT_QOS: QoS = QoS::Processed;

impl<C: AsyncClient + 'static> RpcTransport for RpcClient<C> {
    /// The client's `RpcOptions::timeout`, so an `RpcClient` configured with a timeout bounds
    /// typed calls that set none of their own.
    fn default_timeout(&self) -> Option<Duration> {
        Some(self.options().call_timeout())
    }

    /// One timer per call: `call_with_timeout` bounds the whole round trip by `timeout`.
    async fn call(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, RawCallError> {
        self.call_qos(target, method, params, timeout, DEFAULT_QOS)
            .await
    }

    async fn notify(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), RawCallError> {
        self.notify_qos(target, method, params, timeout, DEFAULT_QOS)
            .await
    }

    async fn call_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> Result<Bytes, RawCallError> {
        self.call_with_timeout(target, method, &params, qos, timeout)
            .await
            // A slice of the received frame: no copy of the reply.
            .map(|reply| reply.payload_bytes())
            .map_err(raw_error)
    }

    async fn notify_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> Result<(), RawCallError> {
        // One timer: the call's deadline bounds the send and its ACK.
        self.call0_with_timeout(target, method, &params, qos, timeout)
            .await
            .map_err(raw_error)
    }
}

fn raw_error(err: RpcError) -> RawCallError {
    let code = err.code();
    RawCallError::from_code(code, err.into_data())
}

/// Serves an [`RpcRouter`] as the request handler of a byte-level [`RpcClient`].
///
/// Each call runs under the caller's deadline, when it sent one, and is stopped when the broker
/// announces that the caller unregistered: for that the RPC client must be subscribed to the
/// announcements, as [`RpcOptions::fail_calls_on_unregister`] does (and [`serve`] sets).
///
/// ```no_run
/// # async fn demo(router: elbus_rpc::RpcRouter) -> Result<(), elbus::Error> {
/// use elbus::ipc::{Client, Config};
/// use elbus::rpc::RpcClient;
/// use elbus_rpc::RouterHandlers;
///
/// let client = Client::connect(&Config::new("/tmp/elbus.sock", "svc.calc")).await?;
/// let rpc = RpcClient::new(client, RouterHandlers::new(router))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RouterHandlers {
    router: Arc<RpcRouter>,
    callers: Arc<Callers>,
    hub: Arc<EventHub>,
    bus: Option<BusHandle>,
    pushes: Arc<PushInboxes>,
}

/// The calls being served, by the caller's primary name, each with the switch that cancels it.
#[derive(Default)]
struct Callers {
    next_id: AtomicU64,
    calls: Mutex<HashMap<String, HashMap<u64, watch::Sender<bool>>>>,
}

impl Callers {
    /// Registers a call of `primary`; it is cancelled if `primary` leaves before the guard drops.
    fn register(&self, primary: &str) -> (CallGuard<'_>, watch::Receiver<bool>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (cancel, cancelled) = watch::channel(false);
        if let Ok(mut calls) = self.calls.lock() {
            calls
                .entry(primary.to_owned())
                .or_default()
                .insert(id, cancel);
        }
        let guard = CallGuard {
            callers: self,
            primary: primary.to_owned(),
            id,
        };
        (guard, cancelled)
    }

    /// Cancels every call of `primary`, which left the bus.
    fn cancel(&self, primary: &str) {
        let gone = self.calls.lock().ok().and_then(|mut c| c.remove(primary));
        for cancel in gone.into_iter().flat_map(HashMap::into_values) {
            cancel.send_replace(true);
        }
    }
}

/// Forgets a call once it is answered.
struct CallGuard<'a> {
    callers: &'a Callers,
    primary: String,
    id: u64,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.callers.calls.lock() {
            if let Some(of_caller) = calls.get_mut(&self.primary) {
                of_caller.remove(&self.id);
                if of_caller.is_empty() {
                    calls.remove(&self.primary);
                }
            }
        }
    }
}

impl RouterHandlers {
    /// Handlers that dispatch every request to `router`.
    pub fn new(router: RpcRouter) -> Self {
        RouterHandlers {
            router: Arc::new(router),
            callers: Arc::default(),
            hub: EventHub::new(),
            bus: None,
            pushes: PushInboxes::new(),
        }
    }

    /// The same handlers, giving handlers a bus to publish on (`RpcContext::publish`) through
    /// a clone of the client they serve on.
    pub(crate) fn with_bus(mut self, bus: BusHandle) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The push streams fed by the notifications this client receives.
    pub fn pushes(&self) -> &Arc<PushInboxes> {
        &self.pushes
    }

    /// The event subscriptions fed by the publications this client receives.
    pub fn events(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// The router being served.
    pub fn router(&self) -> &RpcRouter {
        &self.router
    }

    /// The router being served, shared.
    pub(crate) fn shared_router(&self) -> Arc<RpcRouter> {
        self.router.clone()
    }
}

impl RpcHandlers for RouterHandlers {
    async fn handle_call(&self, event: RequestEvent) -> RpcResult {
        let sender = event.sender();
        let primary = sender
            .split_once("%%")
            .map_or(sender, |(primary, _)| primary);
        let (_registered, cancelled) = self.callers.register(primary);
        let reply = self
            .router
            .handle_cancellable(
                sender,
                event.method(),
                event.id(),
                event.payload(),
                Some(cancelled),
                self.bus.clone(),
            )
            .await;
        match reply {
            Ok(reply) if reply.is_empty() => Ok(None),
            Ok(reply) => Ok(Some(reply)),
            Err(err) => {
                let (code, data) = err.into_parts();
                Err(RpcError::new(code, Some(data)))
            }
        }
    }

    /// Feeds the items of push streams to their streams.
    async fn handle_notification(&self, event: RequestEvent) {
        self.pushes.deliver(event.sender(), event.payload());
    }

    /// Feeds publications to the event subscriptions, and stops the calls and closes the
    /// streams of a caller the broker announces gone.
    async fn handle_frame(&self, frame: Frame) {
        if let Some(primary) = elbus::rpc::unregistered_client(&frame) {
            self.callers.cancel(primary);
            self.router.close_streams_of(primary);
        }
        self.hub.deliver(&frame);
    }
}

/// Starts serving `router` on `client`: a shorthand for `RpcClient::create(client,
/// RouterHandlers::new(router), RpcOptions::new().fail_calls_on_unregister())`, so calls whose
/// caller leaves the bus are stopped.
///
/// **Keep the returned client**: dropping its last clone stops the service and disconnects it
/// (callers then get −32113, "not registered"). A server's `main` awaits
/// [`RpcClient::closed`] to serve until the connection ends:
///
/// ```no_run
/// # async fn demo(router: elbus_rpc::RpcRouter) -> Result<(), elbus::Error> {
/// use elbus::ipc::{Client, Config};
///
/// let client = Client::connect(&Config::new("/tmp/elbus.sock", "svc.calc")).await?;
/// let server = elbus_rpc::serve(client, router)?;
/// let reason = server.closed().await; // serves until the connection ends
/// eprintln!("svc.calc stopped: {reason}");
/// # Ok(()) }
/// ```
pub fn serve<C: AsyncClient + 'static>(
    client: C,
    router: RpcRouter,
) -> Result<RpcClient<C>, elbus::Error> {
    RpcClient::create(
        client,
        RouterHandlers::new(router),
        RpcOptions::new().fail_calls_on_unregister(),
    )
}
