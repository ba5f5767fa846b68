//! [`RpcBus`]: one bus client that serves a router, calls other services and publishes and
//! receives typed events, all on one connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elbus::rpc::{RpcClient, RpcOptions};
use elbus::{AsyncClient, QoS};

use crate::bus_handle::BusHandle;
use crate::events::{EventError, EventFilter, EventHub, EventReceiver, RpcEvent, EVENT_QOS};
use crate::streams::PushInboxes;
use crate::{RawCallError, RouterHandlers, RpcRouter, RpcTransport};

/// A bus client that serves an [`RpcRouter`] (or nothing), is an [`RpcTransport`] for typed
/// clients, and publishes and subscribes to [`RpcEvent`]s: no hand-written plumbing to serve
/// calls and receive events on one connection.
///
/// Publications reach the subscriptions, and push-stream items their streams, in arrival order
/// (frames and notifications are handled inline; each buffer is bounded: see
/// [`EventFilter::buffer`] and [`PullStream::push`](crate::PullStream::push)). Like the
/// [`RpcClient`] inside it, dropping the last clone stops serving and disconnects.
///
/// ```no_run
/// # async fn demo(router: elbus_rpc::RpcRouter) -> Result<(), Box<dyn std::error::Error>> {
/// use elbus::ipc::{Client, Config};
/// use elbus_rpc::RpcBus;
///
/// let client = Client::connect(&Config::new("/tmp/elbus.sock", "svc.calc")).await?;
/// let bus = RpcBus::serve(client, router)?;
/// eprintln!("stopped: {}", bus.rpc().closed().await);
/// # Ok(()) }
/// ```
#[must_use = "an RpcBus stops serving and disconnects when its last clone is dropped"]
pub struct RpcBus<C: AsyncClient> {
    rpc: RpcClient<C>,
    hub: Arc<EventHub>,
    bus: BusHandle,
    router: Arc<RpcRouter>,
    pushes: Arc<PushInboxes>,
}

impl<C: AsyncClient> Clone for RpcBus<C> {
    fn clone(&self) -> Self {
        RpcBus {
            rpc: self.rpc.clone(),
            hub: self.hub.clone(),
            bus: self.bus.clone(),
            router: self.router.clone(),
            pushes: self.pushes.clone(),
        }
    }
}

impl<C: AsyncClient> std::fmt::Debug for RpcBus<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcBus")
            .field("rpc", &self.rpc)
            .field("events", &self.hub)
            .finish()
    }
}

impl<C: AsyncClient + Clone + 'static> RpcBus<C> {
    /// Serves `router` on `client` (calls of callers that leave are stopped, their streams
    /// closed, as with [`serve`](crate::serve)), with publications handled in arrival order.
    pub fn serve(client: C, router: RpcRouter) -> Result<Self, elbus::Error> {
        let bus = BusHandle::new(client.clone());
        let handlers = RouterHandlers::new(router).with_bus(bus.clone());
        let hub = handlers.events().clone();
        let router = handlers.shared_router();
        let pushes = handlers.pushes().clone();
        let options = RpcOptions::new()
            .fail_calls_on_unregister()
            .blocking_frames()
            .blocking_notifications();
        let rpc = RpcClient::create(client, handlers, options)?;
        Ok(RpcBus {
            rpc,
            hub,
            bus,
            router,
            pushes,
        })
    }

    /// A client that serves no methods of its own (only `rpc.describe`), to call and to
    /// publish and receive events.
    pub fn client(client: C) -> Result<Self, elbus::Error> {
        Self::serve(client, RpcRouter::new())
    }

    /// The byte RPC client inside (its [`client`](RpcClient::client) is the bus client).
    pub fn rpc(&self) -> &RpcClient<C> {
        &self.rpc
    }

    /// Publishes `event` (QoS Processed: resolves once the broker ACKed it). A key value that
    /// would break the topic is refused before anything is sent ([`EventError::InvalidKey`]).
    pub async fn publish<E: RpcEvent>(&self, event: &E) -> Result<(), EventError> {
        self.publish_qos(event, EVENT_QOS).await
    }

    /// [`publish`](Self::publish) with another QoS.
    pub async fn publish_qos<E: RpcEvent>(&self, event: &E, qos: QoS) -> Result<(), EventError> {
        crate::events::publish_event(self.rpc.client(), event, qos).await
    }

    /// Subscribes to every variant of `E` from any sender; see [`subscribe_with`](Self::subscribe_with).
    pub async fn subscribe<E: RpcEvent>(&self) -> Result<EventReceiver<E>, EventError> {
        self.subscribe_with(EventFilter::new()).await
    }

    /// Subscribes to the events `filter` chooses. Resolves only after the broker ACKed the
    /// subscription, so every event published after it returns is received.
    pub async fn subscribe_with<E: RpcEvent>(
        &self,
        filter: EventFilter<E>,
    ) -> Result<EventReceiver<E>, EventError> {
        EventReceiver::open(self.hub.clone(), self.bus.clone(), filter).await
    }

    /// The router this client serves (e.g. for [`RpcRouter::open_streams`]).
    pub fn router(&self) -> &RpcRouter {
        &self.router
    }

    /// The subscriptions of this client.
    pub fn events(&self) -> &Arc<EventHub> {
        &self.hub
    }
}

impl<C: AsyncClient + Clone + 'static> RpcTransport for RpcBus<C> {
    fn push_inboxes(&self) -> Option<Arc<PushInboxes>> {
        Some(self.pushes.clone())
    }

    fn default_timeout(&self) -> Option<Duration> {
        RpcTransport::default_timeout(&self.rpc)
    }

    async fn call(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, RawCallError> {
        RpcTransport::call(&self.rpc, target, method, params, timeout).await
    }

    async fn notify(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), RawCallError> {
        RpcTransport::notify(&self.rpc, target, method, params, timeout).await
    }

    async fn call_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> Result<Bytes, RawCallError> {
        RpcTransport::call_qos(&self.rpc, target, method, params, timeout, qos).await
    }

    async fn notify_qos(
        &self,
        target: &str,
        method: &str,
        params: Vec<u8>,
        timeout: Duration,
        qos: QoS,
    ) -> Result<(), RawCallError> {
        RpcTransport::notify_qos(&self.rpc, target, method, params, timeout, qos).await
    }
}
