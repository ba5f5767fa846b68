//! The event subscriptions of one bus client. The client's frame handler feeds every
//! publication it receives to [`EventHub::deliver`], which copies it into the inbox of each
//! matching subscription (pattern and sender filter). Broker subscriptions are counted per
//! pattern, so two receivers of one topic share one subscription and the last one to go
//! unsubscribes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use elbus::{Frame, FrameKind};

use super::inbox::{Delivery, Inbox};
use super::{pattern_matches, EventError, EVENT_QOS};
use crate::bus_handle::BusHandle;

/// One subscription's filter and buffer.
pub(crate) struct Subscription {
    pub patterns: Vec<String>,
    pub sender: Option<String>,
    pub inbox: Inbox,
}

impl Subscription {
    fn wants(&self, topic: &str, sender: &str) -> bool {
        let sender_ok = match &self.sender {
            Some(want) => want == sender || sender.split_once("%%").is_some_and(|(p, _)| p == want),
            None => true,
        };
        sender_ok && self.patterns.iter().any(|p| pattern_matches(p, topic))
    }
}

/// The subscriptions of one bus client; see the module docs.
///
/// Memory: each subscription holds at most its capacity of publications (each at most the
/// broker's frame limit); the hub itself holds one entry per subscription and per pattern.
#[derive(Default)]
pub struct EventHub {
    next_id: AtomicU64,
    subscriptions: Mutex<Vec<(u64, Arc<Subscription>)>>,
    /// Broker subscriptions by pattern, with how many receivers use each. An async lock: it is
    /// held across the broker's ACK, so a receiver never returns before its pattern is live.
    patterns: tokio::sync::Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("subscriptions", &self.subscriptions())
            .finish()
    }
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Copies a publication into every matching subscription's inbox; other frames are
    /// ignored. Never waits: a full inbox drops its oldest entry and counts it.
    pub fn deliver(&self, frame: &Frame) {
        if frame.kind() != FrameKind::Publish {
            return;
        }
        let Some(topic) = frame.topic() else {
            return;
        };
        let Ok(subscriptions) = self.subscriptions.lock() else {
            return;
        };
        for (_, sub) in subscriptions.iter() {
            if sub.wants(topic, frame.sender()) {
                sub.inbox.push(Delivery {
                    topic: topic.to_owned(),
                    sender: frame.sender().to_owned(),
                    payload: frame.payload_bytes(),
                });
            }
        }
    }

    /// How many subscriptions are open.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Ends every subscription (the bus connection is gone).
    pub fn close_all(&self) {
        if let Ok(subscriptions) = self.subscriptions.lock() {
            for (_, sub) in subscriptions.iter() {
                sub.inbox.close();
            }
        }
    }

    /// Opens a subscription and subscribes the client to its new patterns, returning once the
    /// broker has ACKed them.
    pub(crate) async fn subscribe(
        &self,
        bus: &BusHandle,
        sub: Subscription,
    ) -> Result<(u64, Arc<Subscription>), EventError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sub = Arc::new(sub);
        let mut patterns = self.patterns.lock().await;
        let fresh: Vec<String> = sub
            .patterns
            .iter()
            .filter(|p| !patterns.contains_key(*p))
            .cloned()
            .collect();
        // Registered before the broker subscription, so nothing published after the ACK is missed.
        if let Ok(mut subscriptions) = self.subscriptions.lock() {
            subscriptions.push((id, sub.clone()));
        }
        if !fresh.is_empty() {
            if let Err(e) = bus.subscribe(fresh, EVENT_QOS).await {
                self.forget(id);
                return Err(e.into());
            }
        }
        for p in &sub.patterns {
            *patterns.entry(p.clone()).or_default() += 1;
        }
        Ok((id, sub))
    }

    /// Closes subscription `id` and unsubscribes the patterns no other subscription uses.
    pub(crate) async fn unsubscribe(&self, bus: &BusHandle, id: u64) {
        let Some(sub) = self.forget(id) else {
            return;
        };
        let mut patterns = self.patterns.lock().await;
        let mut unused = Vec::new();
        for p in &sub.patterns {
            if let Some(count) = patterns.get_mut(p) {
                *count -= 1;
                if *count == 0 {
                    patterns.remove(p);
                    unused.push(p.clone());
                }
            }
        }
        if !unused.is_empty() {
            bus.unsubscribe(unused, EVENT_QOS).await;
        }
    }

    /// Removes subscription `id` from delivery (the broker subscription stays).
    pub(crate) fn forget(&self, id: u64) -> Option<Arc<Subscription>> {
        let mut subscriptions = self.subscriptions.lock().ok()?;
        let at = subscriptions.iter().position(|(i, _)| *i == id)?;
        Some(subscriptions.swap_remove(at).1)
    }
}
