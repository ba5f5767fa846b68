//! The per-call context handed to handlers that ask for it (`&RpcContext` or `#[rpc(context)]`):
//! who called, and until when the caller waits.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::bus_handle::BusHandle;
use crate::error::{ServerError, CODE_INTERNAL_ERROR};
use crate::events::{EventError, RpcEvent, EVENT_QOS};
use crate::streams::{ItemStream, StreamTable};

/// What a handler may know about the call it serves. Never sent on the wire.
///
/// Besides the caller's identity it carries the call's [`deadline`](Self::deadline) (when the
/// caller sent one, see `docs/typed-rpc.md` §4) and a [`cancelled`](Self::cancelled) signal. The
/// router stops the handler future itself when either fires; the signal is for work a handler
/// hands to other tasks.
#[derive(Clone)]
pub struct RpcContext {
    sender: String,
    method: String,
    call_id: u32,
    deadline: Option<Instant>,
    cancel: Option<watch::Receiver<bool>>,
    bus: Option<BusHandle>,
    streams: Option<Arc<StreamTable>>,
    /// Opened with `rpc.stream.open`: the stream id and initial credit.
    push: Option<(u64, u64)>,
}

impl RpcContext {
    /// A context for a call from `sender` to `method` with the byte layer's `call_id` (0 = no
    /// reply), with no deadline and never cancelled.
    pub fn new(sender: impl Into<String>, method: impl Into<String>, call_id: u32) -> Self {
        Self {
            sender: sender.into(),
            method: method.into(),
            call_id,
            deadline: None,
            cancel: None,
            bus: None,
            streams: None,
            push: None,
        }
    }

    /// The same context for a stream method opened as a push stream (`rpc.stream.open`).
    pub(crate) fn for_push(mut self, method: &str, s: u64, credit: u64) -> Self {
        self.method = method.to_owned();
        self.push = Some((s, credit));
        self
    }

    /// The same context, publishing through `bus`.
    pub(crate) fn with_bus(mut self, bus: Option<BusHandle>) -> Self {
        self.bus = bus;
        self
    }

    /// The same context, opening streams in `streams`.
    pub(crate) fn with_streams(mut self, streams: Arc<StreamTable>) -> Self {
        self.streams = Some(streams);
        self
    }

    /// Whether streams opened in this context have a table to go to.
    pub(crate) fn has_streams(&self) -> bool {
        self.streams.is_some()
    }

    /// Opens a cursor over `stream` for this call's caller and answers `{"u": id}`.
    pub(crate) fn open_stream(&self, stream: ItemStream) -> Result<Vec<u8>, ServerError> {
        let Some(table) = &self.streams else {
            return Err(ServerError::new(
                CODE_INTERNAL_ERROR,
                "streams need a router: this call was dispatched without one",
            ));
        };
        if let Some((s, credit)) = self.push {
            let Some(bus) = &self.bus else {
                return Err(ServerError::new(
                    CODE_INTERNAL_ERROR,
                    "push streams need a bus: serve the router with RpcBus::serve",
                ));
            };
            let (owner, primary) = (&self.sender, self.primary_sender());
            table.open_push(bus.clone(), owner, primary, s, credit, stream)?;
            return crate::codec::encode_value(&crate::streams::Pushed { s })
                .map_err(ServerError::internal);
        }
        let id = table.open(&self.sender, self.primary_sender(), stream)?;
        crate::codec::encode_value(&crate::streams::Opened { u: &id })
            .map_err(ServerError::internal)
    }

    /// Publishes `event` on the bus this call was served from (QoS Processed: resolves once
    /// the broker ACKed it). Key values that would break the topic are refused before sending.
    /// Only a router served by [`RpcBus::serve`](crate::RpcBus::serve) has a bus to publish on;
    /// one served by [`serve`](crate::serve) or in process ([`Loopback`](crate::Loopback)) gets
    /// [`EventError::NoBus`].
    pub async fn publish<E: RpcEvent>(&self, event: &E) -> Result<(), EventError> {
        let topic = event.topic()?;
        let payload = event.encode_payload().map_err(EventError::Encode)?;
        match &self.bus {
            Some(bus) => Ok(bus.publish(topic, payload, EVENT_QOS).await?),
            None => Err(EventError::NoBus),
        }
    }

    /// The same context with the caller's deadline.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same context, cancelled once `cancel` holds `true` (or its sender is dropped).
    pub fn with_cancel(mut self, cancel: watch::Receiver<bool>) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The caller's full client name, including any `%%suffix` of a secondary client.
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// The caller's primary name: the sender up to the first `%%`.
    pub fn primary_sender(&self) -> &str {
        match self.sender.find("%%") {
            Some(pos) => &self.sender[..pos],
            None => &self.sender,
        }
    }

    /// The wire method name the caller used (an alias stays as sent).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The byte layer's call id; 0 for notifications.
    pub fn call_id(&self) -> u32 {
        self.call_id
    }

    /// `true` when the caller wants no reply (call id 0).
    pub fn is_notification(&self) -> bool {
        self.call_id == 0
    }

    /// When the caller stops waiting, if it said so: the router answers −32120 and drops the
    /// handler future then.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Resolves when the call is no longer wanted: its deadline passed, or the caller left the
    /// bus (or the call ended). Never resolves for a context with neither.
    pub async fn cancelled(&self) {
        let cancel = async {
            match self.cancel.clone() {
                // An error means the canceller is gone with the call: cancelled as well.
                Some(mut cancel) => drop(cancel.wait_for(|cancelled| *cancelled).await),
                None => std::future::pending().await,
            }
        };
        match self.deadline {
            Some(deadline) => {
                let _ = tokio::time::timeout_at(deadline.into(), cancel).await;
            }
            None => cancel.await,
        }
    }
}

impl fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcContext")
            .field("sender", &self.sender)
            .field("method", &self.method)
            .field("call_id", &self.call_id)
            .field("deadline", &self.deadline)
            .field("cancelled", &self.cancel.as_ref().map(|c| *c.borrow()))
            .finish()
    }
}

/// Contexts are equal when they describe the same call (the cancel signal is not compared).
impl PartialEq for RpcContext {
    fn eq(&self, other: &Self) -> bool {
        (&self.sender, &self.method, self.call_id, self.deadline)
            == (&other.sender, &other.method, other.call_id, other.deadline)
    }
}

impl Eq for RpcContext {}
