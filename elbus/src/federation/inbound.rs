//! Frames from other nodes: checked (origin, loops, headers, the remote access rules) and
//! routed into the local broker as `sender@origin`; heartbeats and announcements turned into
//! `.broker/remote/node` and `.broker/remote/info`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_nats::Message;

use super::gateway::{Gateway, Outbound};
use super::remote_rules::RemoteRules;
use super::wire;
use crate::broker::remote::{RemoteSender, NODE_SEP};
use crate::broker::Broker;
use crate::broker::Injector;
use crate::protocol;
use crate::rpc::RPC_ERROR_CODE_BUS_BASE;

/// The topic of node state changes (`up`, `down`).
pub const REMOTE_NODE_TOPIC: &str = ".broker/remote/node";
/// The topic of other nodes' registrations (`reg`, `unreg` of `name@node`).
pub const REMOTE_INFO_TOPIC: &str = ".broker/remote/info";

/// Most remote sender identities kept for reuse; the cache is emptied when it is full.
const MAX_CACHED_SENDERS: usize = 4096;

/// A run of frames from one origin records it as heard once every this many frames.
const HEARD_EVERY: u32 = 256;

/// What a subscription carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Message,
    Broadcast,
    /// Publications of the import at this index.
    Import(usize),
    Heartbeat,
    Info,
}

/// Why a received frame's sender is not routed.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// The sender is itself remote (`name@node`): the frame would cross a second hop.
    Loop,
    /// Not a valid node name or sender name.
    Malformed,
}

/// The value of a publication's [`wire::ELBUS`] header. The map a publication carries holds
/// that one header, so a look along it beats hashing the name.
fn elbus_header(headers: &async_nats::HeaderMap) -> Option<&str> {
    headers
        .iter()
        .find(|(name, _)| **name == wire::ELBUS)
        .and_then(|(_, values)| values.first())
        .map(|value| value.as_str())
}

/// The receiving side of one subscription.
pub(crate) struct Inbound {
    broker: Broker,
    gateway: Arc<Gateway>,
    injector: Injector,
    rules: Option<Arc<RemoteRules>>,
    /// Routing identities by origin node, then sender name (looked up without allocating).
    senders: HashMap<String, HashMap<String, RemoteSender>>,
    /// How many identities `senders` holds.
    cached: usize,
    /// The origin of the last frame, and the frames since it was last recorded as heard.
    last_origin: String,
    since_heard: u32,
}

impl Inbound {
    pub(crate) fn new(
        broker: Broker,
        gateway: Arc<Gateway>,
        rules: Option<Arc<RemoteRules>>,
    ) -> Self {
        Inbound {
            injector: broker.injector(),
            broker,
            gateway,
            rules,
            senders: HashMap::new(),
            cached: 0,
            last_origin: String::new(),
            since_heard: 0,
        }
    }

    /// Handles one received message of a subscription of `kind`.
    pub(crate) fn handle(&mut self, kind: Kind, msg: &Message) {
        match kind {
            Kind::Heartbeat => self.heartbeat(msg),
            Kind::Info => self.info(msg),
            Kind::Message | Kind::Broadcast | Kind::Import(_) => self.frame(kind, msg),
        }
    }

    /// Gets the frames routed since the last flush written to their clients: once per batch
    /// of received messages, not once per frame.
    pub(crate) fn flush(&mut self) {
        self.injector.flush();
    }

    fn count(&self, counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn frame(&mut self, kind: Kind, msg: &Message) {
        let gateway = self.gateway.clone();
        let counters = &gateway.counters;
        let parsed = match kind {
            Kind::Import(_) => msg
                .headers
                .as_ref()
                .and_then(elbus_header)
                .and_then(wire::Fields::from_header)
                .map(|fields| (fields, &msg.payload[..])),
            _ => wire::Fields::split_prefix(&msg.payload),
        };
        let Some((fields, payload)) = parsed else {
            self.count(&counters.refused);
            return;
        };
        let (origin, sender) = (fields.origin, fields.sender);
        if origin == gateway.node {
            self.count(&counters.loop_dropped);
            return;
        }
        let from = match self.sender(sender, origin) {
            Ok(from) => from,
            Err(Refusal::Loop) => return self.count(&counters.loop_dropped),
            Err(Refusal::Malformed) => return self.count(&counters.refused),
        };
        // A frame is as good as a heartbeat: the reply to a node that just joined must not wait
        // for its next beat. A run of frames from one origin records it once in a while (the
        // heartbeats keep it up in between).
        self.since_heard += 1;
        if self.since_heard >= HEARD_EVERY || self.last_origin != origin {
            self.since_heard = 0;
            origin.clone_into(&mut self.last_origin);
            self.node_heard(origin);
        }
        let rt = fields.realtime;
        let target = fields.target;
        let code = match kind {
            Kind::Message => {
                let code = self.injector.message(&from, target, payload, rt);
                if code == protocol::ERR_CLIENT_NOT_REGISTERED {
                    self.answer_missing(origin, sender, target, payload);
                }
                code
            }
            Kind::Broadcast => self.injector.broadcast(&from, target, payload, rt),
            Kind::Import(index) => {
                if !gateway.routes_import(index, target) {
                    // Another subscription of an overlapping import routes it.
                    return;
                }
                self.injector.publish(&from, target, payload, rt)
            }
            Kind::Heartbeat | Kind::Info => return,
        };
        if code == protocol::ERR_ACCESS {
            self.count(&counters.refused);
        } else {
            self.count(&counters.imported);
        }
    }

    /// The routing identity of `sender` on `origin`, with the rule the `[[remote]]` table
    /// gives it (none: fail closed, every operation refused). Only a pair that passed the
    /// checks is kept, so a cached one is not checked again.
    fn sender(&mut self, sender: &str, origin: &str) -> Result<RemoteSender, Refusal> {
        if let Some(found) = self.senders.get(origin).and_then(|names| names.get(sender)) {
            return Ok(found.clone());
        }
        if sender.contains(NODE_SEP) {
            // Already relayed once: a frame crosses at most one NATS hop.
            return Err(Refusal::Loop);
        }
        if !super::subject::valid_node_name(origin) || !wire::header_safe(sender) {
            return Err(Refusal::Malformed);
        }
        if self.cached >= MAX_CACHED_SENDERS {
            self.senders.clear();
            self.cached = 0;
        }
        let rule = self
            .rules
            .as_ref()
            .map(|rules| rules.rule_for(origin, sender));
        let made = self
            .broker
            .remote_sender(&format!("{sender}{NODE_SEP}{origin}"), rule);
        self.senders
            .entry(origin.to_owned())
            .or_default()
            .insert(sender.to_owned(), made.clone());
        self.cached += 1;
        Ok(made)
    }

    /// An RPC request with a call id to a target not registered here gets a synthesized
    /// -32113 error reply from `target@this-node`, so the caller fails fast.
    fn answer_missing(&self, origin: &str, caller: &str, target: &str, payload: &[u8]) {
        let Some(id) = wire::rpc_request_id(payload) else {
            return;
        };
        let code = RPC_ERROR_CODE_BUS_BASE - i16::from(protocol::ERR_CLIENT_NOT_REGISTERED);
        let mut reply = Vec::with_capacity(7);
        reply.push(0x12);
        reply.extend_from_slice(&id.to_le_bytes());
        reply.extend_from_slice(&code.to_le_bytes());
        let gateway = &self.gateway;
        if !wire::prefix_fits(&gateway.node, target, caller) {
            return;
        }
        let subject = gateway.subjects.messages(origin);
        gateway.enqueue(gateway.prefixed(subject, target, caller, &[&reply], false));
    }

    fn heartbeat(&self, msg: &Message) {
        let Some(node) = self.gateway.subjects.node_of(&msg.subject) else {
            return;
        };
        if node == self.gateway.node || !super::subject::valid_node_name(node) {
            return;
        }
        if msg.payload.as_ref() == wire::HEARTBEAT_DOWN {
            if self.gateway.nodes.gone(node) {
                self.gateway.remote_names.node_down(node);
                tracing::info!("federation: node {node} down (stopped)");
                self.broker
                    .announce_on(REMOTE_NODE_TOPIC, "down", Some(node));
            }
        } else {
            self.node_heard(node);
        }
    }

    /// Records that `node` is alive; a node newly up is announced, gets this node's heartbeat
    /// at once so it need not wait for the next beat to see this one, and is asked for its
    /// names (the snapshot task of [`link`](super::link)).
    fn node_heard(&self, node: &str) {
        if self.gateway.nodes.heard(node) {
            tracing::info!("federation: node {node} up");
            self.broker.announce_on(REMOTE_NODE_TOPIC, "up", Some(node));
            let gateway = &self.gateway;
            gateway.node_joined(node);
            let subject = gateway.subjects.node(&gateway.node, "hb");
            gateway.enqueue(Outbound::new(subject, None, bytes::Bytes::new()));
        }
    }

    fn info(&self, msg: &Message) {
        let event = msg
            .headers
            .as_ref()
            .and_then(|headers| headers.get(wire::EVENT))
            .and_then(|value| value.as_str().split_once(' '));
        let (Some(node), Some((event, name))) =
            (self.gateway.subjects.node_of(&msg.subject), event)
        else {
            return;
        };
        if node == self.gateway.node || !matches!(event, "reg" | "unreg") {
            return;
        }
        if event == "reg" {
            self.gateway.remote_names.registered(node, name);
        } else {
            self.gateway.remote_names.unregistered(node, name);
        }
        let remote = format!("{name}{NODE_SEP}{node}");
        self.broker
            .announce_on(REMOTE_INFO_TOPIC, event, Some(&remote));
    }
}
