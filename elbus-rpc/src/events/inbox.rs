//! The buffer of one subscription: at most `capacity` publications; when a new one arrives at
//! a full buffer the oldest is dropped and counted, and the reader is told how many it missed
//! (`Lagged(n)`) before it gets the ones that follow. Never a silent drop, never unbounded.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// One publication as received.
pub(crate) struct Delivery {
    pub topic: String,
    pub sender: String,
    pub payload: Bytes,
}

/// What the reader gets next.
pub(crate) enum Next {
    Item(Delivery),
    Lagged(u64),
    Closed,
}

#[derive(Default)]
struct State {
    items: VecDeque<Delivery>,
    lagged: u64,
    closed: bool,
}

/// A bounded single-reader queue shared by the hub (writer) and a receiver (reader).
pub(crate) struct Inbox {
    capacity: usize,
    state: Mutex<State>,
    ready: Notify,
}

impl Inbox {
    pub fn new(capacity: usize) -> Self {
        Inbox {
            capacity: capacity.max(1),
            state: Mutex::default(),
            ready: Notify::new(),
        }
    }

    /// Queues `delivery`, dropping the oldest one when full. Never blocks on the reader.
    pub fn push(&self, delivery: Delivery) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.closed {
            return;
        }
        if state.items.len() >= self.capacity {
            state.items.pop_front();
            state.lagged += 1;
        }
        state.items.push_back(delivery);
        drop(state);
        self.ready.notify_one();
    }

    /// Ends the queue: the reader gets what is queued, then `Closed`.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.ready.notify_one();
    }

    /// How many deliveries wait (at most the capacity).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.items.len()).unwrap_or(0)
    }

    /// The next delivery, a lag report, or the end.
    pub async fn next(&self) -> Next {
        loop {
            let ready = self.ready.notified();
            if let Ok(mut state) = self.state.lock() {
                if state.lagged > 0 {
                    return Next::Lagged(std::mem::take(&mut state.lagged));
                }
                if let Some(item) = state.items.pop_front() {
                    return Next::Item(item);
                }
                if state.closed {
                    return Next::Closed;
                }
            } else {
                return Next::Closed;
            }
            ready.await;
        }
    }
}
