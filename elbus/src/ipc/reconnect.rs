//! Surviving a broker restart: the connection state the application can watch, the reconnect
//! policy, the topic operations a client must replay on a new connection, and the supervisor
//! task that notices a lost connection and (if asked to) connects again with backoff.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Weak;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use super::client::Inner;
use super::state::wait_shutdown;
pub use crate::client::ConnectionState;
use crate::protocol::Op;
use crate::Frame;

/// How a client reconnects after losing its broker: it waits `initial`, tries, and doubles the
/// wait after each failed attempt up to `max`, until it connects or the application disconnects.
///
/// On each new connection the client registers its name again and restores its subscriptions
/// and exclusions before it reports [`ConnectionState::Connected`]. Frames routed while it was
/// away are lost, and calls waiting for an ACK when the connection dropped fail at once with
/// [`ErrorKind::Eof`](crate::ErrorKind::Eof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The wait before the first attempt.
    pub initial: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
}

impl Default for ReconnectPolicy {
    /// 100 ms at first, at most 5 s between attempts.
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl ReconnectPolicy {
    /// The wait after `current`: doubled, capped at `max`.
    fn next(&self, current: Duration) -> Duration {
        current.saturating_mul(2).min(self.max).max(self.initial)
    }
}

/// The topic patterns a client subscribed to and excluded, as the broker should hold them.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    subscribed: BTreeSet<String>,
    excluded: BTreeSet<String>,
}

impl Topics {
    /// Records a topic operation that was handed to the connection.
    pub(crate) fn apply(&mut self, op: Op, topics: &[&str]) {
        let owned = topics.iter().map(|topic| (*topic).to_owned());
        match op {
            Op::Subscribe => self.subscribed.extend(owned),
            Op::Exclude => self.excluded.extend(owned),
            Op::Unsubscribe => topics.iter().for_each(|t| {
                self.subscribed.remove(*t);
            }),
            Op::Unexclude => topics.iter().for_each(|t| {
                self.excluded.remove(*t);
            }),
            _ => {}
        }
    }

    /// The operations that restore this state on a fresh connection (an empty list is never
    /// sent: the broker would read it as one empty topic).
    pub(crate) fn replay(&self) -> Vec<(Op, Vec<String>)> {
        [
            (Op::Subscribe, &self.subscribed),
            (Op::Exclude, &self.excluded),
        ]
        .into_iter()
        .filter(|(_, set)| !set.is_empty())
        .map(|(op, set)| (op, set.iter().cloned().collect()))
        .collect()
    }
}

/// What the client handles and the supervisor share besides the connection itself.
#[derive(Debug)]
pub(crate) struct Supervision {
    pub(crate) status: watch::Sender<ConnectionState>,
    /// Set by `disconnect`: the next loss is final.
    closing: AtomicBool,
    /// Wakes a supervisor waiting between attempts when `closing` is set.
    wake: Notify,
}

impl Supervision {
    pub(crate) fn new() -> Self {
        Supervision {
            status: watch::Sender::new(ConnectionState::Connected),
            closing: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Stops reconnecting: the current connection is the last.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

/// Watches the client's connections until the client is gone or disconnected for good.
///
/// Without a policy it only reports the loss. With one, it holds a sender of the application's
/// event channel (so the channel outlives each connection's reader) and reconnects. It keeps only
/// a weak reference to the client, so dropping the last handle still closes everything.
pub(crate) async fn supervise(
    client: Weak<Inner>,
    supervision: std::sync::Arc<Supervision>,
    policy: Option<ReconnectPolicy>,
    events: Option<mpsc::Sender<Frame>>,
) {
    loop {
        let Some(mut shutdown) = client
            .upgrade()
            .map(|inner| inner.link().state.subscribe_shutdown())
        else {
            break;
        };
        wait_shutdown(&mut shutdown).await;
        // Nobody left to reconnect for: the application disconnected or dropped every handle.
        let Some(policy) =
            policy.filter(|_| !supervision.is_closing() && client.strong_count() > 0)
        else {
            break;
        };
        supervision
            .status
            .send_replace(ConnectionState::Reconnecting);
        let Some(events) = events.as_ref() else {
            break;
        };
        let mut wait = policy.initial;
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = supervision.wake.notified() => {}
            }
            if supervision.is_closing() {
                supervision
                    .status
                    .send_replace(ConnectionState::Disconnected);
                return;
            }
            let Some(inner) = client.upgrade() else {
                supervision
                    .status
                    .send_replace(ConnectionState::Disconnected);
                return;
            };
            match inner.reconnect(events.clone()).await {
                Ok(()) => {
                    tracing::info!("elbus client {} reconnected", inner.config.name());
                    supervision.status.send_replace(ConnectionState::Connected);
                    break;
                }
                Err(err) => {
                    tracing::debug!(
                        "elbus client {}: reconnect failed: {err}",
                        inner.config.name()
                    );
                    wait = policy.next(wait);
                }
            }
        }
    }
    supervision
        .status
        .send_replace(ConnectionState::Disconnected);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        let waits: Vec<u128> =
            std::iter::successors(Some(policy.initial), |w| Some(policy.next(*w)))
                .take(4)
                .map(|w| w.as_millis())
                .collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn topics_replay_the_net_state() {
        let mut topics = Topics::default();
        topics.apply(Op::Subscribe, &["a/#", "b", "c"]);
        topics.apply(Op::Unsubscribe, &["b"]);
        topics.apply(Op::Exclude, &["a/secret", "a/x"]);
        topics.apply(Op::Unexclude, &["a/x"]);
        assert_eq!(
            topics.replay(),
            [
                (Op::Subscribe, vec!["a/#".to_owned(), "c".to_owned()]),
                (Op::Exclude, vec!["a/secret".to_owned()]),
            ]
        );
        topics.apply(Op::Unsubscribe, &["a/#", "c"]);
        topics.apply(Op::Unexclude, &["a/secret"]);
        assert!(topics.replay().is_empty());
    }
}
