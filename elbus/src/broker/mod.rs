//! The embeddable broker: client registry, routing, socket listeners and in-process clients.
//!
//! A [`Broker`] is a cheap handle; clone it freely. Clients reach it three ways:
//!
//! * in process: [`Broker::register_client`] returns a [`Client`] that talks to the broker
//!   through inter-thread channels (any name, `.`-prefixed ones included);
//! * over a UNIX socket: [`Broker::spawn_unix_server`];
//! * over TCP: [`Broker::spawn_tcp_server`].
//!
//! Several listeners may run on one broker. Inside, each client has one outbound queue
//! ([`queue`](self) module); routing ([`router`](self)) never blocks on a slow client: a client
//! whose queue overflows is handled by its [`OverflowPolicy`]. The task that routed a frame
//! writes it into an idle recipient's socket itself, without waiting ([`sink`](self) module);
//! the recipient's writer task only writes what the socket would not take at once. With
//! [`BrokerOptions::busy_poll`] set, one runtime worker keeps polling the sockets for that long
//! after the last input instead of sleeping at once ([`busy_poll`](self) module), which saves
//! a thread wake-up on most round trips under load.
//!
//! Memory follows the limits: each queued item counts at its memory cost against its client's
//! [`QueueLimits::max_bytes`] and against the broker-wide [`BrokerOptions::max_queued_bytes`],
//! and large frames being read reserve their length from [`BrokerOptions::max_reading_bytes`]
//! before their body is read. [`ServerConfig::validate`] checks that a listener's limits let
//! every frame it accepts be read and delivered.
//!
//! # Access control
//!
//! UNIX sockets are created with [`ServerConfig::unix_mode`] (default
//! [`ServerConfig::DEFAULT_UNIX_MODE`], 0o660: owner and group, whatever the umask) and an
//! optional [`ServerConfig::unix_group`]. The broker reads each UNIX peer's uid, gid and pid
//! ([`PeerCredentials`], shown by `client.list`). [`ServerConfig::access_control`] holds a
//! listener's clients to an [`AccessControl`] (built in code, or parsed from TOML with the
//! `acl-file` feature; the format is documented in `elbus/examples/acl.toml`): who may register
//! which names (uids/gids for UNIX peers, source networks for TCP peers) and which targets,
//! broadcast masks, topics and subscriptions each may use, with the original broker's AAA
//! semantics (`protocol.md` §8.9) and `0x79` results. The rules are captured at connect time;
//! swap them for new connections through a [`SharedAccessControl`], and disconnect live clients
//! with [`Broker::force_disconnect`]. Without rules nothing is checked: a client entry holds
//! `None` and routing pays a single branch.
//!
//! ```no_run
//! # async fn demo() -> Result<(), elbus::Error> {
//! use elbus::broker::{Broker, ServerConfig};
//! use elbus::{AsyncClient, QoS};
//!
//! let broker = Broker::new();
//! broker.spawn_unix_server("/tmp/elbus.sock", ServerConfig::new()).await?;
//! let client = broker.register_client("svc.worker")?;
//! client.publish("news/today", b"hello", QoS::No).await?;
//! # Ok(()) }
//! ```

mod access;
mod busy_poll;
mod config;
mod gauges;
mod in_process;
mod limits;
mod listener;
mod path_limits;
mod path_lock;
mod peer;
mod queue;
mod registry;
#[cfg_attr(not(feature = "federation"), allow(dead_code))]
pub(crate) mod remote;
mod router;
mod serving;
mod session;
mod sink;
pub(crate) mod stats;
mod topic_stats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

pub use access::{
    AccessControl, AccessRule, IpNetwork, PeerCredentials, RemoteRule, SharedAccessControl,
};
pub use config::{BrokerOptions, OverflowPolicy, QueueLimits, ServerConfig};
pub use in_process::Client;
pub use listener::MAX_UNIX_PATH;
pub use path_limits::PathLimits;
pub(crate) use path_lock::PathLock;
pub use peer::ClientKind;
pub use registry::ClientInfo;
pub(crate) use router::Injector;
pub use stats::CounterSnapshot;
pub use topic_stats::{TopicStats, TopicTraffic, MAX_TRACKED_TOPICS};

use crate::logging::{Escaped, LogLimiter};
use crate::{protocol, Error};
use peer::Peer;
use queue::{OutQueue, QueueBudget};
use registry::{ClientEntry, Registry};
use router::{Delivery, RouteScratch};
use stats::{ApiCounters, Counters, OpCounters};

pub use crate::protocol::{BROKER_NAME, INFO_TOPIC, WARN_TOPIC};

/// Broker-wide statistics (the `.broker` `stats` method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerStats {
    /// Seconds since the broker was created.
    pub uptime: u64,
    /// Broker-wide counters.
    pub counters: CounterSnapshot,
    /// Clients registered now, secondaries included.
    pub clients: usize,
}

/// An embeddable elbus broker.
#[derive(Clone, Debug)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

#[derive(Debug)]
struct ListenerHandle {
    task: tokio::task::JoinHandle<()>,
    /// The lock of the socket or FIFO path this listener owns; releasing it removes the file.
    path_lock: Option<PathLock>,
}

/// The shared state behind [`Broker`] handles.
#[derive(Debug)]
pub(crate) struct BrokerInner {
    registry: Registry,
    options: BrokerOptions,
    counters: Counters,
    /// Broker-wide counters by operation, ACK code and drop reason (the metrics).
    ops: OpCounters,
    /// Counters of the `.broker` API, kept here so they outlive (and need not know) the
    /// `BrokerApi` handle.
    #[cfg_attr(
        not(any(feature = "broker-api", feature = "metrics")),
        allow(dead_code)
    )]
    pub(crate) api: ApiCounters,
    /// Publications per topic ([`Broker::topic_stats`]).
    topics: topic_stats::TopicTable,
    next_id: AtomicU64,
    started: Instant,
    drop_log: LogLimiter,
    /// Access denials are logged through their own limiter, so a denied flood cannot hide the
    /// drop warnings (or the other way round).
    deny_log: LogLimiter,
    /// Errors that end a client's session (bad frames, refused names, timeouts): a client can
    /// cause one per connection, so they are limited too.
    pub(crate) client_error_log: LogLimiter,
    /// Forced disconnects and evictions of a previous instance, which clients can cause.
    disconnect_log: LogLimiter,
    /// Refused names, topics and patterns are logged through their own limiter too.
    refusal_log: LogLimiter,
    listeners: Mutex<Vec<ListenerHandle>>,
    /// Present when [`BrokerOptions::busy_poll`] is not zero; sessions report input to it.
    busy_poll: Option<Arc<busy_poll::BusyPoll>>,
    /// The busy-poll task, running while socket listeners do.
    busy_poll_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Bytes queued for all clients ([`BrokerOptions::max_queued_bytes`]).
    queue_budget: Arc<QueueBudget>,
    /// Bytes of large frames being read from all socket clients, one permit a byte
    /// ([`BrokerOptions::max_reading_bytes`]).
    read_budget: tokio::sync::Semaphore,
    /// The federation gateway, once one joins (`remote` module); unset: federation is off.
    remote: std::sync::OnceLock<Arc<dyn remote::RemoteRoute>>,
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new()
    }
}

impl Broker {
    /// A broker with default options.
    pub fn new() -> Self {
        Broker::with_options(BrokerOptions::default())
    }

    /// A broker with `options` (see [`BrokerOptions::validate`]; the listeners refuse to start
    /// with options that are not valid).
    pub fn with_options(options: BrokerOptions) -> Self {
        let queue_budget = Arc::new(QueueBudget::new(options.max_queued_bytes));
        let read_budget = tokio::sync::Semaphore::new(
            options
                .max_reading_bytes
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        );
        let busy_poll =
            (!options.busy_poll.is_zero()).then(|| busy_poll::BusyPoll::new(options.busy_poll));
        Broker {
            inner: Arc::new(BrokerInner {
                registry: Registry::default(),
                options,
                counters: Counters::default(),
                ops: OpCounters::default(),
                api: ApiCounters::default(),
                topics: topic_stats::TopicTable::default(),
                next_id: AtomicU64::new(1),
                started: Instant::now(),
                drop_log: LogLimiter::with_default_rate("queue drops"),
                deny_log: LogLimiter::with_default_rate("access denials"),
                client_error_log: LogLimiter::with_default_rate("client errors"),
                disconnect_log: LogLimiter::with_default_rate("forced disconnects"),
                refusal_log: LogLimiter::with_default_rate("refused names and patterns"),
                listeners: Mutex::new(Vec::new()),
                busy_poll,
                busy_poll_task: Mutex::new(None),
                queue_budget,
                read_budget,
                remote: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The options the broker runs with.
    pub fn options(&self) -> &BrokerOptions {
        &self.inner.options
    }

    /// Registers an in-process client. Any non-empty name is accepted, `.`-prefixed ones too;
    /// `NAME%%suffix` registers a secondary of `NAME`. Must be called inside a Tokio runtime.
    pub fn register_client(&self, name: &str) -> Result<Client, Error> {
        self.inner.options.internal_queue.validate()?;
        Client::register(self.inner.clone(), name)
    }

    /// Bytes queued for all clients now, counted as [`BrokerOptions::max_queued_bytes`] counts
    /// them.
    pub fn queued_bytes(&self) -> usize {
        self.inner.queue_budget.used()
    }

    /// Serves one already-connected byte stream as a socket client: the handshake of §2,
    /// registration, then its frames, until it closes. The listeners do this for each accepted
    /// connection; this entry point lets other transports (or a test, or a fuzzer driving an
    /// in-memory `tokio::io::duplex` pipe) reach the same code. `label` names the stream in the
    /// client table and the logs, as a listener's path does. A `config` that fails
    /// [`ServerConfig::validate`] is logged and the stream dropped.
    pub async fn serve_stream<S>(&self, stream: S, config: ServerConfig, label: &str)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin,
    {
        if let Err(err) = self.check_config(&config) {
            // Nothing to return an error to: refuse the stream, once per call, in the log.
            warn!("{label}: not served: {err}");
            return;
        }
        let (reader, writer) = tokio::io::split(stream);
        // No credentials to read: rules of the config still apply, and a uid/gid restriction
        // refuses such a stream.
        let peer = Peer::local(Arc::from(label), None);
        session::serve(
            self.inner.clone(),
            reader,
            sink::StreamWriter(writer),
            None,
            Arc::new(config),
            peer,
        )
        .await;
    }

    #[cfg(feature = "broker-api")]
    /// Tracks a task that serves a listener-like endpoint (such as a FIFO) so that
    /// [`Broker::stop_listeners`] stops it and releases `path_lock` (removing the file it
    /// claimed).
    pub(crate) fn add_listener_task(
        &self,
        task: tokio::task::JoinHandle<()>,
        path_lock: Option<PathLock>,
    ) {
        self.inner.add_listener(ListenerHandle { task, path_lock });
    }

    /// Disconnects the socket client `name` (and its secondaries).
    ///
    /// Fails with `NotRegistered` for an unknown name and `NotSupported` for in-process clients.
    pub fn force_disconnect(&self, name: &str) -> Result<(), Error> {
        let entry = self
            .inner
            .registry
            .lookup(name)
            .ok_or_else(Error::not_registered)?;
        if entry.peer.kind == ClientKind::Internal {
            return Err(Error::not_supported(
                "in-process clients cannot be disconnected",
            ));
        }
        self.inner
            .force_disconnect_entry(&entry, "disconnected on request");
        Ok(())
    }

    /// Broker-wide statistics.
    pub fn stats(&self) -> BrokerStats {
        BrokerStats {
            uptime: self.inner.started.elapsed().as_secs(),
            counters: self.inner.counters.snapshot(),
            clients: self.inner.registry.len(),
        }
    }

    /// Publication traffic per topic (the `.broker` `topic.list` method): the first
    /// [`MAX_TRACKED_TOPICS`] topics published one by one, later ones together as `other`.
    pub fn topic_stats(&self) -> TopicStats {
        self.inner.topics.snapshot()
    }

    /// The client registered under the full name `name` (a secondary too), if any.
    pub fn client_info(&self, name: &str) -> Option<ClientInfo> {
        self.inner.registry.info(name)
    }

    /// Every registered primary client, sorted by name (the `.broker` `client.list` method).
    pub fn client_list(&self) -> Vec<ClientInfo> {
        self.inner.registry.list()
    }

    /// The subscription patterns of client `name`, sorted; `None` if it is not registered.
    pub fn subscriptions_of(&self, name: &str) -> Option<Vec<String>> {
        self.inner.registry.subscriptions_of(name)
    }

    /// The id of the client registered under the full name `name`: what tells one connection
    /// from a later one under the same name.
    #[cfg(feature = "broker-api")]
    pub(crate) fn client_id(&self, name: &str) -> Option<u64> {
        self.inner.registry.lookup(name).map(|entry| entry.id)
    }

    /// Whether the client with id `id` is still registered.
    #[cfg(feature = "broker-api")]
    pub(crate) fn is_client_registered(&self, id: u64) -> bool {
        self.inner.registry.is_registered(id)
    }

    /// Publishes the shutdown announcement on `.broker/warn` (needs the `.broker` client).
    pub fn announce_shutdown(&self) {
        self.inner.announce(WARN_TOPIC, "shutdown", None);
    }

    /// Stops every listener and removes the UNIX socket and FIFO files it created (each only
    /// if it is still the file this broker created) and their lock files. Connected clients
    /// are left alone.
    pub fn stop_listeners(&self) {
        self.inner.stop_busy_poll();
        let listeners = std::mem::take(&mut *self.inner.lock_listeners());
        for listener in listeners {
            listener.task.abort();
            if let Some(lock) = listener.path_lock {
                lock.release();
            }
        }
    }

    /// Waits until every client's outbound queue is empty, or `deadline` passes. Used at
    /// shutdown so the last announcement reaches the clients.
    pub async fn wait_queues_drained(&self, deadline: Instant) {
        const POLL: Duration = Duration::from_millis(10);
        while self.inner.registry.queued_frames() > 0 && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
    }

    /// Time since the broker was created.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The shared state, for the modules that read its counters (`broker_api`, `metrics`).
    #[cfg_attr(
        not(any(feature = "broker-api", feature = "metrics")),
        allow(dead_code)
    )]
    pub(crate) fn inner(&self) -> &BrokerInner {
        &self.inner
    }
}

impl BrokerInner {
    /// Every broker-wide counter and gauge the metrics read, at one instant (each value read
    /// with a relaxed load: no lock is taken).
    #[cfg(feature = "metrics")]
    pub(crate) fn metrics_snapshot(&self) -> stats::MetricsSnapshot {
        stats::MetricsSnapshot {
            counters: self.counters.snapshot(),
            ops: self.ops.snapshot(),
            api: self.api.snapshot(),
            registry: self.registry.gauges.snapshot(),
            queued_bytes: self.queue_budget.used(),
            max_queued_bytes: self.options.max_queued_bytes,
            uptime: self.started.elapsed(),
        }
    }

    fn lock_listeners(&self) -> std::sync::MutexGuard<'_, Vec<ListenerHandle>> {
        crate::sync::recover(self.listeners.lock())
    }

    fn add_listener(&self, handle: ListenerHandle) {
        self.lock_listeners().push(handle);
    }

    fn lock_busy_poll_task(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        crate::sync::recover(self.busy_poll_task.lock())
    }

    /// Starts the busy-poll task if the options ask for one and it is not running yet.
    fn start_busy_poll(&self) {
        if let Some(poll) = &self.busy_poll {
            let mut task = self.lock_busy_poll_task();
            if task.is_none() {
                *task = Some(tokio::spawn(poll.clone().run()));
            }
        }
    }

    fn stop_busy_poll(&self) {
        if let Some(task) = self.lock_busy_poll_task().take() {
            task.abort();
        }
    }

    /// Tells the busy-poll task (if any) that a socket read brought bytes in.
    #[inline]
    pub(crate) fn socket_input(&self) {
        if let Some(poll) = &self.busy_poll {
            poll.input();
        }
    }

    /// A new client entry with a fresh id.
    pub(crate) fn new_entry(
        &self,
        name: &str,
        peer: Peer,
        access: Option<Arc<AccessRule>>,
        queue: QueueLimits,
    ) -> Arc<ClientEntry> {
        Arc::new(ClientEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name: Arc::from(name),
            peer,
            queue: OutQueue::new(queue, self.queue_budget.clone()),
            counters: Counters::default(),
            evicted: Default::default(),
            access,
        })
    }

    /// Counts and logs (rate-limited) an operation or registration the access-control rules
    /// refused; `client` is `None` when the refused client never got registered.
    pub(crate) fn count_denied(&self, client: Option<&ClientEntry>, what: &dyn std::fmt::Display) {
        if let Some(client) = client {
            client.counters.count_denied();
        }
        self.counters.count_denied();
        if self.deny_log.allow() {
            let what = Escaped(what);
            match client {
                Some(client) => {
                    let name = Escaped(&client.name);
                    warn!(client = %name, "client {name}: access denied: {what}")
                }
                None => warn!("access denied: {what}"),
            }
        }
    }

    /// Adds `entry` to the registry (closing an instance it evicts) and announces it.
    pub(crate) fn register_entry(&self, entry: &Arc<ClientEntry>) -> Result<(), Error> {
        self.check_local_name(&entry.name)?;
        let evicted = self
            .registry
            .register(entry.clone(), self.options.force_register)?;
        for old in evicted.clients {
            if !old.is_secondary() && self.disconnect_log.allow() {
                warn!("disconnecting previous instance of {}", Escaped(&old.name));
            }
            old.queue.close();
        }
        if !entry.is_secondary() && &*entry.name != BROKER_NAME {
            self.announce(INFO_TOPIC, "reg", Some(&entry.name));
            self.registration_changed(&entry.name, true);
        }
        Ok(())
    }

    /// Whether `name` is held by a socket client whose peer has already hung up.
    pub(crate) fn holder_hung_up(&self, name: &str) -> bool {
        self.registry
            .lookup(name)
            .is_some_and(|holder| holder.queue.peer_hung_up())
    }

    /// Removes `entry` (if still registered) with its secondaries, closes their queues and
    /// announces the unregistration of a primary.
    pub(crate) fn unregister_entry(&self, entry: &ClientEntry, announce: bool) {
        let removed = self.registry.unregister(entry.id);
        for client in &removed.clients {
            client.queue.close();
        }
        if !removed.clients.is_empty() {
            self.interest_changed();
        }
        let was_registered = removed.clients.first().is_some_and(|c| c.id == entry.id);
        if announce
            && was_registered
            && !entry.is_secondary()
            && !entry.evicted.load(Ordering::Relaxed)
            && &*entry.name != BROKER_NAME
        {
            self.announce(INFO_TOPIC, "unreg", Some(&entry.name));
            self.registration_changed(&entry.name, false);
        }
    }

    /// Disconnects a client the broker gave up on, counting and logging why.
    pub(crate) fn force_disconnect_entry(&self, entry: &ClientEntry, reason: &str) {
        if !self.registry.is_registered(entry.id) {
            entry.queue.close();
            return;
        }
        entry.counters.count_forced_disconnect();
        self.counters.count_forced_disconnect();
        if self.disconnect_log.allow() {
            let name = Escaped(&entry.name);
            warn!(
                client = %name,
                queue = entry.queue.len(),
                "client {name}: {reason}, force unregistering"
            );
        }
        entry.queue.close();
        self.unregister_entry(entry, true);
    }

    /// Publishes an announcement from `.broker`, if the broker has its own client.
    pub(crate) fn announce(&self, topic: &str, event: &str, name: Option<&str>) {
        let Some(broker_client) = self.registry.lookup(BROKER_NAME) else {
            return;
        };
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let announcement = crate::protocol::Announcement {
            s: event,
            d: name,
            t,
        };
        match rmp_serde::to_vec_named(&announcement) {
            Ok(payload) => {
                self.publish(
                    &broker_client,
                    topic,
                    None,
                    &[&payload],
                    Delivery::of_payload(&[&payload], false),
                    &mut RouteScratch::default(),
                );
            }
            Err(err) => warn!("unable to encode the {event} announcement: {err}"),
        }
    }
}

/// The result byte a registration error is answered with.
pub(crate) fn registration_code<T>(result: &Result<T, Error>) -> u8 {
    match result {
        Ok(_) => protocol::RESPONSE_OK,
        Err(err) => err.kind().code(),
    }
}

#[cfg(all(test, feature = "ipc"))]
mod tests;
