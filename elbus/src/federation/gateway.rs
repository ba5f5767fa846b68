//! The gateway's side inside the router: what it does with a frame the router hands it, on
//! the routing task, without waiting. Each frame for NATS is checked (node up, connection up,
//! size) and answered with its ACK code at once: handed to the NATS client directly when
//! nothing is waiting in the bounded outbound queue and the client's own channel has room,
//! else put on that queue, which the [`link`](super::link) tasks send on.
//!
//! The byte bound covers a frame from the moment it is accepted until the NATS client has
//! written it: its payload carries a [`Held`] share of the count, given back when the client
//! drops the payload, wherever the frame waited (the queue or the client's own buffers).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_nats::{HeaderMap, HeaderName, Subject};
use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::{mpsc, Notify};
use tracing::warn;

use super::config::FederationConfig;
use super::export_cache::{Export, ExportCache};
use super::nodes::Nodes;
use super::remote_names::RemoteNames;
use super::status::{Counters, FederationStatus};
use super::subject::{topic_to_subject, valid_node_name, Subjects};
use super::wire;
use crate::broker::remote::RemoteRoute;
use crate::logging::{Escaped, LogLimiter};
use crate::matching::topic_matches;
use crate::protocol;

/// nats-server's default `max_payload` (1 MiB), assumed until a server says.
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// One frame for NATS.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) subject: Subject,
    /// The one NATS header of the frame, if any (publications and announcements).
    pub(crate) header: Option<(HeaderName, String)>,
    pub(crate) payload: Bytes,
    /// What it counts against [`FederationConfig::queue_bytes`].
    pub(crate) cost: usize,
}

impl Outbound {
    /// A frame to `subject`; its cost is the subject, the header and the payload.
    pub(crate) fn new(
        subject: impl Into<Subject>,
        header: Option<(HeaderName, String)>,
        payload: Bytes,
    ) -> Self {
        let subject = subject.into();
        let header_cost = header.as_ref().map_or(0, |(name, value)| {
            AsRef::<str>::as_ref(name).len() + value.len() + 4
        });
        Outbound {
            cost: subject.len() + header_cost + payload.len() + 16,
            subject,
            header,
            payload,
        }
    }

    /// Hands a copy of the frame to `client` (the subject and payload are shared, not
    /// copied), keeping the frame for a second try.
    pub(crate) async fn publish(
        &self,
        client: &async_nats::Client,
    ) -> Result<(), async_nats::PublishError> {
        let header = self
            .header
            .as_ref()
            .map(|(name, value)| (name.clone(), value.clone()));
        publish(client, self.subject.clone(), header, self.payload.clone()).await
    }

    /// Hands the frame itself to `client`.
    pub(crate) async fn publish_owned(
        self,
        client: &async_nats::Client,
    ) -> Result<(), async_nats::PublishError> {
        publish(client, self.subject, self.header, self.payload).await
    }
}

async fn publish(
    client: &async_nats::Client,
    subject: Subject,
    header: Option<(HeaderName, String)>,
    payload: Bytes,
) -> Result<(), async_nats::PublishError> {
    match header {
        None => client.publish(subject, payload).await,
        Some((name, value)) => {
            let mut headers = HeaderMap::new();
            headers.insert(name, value);
            client.publish_with_headers(subject, headers, payload).await
        }
    }
}

/// A payload's share of the gateway's byte count, given back when the last handle to the
/// payload is dropped (the NATS client wrote it, or the frame was dropped unsent).
struct Held {
    payload: Bytes,
    cost: usize,
    count: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.payload
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.count.fetch_sub(self.cost, Ordering::Relaxed);
    }
}

/// The router's view of the federation.
#[derive(Debug)]
pub(crate) struct Gateway {
    pub(crate) node: String,
    pub(crate) subjects: Subjects,
    exports: Vec<String>,
    export_cache: ExportCache,
    /// The import patterns in configuration order, each with its NATS subject.
    pub(crate) imports: Vec<(String, String)>,
    queue: mpsc::Sender<Outbound>,
    /// Bytes of the frames accepted and not yet written by the NATS client, queued or not.
    held_bytes: Arc<AtomicUsize>,
    /// Frames in the queue or being handed to NATS by its sender: while any is, no frame
    /// goes to the client directly (that would overtake it).
    pending: AtomicUsize,
    /// The NATS client, once the node name was found free (the direct path).
    client: OnceLock<async_nats::Client>,
    max_bytes: usize,
    /// Whether frames can go to NATS: the connection is up and the node name was found free
    /// (set by the connection's events).
    pub(crate) connected: AtomicBool,
    /// Whether the duplicate-name check passed on some connection.
    verified: AtomicBool,
    /// Whether the check found the name taken: the node never federates then.
    refused: AtomicBool,
    /// The server's `max_payload`, from its INFO.
    pub(crate) max_payload: AtomicUsize,
    pub(crate) nodes: Nodes,
    /// The names the other nodes announced.
    pub(crate) remote_names: RemoteNames,
    pub(crate) counters: Counters,
    /// Woken when local subscriptions change.
    pub(crate) interest: Notify,
    unexportable_log: LogLimiter,
    /// Which of `imports` are held as NATS subscriptions now, by index.
    active: Mutex<Vec<bool>>,
    /// Nodes newly up whose names this node has not asked for yet.
    joined: Mutex<Vec<String>>,
    /// Woken when `joined` grows.
    pub(crate) joined_wake: Notify,
}

impl Gateway {
    /// The counters and state at this instant.
    pub(crate) fn status_now(&self) -> FederationStatus {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counters;
        let (queue_frames, queue_bytes) = self.queued();
        FederationStatus {
            node: self.node.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            exported: load(&c.exported),
            imported: load(&c.imported),
            dropped: load(&c.dropped),
            unexportable: load(&c.unexportable),
            loop_dropped: load(&c.loop_dropped),
            too_large: load(&c.too_large),
            refused: load(&c.refused),
            queue_frames,
            queue_bytes,
            imports: self.active_imports(),
            remote_names: self.remote_names.len(),
            unlisted_names: self.remote_names.unlisted.load(Ordering::Relaxed),
        }
    }

    /// The gateway for `config` (validated) and the receiving end of its queue.
    pub(crate) fn new(config: &FederationConfig) -> (Arc<Gateway>, mpsc::Receiver<Outbound>) {
        let (queue, rx) = mpsc::channel(config.queue_frames);
        let imports = config
            .import
            .iter()
            .filter_map(|p| {
                let subject = topic_to_subject(p, true).ok()?;
                Some((p.clone(), subject))
            })
            .collect();
        let subjects = Subjects::new(&config.cluster);
        let gateway = Gateway {
            node: config.node.clone(),
            subjects,
            exports: config.export.clone(),
            export_cache: ExportCache::default(),
            imports,
            queue,
            held_bytes: Arc::new(AtomicUsize::new(0)),
            pending: AtomicUsize::new(0),
            client: OnceLock::new(),
            max_bytes: config.queue_bytes,
            connected: AtomicBool::new(false),
            verified: AtomicBool::new(false),
            refused: AtomicBool::new(false),
            // NATS' default until the server's INFO says otherwise.
            max_payload: AtomicUsize::new(DEFAULT_MAX_PAYLOAD),
            nodes: Nodes::default(),
            remote_names: RemoteNames::default(),
            counters: Counters::default(),
            interest: Notify::new(),
            unexportable_log: LogLimiter::with_default_rate("unexportable topics"),
            active: Mutex::new(vec![false; config.import.len()]),
            joined: Mutex::new(Vec::new()),
            joined_wake: Notify::new(),
        };
        (Arc::new(gateway), rx)
    }

    /// The NATS connection came up: usable at once if the node name was checked before.
    pub(crate) fn link_up(&self) {
        if self.verified.load(Ordering::Acquire) && !self.refused.load(Ordering::Acquire) {
            self.connected.store(true, Ordering::Relaxed);
        }
    }

    /// The duplicate-name check passed on `client`'s connection: frames may go.
    pub(crate) fn verified(&self, client: &async_nats::Client) {
        self.verified.store(true, Ordering::Release);
        let _ = self.client.set(client.clone());
        self.refresh_max_payload(client);
        if client.connection_state() == async_nats::connection::State::Connected {
            self.connected.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the duplicate-name check passed.
    pub(crate) fn is_verified(&self) -> bool {
        self.verified.load(Ordering::Acquire)
    }

    /// The node name is taken: nothing goes to NATS from now on.
    pub(crate) fn refuse(&self) {
        self.refused.store(true, Ordering::Release);
        self.connected.store(false, Ordering::Relaxed);
    }

    /// Reads the server's `max_payload` (a client that has not seen the server's INFO yet
    /// reports 0: the value is then kept).
    pub(crate) fn refresh_max_payload(&self, client: &async_nats::Client) {
        let max = client.server_info().max_payload;
        if max > 0 {
            self.max_payload.store(max, Ordering::Relaxed);
        }
    }

    /// The sender handed a queued frame to NATS (or dropped it).
    pub(crate) fn sent(&self) {
        self.pending.fetch_sub(1, Ordering::Release);
    }

    /// Frames waiting in the queue and bytes not yet written to NATS, now.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let frames = self.queue.max_capacity() - self.queue.capacity();
        (frames, self.held_bytes.load(Ordering::Relaxed))
    }

    /// Sends or queues `out`; the ACK code of the frame it carries. Within the byte bound,
    /// with nothing queued, the frame goes to the client's channel directly if that has room;
    /// otherwise (or when the client's channel is full) it is queued, within the queue's frame
    /// limit.
    pub(crate) fn enqueue(&self, mut out: Outbound) -> u8 {
        if !self.connected.load(Ordering::Relaxed) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return protocol::ERR_NOT_DELIVERED;
        }
        if out.cost > self.max_payload.load(Ordering::Relaxed) {
            self.counters.too_large.fetch_add(1, Ordering::Relaxed);
            return protocol::ERR_DATA;
        }
        if out.cost > self.max_bytes {
            // Could never be queued: refused whichever way it would go.
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return protocol::ERR_NOT_DELIVERED;
        }
        let before = self.held_bytes.fetch_add(out.cost, Ordering::Relaxed);
        if before + out.cost > self.max_bytes {
            self.held_bytes.fetch_sub(out.cost, Ordering::Relaxed);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return protocol::ERR_NOT_DELIVERED;
        }
        // From here on, dropping the frame (or the client writing it) gives the bytes back.
        out.payload = Bytes::from_owner(Held {
            payload: std::mem::take(&mut out.payload),
            cost: out.cost,
            count: self.held_bytes.clone(),
        });
        if self.pending.load(Ordering::Acquire) == 0 {
            if let Some(client) = self.client.get() {
                // Ready at once when the client's channel has room; a send still pending is
                // dropped unsent (the channel's send is cancel-safe) and the frame is queued.
                match out.publish(client).now_or_never() {
                    Some(Ok(())) => {
                        self.counters.exported.fetch_add(1, Ordering::Relaxed);
                        return protocol::RESPONSE_OK;
                    }
                    Some(Err(_)) => {
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        return protocol::ERR_NOT_DELIVERED;
                    }
                    None => {}
                }
            }
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        match self.queue.try_send(out) {
            Ok(()) => protocol::RESPONSE_OK,
            Err(_) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                protocol::ERR_NOT_DELIVERED
            }
        }
    }

    /// The ACK code for a frame to `node` that cannot be queued, if any: `0x77` while NATS is
    /// down, `0x71` for a node that is unknown or silent.
    fn refuse_node(&self, node: &str) -> Option<u8> {
        if !self.connected.load(Ordering::Relaxed) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Some(protocol::ERR_NOT_DELIVERED);
        }
        if !valid_node_name(node) || !self.nodes.is_up(node) {
            return Some(protocol::ERR_CLIENT_NOT_REGISTERED);
        }
        None
    }

    /// A message or broadcast from the local `sender` to `target` (a name or mask) on
    /// `subject`: the prefix and the payload in one buffer, no NATS header.
    pub(crate) fn prefixed(
        &self,
        subject: String,
        sender: &str,
        target: &str,
        payload: &[&[u8]],
        rt: bool,
    ) -> Outbound {
        let body: usize = payload.iter().map(|part| part.len()).sum();
        let mut buf = Vec::with_capacity(wire::prefix_len(&self.node, sender, target) + body);
        wire::write_prefix(&mut buf, &self.node, sender, target, rt);
        for part in payload {
            buf.extend_from_slice(part);
        }
        Outbound::new(subject, None, buf.into())
    }

    /// `node` came up: its names are to be asked for (a name snapshot).
    pub(crate) fn node_joined(&self, node: &str) {
        crate::sync::recover(self.joined.lock()).push(node.to_owned());
        self.joined_wake.notify_one();
    }

    /// The nodes that came up since the last call.
    pub(crate) fn take_joined(&self) -> Vec<String> {
        std::mem::take(&mut *crate::sync::recover(self.joined.lock()))
    }

    /// Records which imports are subscribed now.
    pub(crate) fn set_active(&self, index: usize, on: bool) {
        if let Some(flag) = crate::sync::recover(self.active.lock()).get_mut(index) {
            *flag = on;
        }
    }

    /// The import patterns subscribed now.
    pub(crate) fn active_imports(&self) -> Vec<String> {
        let active = crate::sync::recover(self.active.lock());
        self.imports
            .iter()
            .zip(active.iter())
            .filter(|(_, on)| **on)
            .map(|((pattern, _), _)| pattern.clone())
            .collect()
    }

    /// Whether the import `index` is the first subscribed one matching `topic`: a publication
    /// matching several overlapping imports arrives once per subscription, and only the first
    /// one routes it (exactly one copy).
    pub(crate) fn routes_import(&self, index: usize, topic: &str) -> bool {
        if self.imports.len() == 1 {
            // The only import: nothing overlaps it (and no lock on the common path).
            return true;
        }
        let active = crate::sync::recover(self.active.lock());
        self.imports
            .iter()
            .zip(active.iter())
            .position(|((pattern, _), on)| *on && topic_matches(pattern, topic))
            == Some(index)
    }

    /// Whether and where a publication to `topic` leaves (remembered per topic).
    fn export_of(&self, topic: &str) -> Export {
        self.export_cache.get_or_decide(topic, || {
            if !self.exports.iter().any(|p| topic_matches(p, topic)) {
                return Export::NotListed;
            }
            match self.subjects.publication(topic) {
                Ok(subject) if wire::header_safe(topic) => Export::To(subject.into()),
                Ok(_) | Err(_) => Export::Unexportable,
            }
        })
    }
}

impl RemoteRoute for Gateway {
    fn node(&self) -> &str {
        &self.node
    }

    fn message(&self, sender: &str, node: &str, target: &str, payload: &[&[u8]], rt: bool) -> u8 {
        if let Some(code) = self.refuse_node(node) {
            return code;
        }
        if !wire::header_safe(target)
            || !wire::header_safe(sender)
            || !wire::prefix_fits(&self.node, sender, target)
        {
            return protocol::ERR_DATA;
        }
        let out = self.prefixed(self.subjects.messages(node), sender, target, payload, rt);
        self.enqueue(out)
    }

    fn broadcast(
        &self,
        sender: &str,
        node: Option<&str>,
        mask: &str,
        payload: &[&[u8]],
        rt: bool,
    ) -> u8 {
        let subject = match node {
            Some(node) => {
                if let Some(code) = self.refuse_node(node) {
                    return code;
                }
                self.subjects.broadcasts(node)
            }
            None => self.subjects.broadcast_all(),
        };
        if !wire::header_safe(mask)
            || !wire::header_safe(sender)
            || !wire::prefix_fits(&self.node, sender, mask)
        {
            return protocol::ERR_DATA;
        }
        let out = self.prefixed(subject, sender, mask, payload, rt);
        self.enqueue(out)
    }

    fn publication(&self, sender: &str, topic: &str, payload: &[&[u8]], rt: bool) {
        let subject = match self.export_of(topic) {
            Export::NotListed => return,
            Export::To(subject) if wire::header_safe(sender) => subject,
            Export::To(_) | Export::Unexportable => {
                self.counters.unexportable.fetch_add(1, Ordering::Relaxed);
                if self.unexportable_log.allow() {
                    warn!(
                        "federation: publication to {} from {} not exported: no NATS subject \
                         or header for them",
                        Escaped(topic),
                        Escaped(sender)
                    );
                }
                return;
            }
        };
        let header = wire::publication_header(&self.node, topic, sender, rt);
        let out = Outbound::new(
            subject,
            Some((wire::ELBUS, header)),
            Bytes::from(payload.concat()),
        );
        self.enqueue(out);
    }

    fn interest_changed(&self) {
        if !self.imports.is_empty() {
            self.interest.notify_one();
        }
    }

    fn registration(&self, name: &str, registered: bool) {
        if !self.connected.load(Ordering::Relaxed) || !wire::header_safe(name) {
            return;
        }
        let subject = self.subjects.node(&self.node, "info");
        let event = if registered { "reg " } else { "unreg " };
        let out = Outbound::new(
            subject,
            Some((wire::EVENT, [event, name].concat())),
            Bytes::new(),
        );
        // Announcements are counted with the rest; a full queue drops them like frames.
        self.enqueue(out);
    }

    fn node_list(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct NodeList<'a> {
            node: &'a str,
            nodes: Vec<super::nodes::NodeReport>,
        }
        let list = NodeList {
            node: &self.node,
            nodes: self.nodes.report(),
        };
        rmp_serde::to_vec_named(&list).unwrap_or_default()
    }

    fn remote_names(&self) -> Vec<String> {
        self.remote_names.list()
    }

    fn status(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(&self.status_now()).unwrap_or_default()
    }
}
