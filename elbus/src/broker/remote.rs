//! The routing hooks through which a federation gateway (`elbus::federation`) joins the
//! router, and the identity ([`RemoteSender`]) under which frames from other nodes are routed
//! (by `router::inject`).
//!
//! The broker knows nothing of NATS: it holds at most one [`RemoteRoute`], set once, and asks
//! it about `name@node` targets, `mask@node` / `mask@*` broadcasts, publications and changes
//! of local interest. Without one (federation off) each hook costs one atomic load on paths
//! that already branch (`OnceLock::get`), and a name holding `@` is an ordinary name.
//! The gateway gets the frames it must send on as copies, queues them without waiting and
//! returns the ACK code at once: no local path ever waits on the network.

use std::sync::Arc;

use super::access::AccessRule;
use super::peer::Peer;
use super::registry::ClientEntry;
use super::{Broker, BrokerInner, QueueLimits};
use crate::{protocol, Error};

/// The separator of `name@node` targets and `mask@node` masks.
pub(crate) const NODE_SEP: char = '@';

/// What the router hands over to a federation gateway. Every method is called on a routing
/// task and must not block: it queues, counts and returns.
pub(crate) trait RemoteRoute: Send + Sync + std::fmt::Debug {
    /// This broker's node name.
    fn node(&self) -> &str;
    /// A one-to-one message from the local `sender` to `target` on `node`; the ACK code.
    fn message(
        &self,
        sender: &str,
        node: &str,
        target: &str,
        payload: &[&[u8]],
        realtime: bool,
    ) -> u8;
    /// A broadcast to `mask` on `node` (`None`: on every other node); the ACK code.
    fn broadcast(
        &self,
        sender: &str,
        node: Option<&str>,
        mask: &str,
        payload: &[&[u8]],
        realtime: bool,
    ) -> u8;
    /// A local publication, routed locally already; exported when the allow-list says so.
    fn publication(&self, sender: &str, topic: &str, payload: &[&[u8]], realtime: bool);
    /// Local subscriptions changed: the imports to hold may have too.
    fn interest_changed(&self);
    /// A local primary client registered (`true`) or left (`false`).
    fn registration(&self, name: &str, registered: bool);
    /// The `.broker` method `node.list`, MessagePack-encoded.
    fn node_list(&self) -> Vec<u8>;
    /// The names registered on the other nodes, as `name@node` (`client.list` on request).
    fn remote_names(&self) -> Vec<String>;
    /// The `.broker` method `federation.status`, MessagePack-encoded.
    fn status(&self) -> Vec<u8>;
}

/// Where a target or mask goes once its `@node` suffix is read.
pub(crate) enum Destination<'a> {
    /// Routed here, under the name or mask without the suffix.
    Local(&'a str),
    /// Handed to the gateway; the ACK code it gave.
    Handed(u8),
}

impl BrokerInner {
    /// The gateway, if federation is on.
    #[inline]
    pub(crate) fn remote(&self) -> Option<&Arc<dyn RemoteRoute>> {
        self.remote.get()
    }

    /// Reads the `@node` suffix of a one-to-one `target` (split at the last `@`): a target on
    /// another node is handed to the gateway, except from a sender that is itself remote (a
    /// frame crosses at most one hop).
    pub(crate) fn message_destination<'a>(
        &self,
        sender: &ClientEntry,
        target: &'a str,
        payload: &[&[u8]],
        realtime: bool,
    ) -> Destination<'a> {
        let (Some(remote), Some((name, node))) = (self.remote(), target.rsplit_once(NODE_SEP))
        else {
            return Destination::Local(target);
        };
        if node == remote.node() {
            return Destination::Local(name);
        }
        if sender.name.contains(NODE_SEP) {
            return Destination::Handed(protocol::ERR_CLIENT_NOT_REGISTERED);
        }
        Destination::Handed(remote.message(&sender.name, node, name, payload, realtime))
    }

    /// Reads the `@node` / `@*` suffix of a broadcast `mask`: `mask@*` goes to every other
    /// node and is routed here too, `mask@node` goes to that node only.
    pub(crate) fn broadcast_destination<'a>(
        &self,
        sender: &ClientEntry,
        mask: &'a str,
        payload: &[&[u8]],
        realtime: bool,
    ) -> Destination<'a> {
        let (Some(remote), Some((local_mask, node))) = (self.remote(), mask.rsplit_once(NODE_SEP))
        else {
            return Destination::Local(mask);
        };
        if node == remote.node() {
            return Destination::Local(local_mask);
        }
        if sender.name.contains(NODE_SEP) {
            return Destination::Handed(protocol::ERR_CLIENT_NOT_REGISTERED);
        }
        if node == "*" {
            // Fire and forget to the others, as a local broadcast is.
            remote.broadcast(&sender.name, None, local_mask, payload, realtime);
            return Destination::Local(local_mask);
        }
        Destination::Handed(remote.broadcast(
            &sender.name,
            Some(node),
            local_mask,
            payload,
            realtime,
        ))
    }

    /// Offers a publication routed here to the gateway. `.broker/...` topics and frames whose
    /// sender is remote never leave.
    #[inline]
    pub(crate) fn offer_publication(
        &self,
        sender: &ClientEntry,
        topic: &str,
        payload: &[&[u8]],
        realtime: bool,
    ) {
        if let Some(remote) = self.remote() {
            if !topic.starts_with(".broker/") && !sender.name.contains(NODE_SEP) {
                remote.publication(&sender.name, topic, payload, realtime);
            }
        }
    }

    /// Tells the gateway (if any) that local subscriptions changed.
    #[inline]
    pub(crate) fn interest_changed(&self) {
        if let Some(remote) = self.remote() {
            remote.interest_changed();
        }
    }

    /// Tells the gateway (if any) of a local primary's registration or departure.
    pub(crate) fn registration_changed(&self, name: &str, registered: bool) {
        if let Some(remote) = self.remote() {
            remote.registration(name, registered);
        }
    }

    /// Refuses a local name holding `@` while federation is on: such names address other
    /// nodes.
    pub(crate) fn check_local_name(&self, name: &str) -> Result<(), Error> {
        if self.remote().is_some() && name.contains(NODE_SEP) {
            return Err(Error::data(
                "Invalid client name: names holding @ address other nodes while federation is on",
            ));
        }
        Ok(())
    }
}

/// The identity a frame from another node is routed under (`name@node`): never registered,
/// so it is neither listed nor reachable except through the gateway.
#[derive(Debug, Clone)]
pub(crate) struct RemoteSender {
    pub(crate) entry: Arc<ClientEntry>,
}

impl Broker {
    /// Joins `route` to the router; fails if a gateway is already joined.
    pub(crate) fn set_remote_route(&self, route: Arc<dyn RemoteRoute>) -> Result<(), Error> {
        self.inner
            .remote
            .set(route)
            .map_err(|_| Error::busy("a federation gateway is already joined to this broker"))
    }

    /// The joined gateway, if any (the `.broker` methods of federation read it).
    pub(crate) fn remote_route(&self) -> Option<&Arc<dyn RemoteRoute>> {
        self.inner.remote()
    }

    /// The sender identity `name` (`caller@node`) with the access rule its node and name get.
    pub(crate) fn remote_sender(
        &self,
        name: &str,
        access: Option<Arc<AccessRule>>,
    ) -> RemoteSender {
        // Nothing is ever queued to it: the smallest limits that are valid.
        let queue = QueueLimits {
            max_frames: 1,
            max_bytes: QueueLimits::MIN_MAX_BYTES,
            ..QueueLimits::default()
        };
        RemoteSender {
            entry: self
                .inner
                .new_entry(name, Peer::in_process(), access, queue),
        }
    }

    /// Every distinct subscription pattern local clients hold.
    pub(crate) fn local_subscriptions(&self) -> Vec<String> {
        self.inner.registry.all_subscriptions()
    }

    /// The names of the local primary clients (`.broker` left out).
    pub(crate) fn local_names(&self) -> Vec<String> {
        self.client_list()
            .into_iter()
            .map(|info| info.name)
            .filter(|name| name != protocol::BROKER_NAME)
            .collect()
    }

    /// Publishes an announcement from `.broker` on `topic` (`.broker/remote/...`).
    pub(crate) fn announce_on(&self, topic: &str, event: &str, name: Option<&str>) {
        self.inner.announce(topic, event, name);
    }
}
