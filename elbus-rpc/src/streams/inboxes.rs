//! [`PushInboxes`]: where the notifications of a client's push streams land, one bounded
//! inbox per stream (its credit window), keyed by the server's name and the stream id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::push_wire::stream_of;

/// A push stream: the server's client name and the stream id.
type StreamKey = (String, u64);

/// The push notifications of one bus client, by the sender and stream id they belong to.
#[derive(Debug, Default)]
pub struct PushInboxes {
    next_id: AtomicU64,
    inboxes: Mutex<HashMap<StreamKey, mpsc::Sender<Vec<u8>>>>,
}

impl PushInboxes {
    /// An empty set.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Hands a notification from `sender` to the push stream it names; `false` when it is none
    /// of ours. A stream whose inbox is full (a server ignoring the credit) is cut off.
    pub fn deliver(&self, sender: &str, payload: &[u8]) -> bool {
        let Some(s) = stream_of(payload) else {
            return false;
        };
        let Ok(mut inboxes) = self.inboxes.lock() else {
            return false;
        };
        let key = (sender.to_owned(), s);
        let Some(inbox) = inboxes.get(&key) else {
            return false;
        };
        if inbox.try_send(payload.to_vec()).is_err() {
            // Dropping the sender ends the stream with an error on the client.
            inboxes.remove(&key);
        }
        true
    }

    /// How many push streams are open.
    pub fn len(&self) -> usize {
        self.inboxes.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// Whether no push stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn open(&self, target: &str, window: usize) -> (u64, mpsc::Receiver<Vec<u8>>) {
        let s = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(window.max(1));
        if let Ok(mut inboxes) = self.inboxes.lock() {
            inboxes.insert((target.to_owned(), s), tx);
        }
        (s, rx)
    }

    pub(super) fn close(&self, target: &str, s: u64) {
        if let Ok(mut inboxes) = self.inboxes.lock() {
            inboxes.remove(&(target.to_owned(), s));
        }
    }
}
