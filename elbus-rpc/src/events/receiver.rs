//! [`EventReceiver`]: the typed end of a subscription, and [`EventFilter`], what it asks for.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::hub::{EventHub, Subscription};
use super::inbox::{Inbox, Next};
use super::{EventError, RpcEvent};
use crate::bus_handle::BusHandle;
use crate::error::CodecError;

/// How many publications a receiver buffers unless its filter says otherwise
/// ([`EventFilter::buffer`]); beyond it the oldest are dropped and reported as
/// [`RecvError::Lagged`].
pub const DEFAULT_EVENT_BUFFER: usize = 256;

/// Which events of type `E` a subscription receives: some variants or all, from one sender or
/// any, with a buffer bound.
pub struct EventFilter<E> {
    variants: Vec<String>,
    sender: Option<String>,
    buffer: usize,
    _marker: PhantomData<fn() -> E>,
}

impl<E> Clone for EventFilter<E> {
    fn clone(&self) -> Self {
        EventFilter {
            variants: self.variants.clone(),
            sender: self.sender.clone(),
            buffer: self.buffer,
            _marker: PhantomData,
        }
    }
}

impl<E> fmt::Debug for EventFilter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFilter")
            .field("variants", &self.variants)
            .field("sender", &self.sender)
            .field("buffer", &self.buffer)
            .finish()
    }
}

impl<E: RpcEvent> Default for EventFilter<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: RpcEvent> EventFilter<E> {
    /// Every variant, from any sender, with a buffer of [`DEFAULT_EVENT_BUFFER`].
    pub fn new() -> Self {
        EventFilter {
            variants: Vec::new(),
            sender: None,
            buffer: DEFAULT_EVENT_BUFFER,
            _marker: PhantomData,
        }
    }

    /// Receives this variant (by its Rust name, `"Added"`); repeat for more. Without any, all.
    pub fn variant(mut self, name: &str) -> Self {
        self.variants.push(name.to_owned());
        self
    }

    /// Receives only what `sender` published (its full name, or the primary name of a
    /// secondary client).
    pub fn sender(mut self, sender: &str) -> Self {
        self.sender = Some(sender.to_owned());
        self
    }

    /// Buffers at most `n` publications (at least 1).
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = n.max(1);
        self
    }

    /// The broker patterns of the chosen variants.
    fn patterns(&self) -> Result<Vec<String>, EventError> {
        for v in &self.variants {
            if !E::EVENTS.iter().any(|e| e.name == v) {
                return Err(EventError::UnknownVariant(v.clone()));
            }
        }
        let mut patterns: Vec<String> = E::EVENTS
            .iter()
            .filter(|e| self.variants.is_empty() || self.variants.iter().any(|v| v == e.name))
            .map(|e| e.pattern.to_owned())
            .collect();
        patterns.dedup();
        Ok(patterns)
    }
}

/// One received event.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent<E> {
    /// The event.
    pub event: E,
    /// The topic it was published on.
    pub topic: String,
    /// Who published it.
    pub sender: String,
}

/// Why [`EventReceiver::recv`] returned no event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// The buffer overflowed: this many older events were dropped; the next ones follow.
    Lagged(u64),
    /// A publication on one of the topics did not decode as `E`; the next ones follow.
    Decode {
        /// Its topic.
        topic: String,
        /// Its sender.
        sender: String,
        /// Why.
        error: CodecError,
    },
    /// The subscription ended: the bus client is gone.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lagged(n) => write!(f, "lagged: {n} events dropped (the buffer was full)"),
            Self::Decode {
                topic,
                sender,
                error,
            } => write!(f, "event on {topic} from {sender} does not decode: {error}"),
            Self::Closed => f.write_str("the event subscription is closed"),
        }
    }
}

impl std::error::Error for RecvError {}

/// A typed subscription; dropping it unsubscribes (patterns no other receiver of the same
/// client uses).
pub struct EventReceiver<E> {
    hub: Arc<EventHub>,
    bus: BusHandle,
    id: u64,
    sub: Arc<Subscription>,
    _marker: PhantomData<fn() -> E>,
}

impl<E> fmt::Debug for EventReceiver<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiver")
            .field("patterns", &self.sub.patterns)
            .field("sender", &self.sub.sender)
            .field("queued", &self.sub.inbox.len())
            .finish()
    }
}

impl<E: RpcEvent> EventReceiver<E> {
    /// Subscribes through `hub` on `bus`; resolves once the broker ACKed the subscription.
    pub(crate) async fn open(
        hub: Arc<EventHub>,
        bus: BusHandle,
        filter: EventFilter<E>,
    ) -> Result<Self, EventError> {
        let sub = Subscription {
            patterns: filter.patterns()?,
            sender: filter.sender.clone(),
            inbox: Inbox::new(filter.buffer),
        };
        let (id, sub) = hub.subscribe(&bus, sub).await?;
        Ok(EventReceiver {
            hub,
            bus,
            id,
            sub,
            _marker: PhantomData,
        })
    }

    /// The next event, a report of dropped ones ([`RecvError::Lagged`]), a publication that
    /// did not decode, or the end.
    pub async fn recv(&mut self) -> Result<ReceivedEvent<E>, RecvError> {
        loop {
            let delivery = match self.sub.inbox.next().await {
                Next::Item(d) => d,
                Next::Lagged(n) => return Err(RecvError::Lagged(n)),
                Next::Closed => return Err(RecvError::Closed),
            };
            match E::decode(&delivery.topic, &delivery.payload) {
                Ok(Some(event)) => {
                    return Ok(ReceivedEvent {
                        event,
                        topic: delivery.topic,
                        sender: delivery.sender,
                    })
                }
                // A topic the wildcard pattern matched but no variant template does.
                Ok(None) => continue,
                Err(error) => {
                    return Err(RecvError::Decode {
                        topic: delivery.topic,
                        sender: delivery.sender,
                        error,
                    })
                }
            }
        }
    }

    /// How many publications wait in the buffer.
    pub fn queued(&self) -> usize {
        self.sub.inbox.len()
    }
}

impl<E> Drop for EventReceiver<E> {
    fn drop(&mut self) {
        self.sub.inbox.close();
        let (hub, bus, id) = (self.hub.clone(), self.bus.clone(), self.id);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { hub.unsubscribe(&bus, id).await });
            }
            // No runtime to unsubscribe from: at least stop delivering.
            Err(_) => {
                hub.forget(id);
            }
        }
    }
}
