//! Routing of frames that came from other nodes: the sender's `[[remote]]` rule first, then
//! the same entry points a local sender's frames take.

use std::sync::Arc;

use super::{Delivery, RouteScratch};
use crate::broker::access::AccessRule;
use crate::broker::registry::ClientEntry;
use crate::broker::remote::RemoteSender;
use crate::broker::{Broker, BrokerInner};
use crate::protocol;

impl Broker {
    /// A router of frames from other nodes, with its own reusable routing state.
    pub(crate) fn injector(&self) -> Injector {
        Injector {
            inner: self.inner.clone(),
            scratch: RouteScratch::default(),
        }
    }
}

/// Routes frames that came from other nodes into this broker, checking the sender's access
/// rule first (`0x79` when it refuses). What it routes is written to the clients at
/// [`Injector::flush`] (or when it is dropped), so a batch of frames to one client becomes one
/// write.
#[derive(Debug)]
pub(crate) struct Injector {
    inner: Arc<BrokerInner>,
    scratch: RouteScratch,
}

/// Where an injected frame goes: the check of the sender's rule, the words of a refusal, and
/// the router's entry point.
struct Route<'a> {
    allowed: &'a dyn Fn(&AccessRule) -> bool,
    refused: std::fmt::Arguments<'a>,
    deliver: &'a dyn Fn(&BrokerInner, &ClientEntry, Delivery, &mut RouteScratch) -> u8,
}

impl Injector {
    /// Gets everything routed since the last flush written to its clients.
    pub(crate) fn flush(&mut self) {
        self.scratch.flush();
    }

    /// A one-to-one message to the local `target`; the code a local sender would get.
    pub(crate) fn message(
        &mut self,
        from: &RemoteSender,
        target: &str,
        payload: &[u8],
        rt: bool,
    ) -> u8 {
        self.inject(
            from,
            payload,
            rt,
            Route {
                allowed: &|rule| rule.allows_p2p(target),
                refused: format_args!("{} to {target}", from.entry.name),
                deliver: &|inner, entry, out, scratch| {
                    inner.send_message(entry, target, &[payload], out, scratch)
                },
            },
        )
    }

    /// A broadcast to the local clients matching `mask`.
    pub(crate) fn broadcast(
        &mut self,
        from: &RemoteSender,
        mask: &str,
        payload: &[u8],
        rt: bool,
    ) -> u8 {
        self.inject(
            from,
            payload,
            rt,
            Route {
                allowed: &|rule| rule.allows_broadcast(mask),
                refused: format_args!("{} broadcast to {mask}", from.entry.name),
                deliver: &|inner, entry, out, scratch| {
                    inner.send_broadcast(entry, mask, &[payload], out, scratch)
                },
            },
        )
    }

    /// A publication to the local subscribers of `topic`.
    pub(crate) fn publish(
        &mut self,
        from: &RemoteSender,
        topic: &str,
        payload: &[u8],
        rt: bool,
    ) -> u8 {
        self.inject(
            from,
            payload,
            rt,
            Route {
                allowed: &|rule| rule.allows_publish(topic),
                refused: format_args!("{} publish to {topic}", from.entry.name),
                deliver: &|inner, entry, out, scratch| {
                    inner.publish(entry, topic, None, &[payload], out, scratch)
                },
            },
        )
    }

    /// Checks the remote sender's rule (`0x79` and a counted denial when it refuses), then
    /// routes one frame as a local sender's would be.
    fn inject(&mut self, from: &RemoteSender, payload: &[u8], rt: bool, route: Route<'_>) -> u8 {
        let entry = &from.entry;
        if entry
            .access
            .as_deref()
            .is_some_and(|rule| !(route.allowed)(rule))
        {
            self.inner.count_denied(None, &route.refused);
            return protocol::ERR_ACCESS;
        }
        let out = Delivery::of_payload(&[payload], rt);
        (route.deliver)(&self.inner, entry, out, &mut self.scratch)
    }
}
