//! [`StreamTable`]: the open cursors of one router. Each entry holds the handler's stream, its
//! owner and its expiry. Memory: at most `StreamLimits::total` entries, each a stream the
//! handler built (a pull streams items on demand; nothing is buffered here).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::encoded::ItemStream;
use super::push::PushTable;
use super::{StreamLimits, CODE_CURSOR_NOT_FOUND};
use crate::bus_handle::BusHandle;
use crate::error::{ServerError, CODE_BUSY};

/// A cursor id: 16 bytes, the size of busrt's UUID cursors.
pub(crate) type CursorId = [u8; 16];

struct Entry {
    /// The caller's full name: only it may pull.
    owner: String,
    /// The caller's primary name: its `unreg` closes the cursor.
    primary: String,
    /// `None` while a pull runs.
    stream: Option<ItemStream>,
    expires: Instant,
}

/// One pull's items: fewer than asked for when the stream finished (it is then closed).
pub(crate) struct Pulled {
    pub items: Vec<Vec<u8>>,
}

/// The open cursors of a router; see the module docs.
pub(crate) struct StreamTable {
    limits: StreamLimits,
    entries: Mutex<HashMap<CursorId, Entry>>,
    sweeping: AtomicBool,
    ids: (RandomState, AtomicU64),
    push: PushTable,
}

fn not_found() -> ServerError {
    ServerError::new(
        CODE_CURSOR_NOT_FOUND,
        "cursor not found: unknown, expired, closed, finished or opened by another client",
    )
}

impl Default for StreamTable {
    fn default() -> Self {
        StreamTable::new(StreamLimits::default())
    }
}

impl StreamTable {
    pub fn new(limits: StreamLimits) -> Self {
        StreamTable {
            limits,
            entries: Mutex::default(),
            sweeping: AtomicBool::new(false),
            ids: (RandomState::new(), AtomicU64::new(0)),
            push: PushTable::default(),
        }
    }

    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// How many streams are open: cursors and push streams.
    pub fn len(&self) -> usize {
        self.cursors() + self.push.len()
    }

    fn cursors(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// The push streams.
    pub fn push(&self) -> &PushTable {
        &self.push
    }

    /// Starts push stream `s` of `owner` with `credit` (within the same caps as cursors).
    pub fn open_push(
        &self,
        bus: BusHandle,
        owner: &str,
        primary: &str,
        s: u64,
        credit: u64,
        stream: ItemStream,
    ) -> Result<(), ServerError> {
        let (mine, total) = match self.entries.lock() {
            Ok(entries) => (
                entries.values().filter(|e| e.primary == primary).count(),
                entries.len(),
            ),
            Err(_) => (0, 0),
        };
        self.push.open(
            bus,
            owner,
            primary,
            s,
            credit,
            stream,
            self.limits,
            (mine, total),
        )
    }

    /// A fresh id: not guessable across processes (a random hasher seed), never reused in one.
    /// Guessing one gains nothing: only the owner may pull.
    fn next_id(&self) -> CursorId {
        let n = self.ids.1.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let a = self.ids.0.hash_one((n, now, 1u8));
        let b = self.ids.0.hash_one((n, now, 2u8));
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&a.to_be_bytes());
        id[8..].copy_from_slice(&b.to_be_bytes());
        id
    }

    /// Opens a cursor for `owner` (full name) over `stream`, within the caps.
    pub fn open(
        self: &Arc<Self>,
        owner: &str,
        primary: &str,
        stream: ItemStream,
    ) -> Result<CursorId, ServerError> {
        let id = self.next_id();
        {
            let mut entries = self.entries.lock().map_err(|_| not_found())?;
            if entries.len() + self.push.len() >= self.limits.total {
                return Err(ServerError::new(
                    CODE_BUSY,
                    format!(
                        "busy: {} streams open, the limit of this server",
                        self.limits.total
                    ),
                ));
            }
            let mine =
                entries.values().filter(|e| e.primary == primary).count() + self.push.of(primary);
            if mine >= self.limits.per_caller {
                return Err(ServerError::new(
                    CODE_BUSY,
                    format!(
                        "busy: {mine} streams open for {primary}, the limit per caller; close some (rpc.cursor.close)"
                    ),
                ));
            }
            entries.insert(
                id,
                Entry {
                    owner: owner.to_owned(),
                    primary: primary.to_owned(),
                    stream: Some(stream),
                    expires: Instant::now() + self.limits.ttl,
                },
            );
        }
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(sweep(Arc::downgrade(self), sweep_every(self.limits.ttl)));
            } else {
                self.sweeping.store(false, Ordering::Release);
            }
        }
        Ok(id)
    }

    /// Pulls at most `n` items of cursor `id` for `caller`, extending its TTL.
    pub async fn pull(&self, caller: &str, id: &[u8], n: usize) -> Result<Pulled, ServerError> {
        let id: CursorId = id.try_into().map_err(|_| not_found())?;
        let mut stream = {
            let mut entries = self.entries.lock().map_err(|_| not_found())?;
            let now = Instant::now();
            let entry = match entries.get_mut(&id) {
                Some(e) if e.owner == caller && e.expires > now => e,
                _ => return Err(not_found()),
            };
            let stream = entry.stream.take().ok_or_else(|| {
                ServerError::new(CODE_BUSY, "busy: a pull of this cursor is in progress")
            })?;
            entry.expires = now + self.limits.ttl;
            stream
        };
        let mut items = Vec::with_capacity(n.min(64));
        let mut outcome = Ok(false);
        while items.len() < n {
            match std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                Some(Ok(item)) => items.push(item),
                Some(Err(e)) => {
                    outcome = Err(e);
                    break;
                }
                None => {
                    outcome = Ok(true);
                    break;
                }
            }
        }
        let ended = !matches!(outcome, Ok(false));
        let removed = {
            let mut entries = self.entries.lock().map_err(|_| not_found())?;
            match entries.get_mut(&id) {
                Some(entry) if !ended => {
                    entry.stream = Some(stream);
                    None
                }
                Some(_) => entries.remove(&id).map(|_| stream),
                // Closed while the pull ran.
                None => Some(stream),
            }
        };
        // The handler's stream is dropped outside the lock: its destructors may take time.
        drop(removed);
        outcome.map(|_| Pulled { items })
    }

    /// Closes cursor `id` of `caller`.
    pub fn close(&self, caller: &str, id: &[u8]) -> Result<(), ServerError> {
        let id: CursorId = id.try_into().map_err(|_| not_found())?;
        let removed = {
            let mut entries = self.entries.lock().map_err(|_| not_found())?;
            match entries.get(&id) {
                Some(e) if e.owner == caller => entries.remove(&id),
                _ => None,
            }
        };
        removed.map(drop).ok_or_else(not_found)
    }

    /// Closes every cursor of the client `primary` (it left the bus).
    pub fn close_owner(&self, primary: &str) {
        self.push.close_owner(primary);
        self.remove_where(|e| e.primary == primary);
    }

    /// Closes the expired cursors; whether any are left.
    fn sweep(&self) -> bool {
        let now = Instant::now();
        self.remove_where(|e| e.expires <= now)
    }

    fn remove_where(&self, doomed: impl Fn(&Entry) -> bool) -> bool {
        let (removed, left): (Vec<Entry>, bool) = {
            let Ok(mut entries) = self.entries.lock() else {
                return false;
            };
            let ids: Vec<CursorId> = entries
                .iter()
                .filter(|(_, e)| doomed(e))
                .map(|(id, _)| *id)
                .collect();
            let removed = ids.iter().filter_map(|id| entries.remove(id)).collect();
            (removed, !entries.is_empty())
        };
        drop(removed);
        left
    }

    /// Stops the sweeper if nothing is left to sweep, under the entries lock so that an open
    /// racing with it restarts one.
    fn stop_sweeping_if_empty(&self) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return true;
        };
        if entries.is_empty() {
            self.sweeping.store(false, Ordering::Release);
            return true;
        }
        false
    }
}

/// How often the sweeper looks for expired cursors: a quarter of the TTL, within 10 ms..1 s.
fn sweep_every(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Closes expired cursors until the table is empty or dropped.
async fn sweep(table: Weak<StreamTable>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(table) = table.upgrade() else {
            return;
        };
        table.sweep();
        if table.stop_sweeping_if_empty() {
            return;
        }
    }
}
