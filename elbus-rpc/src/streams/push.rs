//! Push streams on the server: a `#[rpc(stream)]` method opened with `rpc.stream.open` sends
//! its items to the caller as RPC notifications, one per unit of credit the caller granted
//! (`rpc.stream.credit`), and ends with an end or error marker; `rpc.stream.cancel`, the
//! caller leaving, or no credit for a TTL end it early. The handler's stream is polled only
//! when credit is left, so the server holds at most one item per stream and the bus at most
//! the granted credit of notifications.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::encoded::ItemStream;
use super::push_wire::{message, Body, PushError};
use super::{StreamLimits, CODE_CURSOR_NOT_FOUND};
use crate::bus_handle::BusHandle;
use crate::error::{ServerError, CODE_BUSY, CODE_TIMEOUT};

/// Credit granted and not yet used, with a wake-up for the sender.
#[derive(Default)]
struct Credit {
    left: Mutex<u64>,
    granted: Notify,
}

impl Credit {
    fn grant(&self, n: u64) {
        if let Ok(mut left) = self.left.lock() {
            *left = left.saturating_add(n);
        }
        self.granted.notify_one();
    }

    /// Takes one unit, waiting for a grant when none is left.
    async fn take(&self) {
        loop {
            let granted = self.granted.notified();
            if let Ok(mut left) = self.left.lock() {
                if *left > 0 {
                    *left -= 1;
                    return;
                }
            }
            granted.await;
        }
    }
}

struct Entry {
    primary: String,
    credit: Arc<Credit>,
    task: Option<AbortHandle>,
}

/// The open push streams of a router, by (caller, stream id).
#[derive(Default)]
pub(crate) struct PushTable {
    entries: Arc<Mutex<HashMap<(String, u64), Entry>>>,
}

fn not_found() -> ServerError {
    ServerError::new(
        CODE_CURSOR_NOT_FOUND,
        "push stream not found: unknown, ended or opened by another client",
    )
}

impl PushTable {
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Starts pushing `stream` to `owner` as stream `s` with `credit`, within `limits`
    /// (`cursors`: how many pull cursors the same caller and the router hold).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &self,
        bus: BusHandle,
        owner: &str,
        primary: &str,
        s: u64,
        credit: u64,
        stream: ItemStream,
        limits: StreamLimits,
        cursors: (usize, usize),
    ) -> Result<(), ServerError> {
        let key = (owner.to_owned(), s);
        let credit_cell = Arc::new(Credit::default());
        credit_cell.grant(credit);
        {
            let mut entries = self.entries.lock().map_err(|_| not_found())?;
            if entries.len() + cursors.1 >= limits.total {
                return Err(ServerError::new(
                    CODE_BUSY,
                    format!(
                        "busy: {} streams open, the limit of this server",
                        limits.total
                    ),
                ));
            }
            let mine = entries.values().filter(|e| e.primary == primary).count() + cursors.0;
            if mine >= limits.per_caller {
                return Err(ServerError::new(
                    CODE_BUSY,
                    format!("busy: {mine} streams open for {primary}, the limit per caller"),
                ));
            }
            if entries.contains_key(&key) {
                return Err(ServerError::invalid_params(format_args!(
                    "push stream {s} is already open"
                )));
            }
            entries.insert(
                key.clone(),
                Entry {
                    primary: primary.to_owned(),
                    credit: credit_cell.clone(),
                    task: None,
                },
            );
        }
        let entries = self.entries.clone();
        let task = tokio::spawn(push(
            bus,
            key.clone(),
            stream,
            credit_cell,
            limits.ttl,
            entries,
        ));
        if let Ok(mut entries) = self.entries.lock() {
            // None: it already ended.
            if let Some(entry) = entries.get_mut(&key) {
                entry.task = Some(task.abort_handle());
            }
        }
        Ok(())
    }

    /// Grants `n` more items to stream `s` of `owner`.
    pub fn grant(&self, owner: &str, s: u64, n: u64) -> Result<(), ServerError> {
        let entries = self.entries.lock().map_err(|_| not_found())?;
        let entry = entries.get(&(owner.to_owned(), s)).ok_or_else(not_found)?;
        entry.credit.grant(n);
        Ok(())
    }

    /// Cancels stream `s` of `owner`: its task and the handler's stream are dropped.
    pub fn cancel(&self, owner: &str, s: u64) -> Result<(), ServerError> {
        let entry = self
            .entries
            .lock()
            .map_err(|_| not_found())?
            .remove(&(owner.to_owned(), s));
        let entry = entry.ok_or_else(not_found)?;
        if let Some(task) = entry.task {
            task.abort();
        }
        Ok(())
    }

    /// Cancels every push stream of the client `primary` (it left the bus).
    pub fn close_owner(&self, primary: &str) {
        let gone: Vec<Entry> = match self.entries.lock() {
            Ok(mut entries) => {
                let keys: Vec<_> = entries
                    .iter()
                    .filter(|(_, e)| e.primary == primary)
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.iter().filter_map(|k| entries.remove(k)).collect()
            }
            Err(_) => Vec::new(),
        };
        for entry in gone {
            if let Some(task) = entry.task {
                task.abort();
            }
        }
    }

    /// How many push streams the client `primary` holds.
    pub fn of(&self, primary: &str) -> usize {
        self.entries
            .lock()
            .map(|e| e.values().filter(|e| e.primary == primary).count())
            .unwrap_or(0)
    }
}

type Entries = Arc<Mutex<HashMap<(String, u64), Entry>>>;

/// Sends the items of `stream` to the caller while it has credit, then the end or error marker.
async fn push(
    bus: BusHandle,
    key: (String, u64),
    mut stream: ItemStream,
    credit: Arc<Credit>,
    ttl: Duration,
    entries: Entries,
) {
    let (owner, s) = (&key.0, key.1);
    let mut q = 0u64;
    loop {
        if tokio::time::timeout(ttl, credit.take()).await.is_err() {
            let e = PushError {
                code: CODE_TIMEOUT,
                message: format!("push stream {s}: no credit for {} ms", ttl.as_millis()),
            };
            send(&bus, owner, s, q, Body::Error(&e)).await;
            break;
        }
        let sent = match std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            Some(Ok(item)) => send(&bus, owner, s, q, Body::Item(&item)).await,
            Some(Err(e)) => {
                let (code, data) = e.into_parts();
                let e = PushError {
                    code,
                    message: String::from_utf8_lossy(&data).into_owned(),
                };
                send(&bus, owner, s, q, Body::Error(&e)).await;
                break;
            }
            None => {
                send(&bus, owner, s, q, Body::End).await;
                break;
            }
        };
        if !sent {
            break;
        }
        q += 1;
    }
    // The entry goes first, then the stream (with this task).
    let entry = entries.lock().ok().and_then(|mut e| e.remove(&key));
    drop(entry);
}

/// Sends one push notification; `false` when the caller can't be reached.
async fn send(bus: &BusHandle, owner: &str, s: u64, q: u64, body: Body<'_>) -> bool {
    match message(s, q, body) {
        Ok(payload) => bus.notify(owner, payload).await.is_ok(),
        Err(_) => false,
    }
}
