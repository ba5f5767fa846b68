//! The table of registered clients and their subscriptions, exclusions and secondaries.
//!
//! One `RwLock` guards it all. Routing takes the read lock just long enough to collect the
//! recipients; nothing awaits while holding it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::access::{AccessRule, PeerCredentials};
use super::gauges::{PatternCount, RegistryGauges};
use super::peer::{ClientKind, Peer};
use super::queue::OutQueue;
use super::stats::Counters;
use crate::matching::{NameIndex, TopicIndex};
use crate::protocol::{self, WARN_TOPIC};
use crate::Error;

/// Identifies one registration of a client; never reused within a broker.
pub(crate) type ClientId = u64;

/// A registered client as the router sees it: identity, outbound queue and counters.
#[derive(Debug)]
pub(crate) struct ClientEntry {
    pub(crate) id: ClientId,
    pub(crate) name: Arc<str>,
    pub(crate) peer: Peer,
    pub(crate) queue: OutQueue,
    pub(crate) counters: Counters,
    /// Set when a force-register evicted this client: no `unreg` announcement then.
    pub(crate) evicted: AtomicBool,
    /// The access-control rule captured at connect time; `None` (no rules in force, or an
    /// in-process client): nothing is checked, and routing pays a single branch.
    pub(crate) access: Option<Arc<AccessRule>>,
}

impl ClientEntry {
    /// The name up to the first `%%`.
    pub(crate) fn primary_name(&self) -> &str {
        protocol::primary_name(&self.name)
    }

    /// Whether this is a secondary client (`NAME%%suffix`).
    pub(crate) fn is_secondary(&self) -> bool {
        self.name.contains(protocol::SECONDARY_SEP)
    }
}

#[derive(Debug)]
struct ClientSlot {
    entry: Arc<ClientEntry>,
    /// The exact subscription strings (unsubscribe removes exactly a string, §8.2).
    subscriptions: HashSet<Box<str>>,
    /// The exact exclusion strings; matched through `exclusion_index`.
    exclusions: HashSet<Box<str>>,
    /// The exclusions as a trie, so a publication checks a subscriber's exclusions in time
    /// that follows the topic, not the number of exclusions; allocated on the first one.
    exclusion_index: Option<Box<TopicIndex<()>>>,
    secondaries: Vec<ClientId>,
}

impl ClientSlot {
    /// Whether one more pattern may be added within a limit of `max` subscriptions and
    /// exclusions together.
    fn has_room(&self, max: usize) -> bool {
        self.subscriptions.len() + self.exclusions.len() < max
    }
}

/// Gives back most of a set's memory once it has shrunk to a quarter of its capacity; the
/// factor-of-four gap keeps churn around one size from reallocating every time.
fn shrink_if_sparse<T: std::hash::Hash + Eq, S: std::hash::BuildHasher>(set: &mut HashSet<T, S>) {
    if set.len() * 4 < set.capacity() {
        set.shrink_to(set.len() * 2);
    }
}

/// [`shrink_if_sparse`] for maps.
fn shrink_map_if_sparse<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.len() * 4 < map.capacity() {
        map.shrink_to(map.len() * 2);
    }
}

impl ClientSlot {
    fn info(&self) -> ClientInfo {
        let (queue, queue_bytes) = self.entry.queue.depth();
        ClientInfo {
            name: self.entry.name.to_string(),
            kind: self.entry.peer.kind,
            source: self.entry.peer.address.map(|address| address.to_string()),
            port: self.entry.peer.listener.as_deref().map(str::to_owned),
            counters: self.entry.counters.snapshot(),
            queue,
            queue_bytes,
            instances: 1 + self.secondaries.len(),
            credentials: self.entry.peer.credentials,
            admin: self.entry.access.as_ref().is_some_and(|rule| rule.admin),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    clients: HashMap<ClientId, ClientSlot>,
    by_name: HashMap<Arc<str>, ClientId>,
    topics: TopicIndex<ClientId>,
    names: NameIndex<ClientId>,
}

/// Clients removed from the registry in one go (a primary and its secondaries).
#[derive(Debug, Default)]
pub(crate) struct Removed {
    pub(crate) clients: Vec<Arc<ClientEntry>>,
    /// About how many bytes of names and patterns their removal freed.
    freed_bytes: usize,
    /// How many subscriptions and exclusions they held.
    patterns: PatternCount,
}

/// About what one stored pattern costs besides its bytes: its entry in the client's set and
/// its share of a trie node (RELIABILITY.md has the measured cost per subscription).
const PATTERN_OVERHEAD: usize = 256;

/// About what the registry gave back when `patterns` went.
fn patterns_cost<'a>(patterns: impl IntoIterator<Item = &'a Box<str>>) -> usize {
    patterns
        .into_iter()
        .map(|pattern| 2 * pattern.len() + PATTERN_OVERHEAD)
        .sum()
}

/// Once this many bytes of names and patterns were freed, the allocator is asked to return
/// its free memory to the system.
///
/// glibc keeps freed memory in its arenas: 20 clients that each held 10,000 subscriptions of
/// 1 KiB left `elbusd` at 459 MiB after they had gone, 14.9 MiB after `malloc_trim(0)`
/// (mimalloc instead kept 452 MiB, and used 11.5 MiB idle against glibc's 5.7). Trimming
/// costs about as much as the memory it returns, so tying it to the bytes freed keeps its cost
/// proportional to what clients did.
const TRIM_AFTER_BYTES: usize = 4 << 20;

/// Asks the allocator to return free memory to the system (glibc only: other allocators do
/// it themselves, or have no such call).
fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A primary client as listed by `client.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's name.
    pub name: String,
    /// How it is connected.
    pub kind: ClientKind,
    /// The peer's `ip:port` for TCP clients.
    pub source: Option<String>,
    /// The bind string of the listener for socket clients (named `port` after `busrtd`'s
    /// `client.list`, though it is a socket path for UNIX listeners).
    pub port: Option<String>,
    /// Frames, bytes, drops and disconnect counters.
    pub counters: super::stats::CounterSnapshot,
    /// Frames in its outbound queue now.
    pub queue: usize,
    /// What the frames in its outbound queue cost now: their wire bytes plus 112 each, as
    /// counted against `--queue-bytes`
    /// ([`QueueLimits::max_bytes`](super::QueueLimits::max_bytes)).
    pub queue_bytes: usize,
    /// 1 + the number of its secondaries.
    pub instances: usize,
    /// The peer's uid, gid and pid for UNIX clients.
    pub credentials: Option<PeerCredentials>,
    /// Whether its access-control rule lets it call the `.broker` administrative methods.
    pub admin: bool,
}

/// The registry of clients.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: RwLock<State>,
    /// Woken on every unregistration, for registrations waiting for a name to be released.
    released: tokio::sync::Notify,
    /// Bytes of names and patterns freed since the allocator was last asked to give memory
    /// back ([`TRIM_AFTER_BYTES`]).
    freed_since_trim: AtomicUsize,
    /// Client and pattern counts, read without the lock.
    pub(crate) gauges: RegistryGauges,
}

impl Registry {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Every update keeps the state consistent at each step that could panic (none should),
        // so a poisoned lock is still usable; refusing all service would be worse.
        crate::sync::recover(self.state.read())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        crate::sync::recover(self.state.write())
    }

    /// Registers `entry`. With `force`, a primary name that is taken is taken over: the previous
    /// instance (and its secondaries) is removed and returned so the caller can close it.
    pub(crate) fn register(&self, entry: Arc<ClientEntry>, force: bool) -> Result<Removed, Error> {
        let mut state = self.write();
        let mut evicted = Removed::default();
        let primary_id = if entry.is_secondary() {
            match state.by_name.get(entry.primary_name()) {
                Some(&id) => Some(id),
                None => return Err(Error::not_registered()),
            }
        } else {
            None
        };
        if let Some(&old_id) = state.by_name.get(&entry.name) {
            if !force || entry.is_secondary() {
                return Err(Error::busy(format!(
                    "the client is already registered: {}",
                    entry.name
                )));
            }
            if let Some(old) = state.clients.get(&old_id) {
                old.entry.evicted.store(true, Ordering::Relaxed);
            }
            state.remove(old_id, &mut evicted);
        }
        let id = entry.id;
        let kind = entry.peer.kind;
        state.by_name.insert(entry.name.clone(), id);
        state.names.insert(&entry.name, id);
        state.topics.insert(WARN_TOPIC, id);
        let mut subscriptions = HashSet::new();
        subscriptions.insert(Box::from(WARN_TOPIC));
        state.clients.insert(
            id,
            ClientSlot {
                entry,
                subscriptions,
                exclusions: HashSet::new(),
                exclusion_index: None,
                secondaries: Vec::new(),
            },
        );
        if let Some(primary) = primary_id.and_then(|pid| state.clients.get_mut(&pid)) {
            primary.secondaries.push(id);
        }
        drop(state);
        self.gauges.removed(
            evicted.clients.iter().map(|c| c.peer.kind),
            evicted.patterns,
        );
        self.gauges.added(kind);
        Ok(evicted)
    }

    /// Removes the client registered under `id` (if it still is) and its secondaries.
    pub(crate) fn unregister(&self, id: ClientId) -> Removed {
        let mut removed = Removed::default();
        self.write().remove(id, &mut removed);
        self.gauges.removed(
            removed.clients.iter().map(|c| c.peer.kind),
            removed.patterns,
        );
        if !removed.clients.is_empty() {
            self.released.notify_waiters();
        }
        self.freed(removed.freed_bytes);
        removed
    }

    /// Counts `bytes` of names and patterns just freed (outside the lock), and has the
    /// allocator return free memory once enough has been.
    fn freed(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let total = self.freed_since_trim.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total >= TRIM_AFTER_BYTES
            && self.freed_since_trim.swap(0, Ordering::Relaxed) >= TRIM_AFTER_BYTES
        {
            return_free_memory();
        }
    }

    /// Resolves at the next unregistration after it is enabled (or first polled).
    pub(crate) fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.released.notified()
    }

    /// Whether `id` is still registered.
    pub(crate) fn is_registered(&self, id: ClientId) -> bool {
        self.read().clients.contains_key(&id)
    }

    /// The client registered under `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<ClientEntry>> {
        let state = self.read();
        let id = state.by_name.get(name)?;
        state.clients.get(id).map(|slot| slot.entry.clone())
    }

    /// Subscribes `id` to each pattern (idempotent per pattern string), as long as it holds
    /// fewer than `max` subscriptions and exclusions; returns how many new patterns did not fit.
    pub(crate) fn subscribe<'a>(
        &self,
        id: ClientId,
        patterns: impl IntoIterator<Item = &'a str>,
        max: usize,
    ) -> usize {
        let mut state = self.write();
        let State {
            clients, topics, ..
        } = &mut *state;
        let Some(slot) = clients.get_mut(&id) else {
            return 0;
        };
        let mut over_limit = 0;
        for pattern in patterns {
            if slot.subscriptions.contains(pattern) {
                continue;
            }
            if !slot.has_room(max) {
                over_limit += 1;
                continue;
            }
            slot.subscriptions.insert(Box::from(pattern));
            topics.insert(pattern, id);
            self.gauges.patterns_added(PatternCount {
                subscriptions: 1,
                exclusions: 0,
            });
        }
        over_limit
    }

    /// Removes exactly these subscription strings of `id`.
    pub(crate) fn unsubscribe<'a>(
        &self,
        id: ClientId,
        patterns: impl IntoIterator<Item = &'a str>,
    ) {
        let mut freed = 0;
        {
            let mut state = self.write();
            let State {
                clients, topics, ..
            } = &mut *state;
            let Some(slot) = clients.get_mut(&id) else {
                return;
            };
            for pattern in patterns {
                if let Some(removed) = slot.subscriptions.take(pattern) {
                    topics.remove(pattern, id);
                    freed += patterns_cost([&removed]);
                    self.gauges.patterns_removed(PatternCount {
                        subscriptions: 1,
                        exclusions: 0,
                    });
                }
            }
            shrink_if_sparse(&mut slot.subscriptions);
        }
        self.freed(freed);
    }

    /// Adds exclusion patterns of `id` (idempotent per pattern string), as long as it holds
    /// fewer than `max` subscriptions and exclusions; returns how many new patterns did not fit.
    pub(crate) fn exclude<'a>(
        &self,
        id: ClientId,
        patterns: impl IntoIterator<Item = &'a str>,
        max: usize,
    ) -> usize {
        let mut state = self.write();
        let Some(slot) = state.clients.get_mut(&id) else {
            return 0;
        };
        let mut over_limit = 0;
        for pattern in patterns {
            if slot.exclusions.contains(pattern) {
                continue;
            }
            if !slot.has_room(max) {
                over_limit += 1;
                continue;
            }
            slot.exclusions.insert(Box::from(pattern));
            slot.exclusion_index
                .get_or_insert_with(Default::default)
                .insert(pattern, ());
            self.gauges.patterns_added(PatternCount {
                subscriptions: 0,
                exclusions: 1,
            });
        }
        over_limit
    }

    /// Removes exclusion patterns of `id`.
    pub(crate) fn unexclude<'a>(&self, id: ClientId, patterns: impl IntoIterator<Item = &'a str>) {
        let mut freed = 0;
        {
            let mut state = self.write();
            let Some(slot) = state.clients.get_mut(&id) else {
                return;
            };
            for pattern in patterns {
                if let Some(removed) = slot.exclusions.take(pattern) {
                    if let Some(index) = &mut slot.exclusion_index {
                        index.remove(pattern, ());
                    }
                    freed += patterns_cost([&removed]);
                    self.gauges.patterns_removed(PatternCount {
                        subscriptions: 0,
                        exclusions: 1,
                    });
                }
            }
            if slot.exclusions.is_empty() {
                slot.exclusion_index = None;
            }
            shrink_if_sparse(&mut slot.exclusions);
        }
        self.freed(freed);
    }

    /// Collects the subscribers of `topic` (one each, exclusions applied), keeping only those
    /// whose primary name is `receiver` when given.
    pub(crate) fn subscribers(
        &self,
        topic: &str,
        receiver: Option<&str>,
        ids: &mut Vec<ClientId>,
        out: &mut Vec<Arc<ClientEntry>>,
    ) {
        let state = self.read();
        ids.clear();
        state.topics.matches(topic, ids);
        for id in ids.iter() {
            let Some(slot) = state.clients.get(id) else {
                continue;
            };
            if let Some(receiver) = receiver {
                if slot.entry.primary_name() != receiver {
                    continue;
                }
            }
            if slot
                .exclusion_index
                .as_ref()
                .is_some_and(|exclusions| exclusions.matches_any(topic))
            {
                continue;
            }
            out.push(slot.entry.clone());
        }
    }

    /// Collects the clients whose full names match the broadcast `mask`.
    pub(crate) fn mask_targets(
        &self,
        mask: &str,
        ids: &mut Vec<ClientId>,
        out: &mut Vec<Arc<ClientEntry>>,
    ) {
        let state = self.read();
        ids.clear();
        state.names.matches(mask, ids);
        out.extend(
            ids.iter()
                .filter_map(|id| state.clients.get(id).map(|slot| slot.entry.clone())),
        );
    }

    /// The client registered under the full name `name` (secondaries too).
    pub(crate) fn info(&self, name: &str) -> Option<ClientInfo> {
        let state = self.read();
        state
            .clients
            .get(state.by_name.get(name)?)
            .map(ClientSlot::info)
    }

    /// The subscription strings of the client `name` (for diagnostics and tests).
    pub(crate) fn subscriptions_of(&self, name: &str) -> Option<Vec<String>> {
        let state = self.read();
        let slot = state.clients.get(state.by_name.get(name)?)?;
        let mut subs: Vec<String> = slot.subscriptions.iter().map(|s| s.to_string()).collect();
        subs.sort();
        Some(subs)
    }

    /// Every distinct subscription pattern of every client (for the federation's imports).
    pub(crate) fn all_subscriptions(&self) -> Vec<String> {
        let state = self.read();
        let patterns: HashSet<&str> = state
            .clients
            .values()
            .flat_map(|slot| slot.subscriptions.iter().map(|s| &**s))
            .collect();
        patterns.into_iter().map(str::to_owned).collect()
    }

    /// Every primary client, sorted by name.
    pub(crate) fn list(&self) -> Vec<ClientInfo> {
        let state = self.read();
        let mut list: Vec<ClientInfo> = state
            .clients
            .values()
            .filter(|slot| !slot.entry.is_secondary())
            .map(ClientSlot::info)
            .collect();
        list.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        list
    }

    /// Frames queued to all clients together.
    pub(crate) fn queued_frames(&self) -> usize {
        self.read()
            .clients
            .values()
            .map(|slot| slot.entry.queue.len())
            .sum()
    }

    /// Number of registered clients, secondaries included.
    pub(crate) fn len(&self) -> usize {
        self.read().clients.len()
    }
}

impl State {
    fn remove(&mut self, id: ClientId, removed: &mut Removed) {
        let Some(slot) = self.clients.remove(&id) else {
            return;
        };
        if self.by_name.get(&slot.entry.name) == Some(&id) {
            self.by_name.remove(&slot.entry.name);
            self.names.remove(&slot.entry.name);
        }
        for pattern in &slot.subscriptions {
            self.topics.remove(pattern, id);
        }
        removed.patterns.subscriptions += slot.subscriptions.len();
        removed.patterns.exclusions += slot.exclusions.len();
        removed.freed_bytes += patterns_cost(&slot.subscriptions)
            + patterns_cost(&slot.exclusions)
            + 2 * slot.entry.name.len();
        if slot.entry.is_secondary() {
            if let Some(&primary_id) = self.by_name.get(slot.entry.primary_name()) {
                if let Some(primary) = self.clients.get_mut(&primary_id) {
                    primary.secondaries.retain(|&s| s != id);
                }
            }
        }
        removed.clients.push(slot.entry);
        for secondary in slot.secondaries {
            self.remove(secondary, removed);
        }
        shrink_map_if_sparse(&mut self.clients);
        shrink_map_if_sparse(&mut self.by_name);
    }
}
