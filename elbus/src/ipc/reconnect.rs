//! Surviving a broker restart: the supervisor task that notices a lost connection and (if asked
//! to) has the [`Connector`] connect again with backoff, and the [`Supervision`] state it shares
//! with the client handles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Weak;

use tokio::sync::{mpsc, watch, Notify};

use super::config::ReconnectPolicy;
use super::connector::Connector;
use super::state::wait_shutdown;
use crate::client::ConnectionState;
use crate::Frame;

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
/// event channel (so the channel outlives each connection's reader) and reconnects through the
/// client's [`Connector`]. It keeps only a weak reference to it, which the client handle owns, so
/// dropping the last handle still closes everything.
pub(crate) async fn supervise(
    connector: Weak<Connector>,
    supervision: std::sync::Arc<Supervision>,
    policy: Option<ReconnectPolicy>,
    events: Option<mpsc::Sender<Frame>>,
) {
    loop {
        let Some(mut shutdown) = connector
            .upgrade()
            .map(|connector| connector.link().state.subscribe_shutdown())
        else {
            break;
        };
        wait_shutdown(&mut shutdown).await;
        // Nobody left to reconnect for: the application disconnected or dropped every handle.
        let Some(policy) =
            policy.filter(|_| !supervision.is_closing() && connector.strong_count() > 0)
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
            let Some(connector) = connector.upgrade() else {
                supervision
                    .status
                    .send_replace(ConnectionState::Disconnected);
                return;
            };
            match connector.reconnect(events.clone()).await {
                Ok(()) => {
                    tracing::info!("elbus client {} reconnected", connector.config().name());
                    supervision.status.send_replace(ConnectionState::Connected);
                    break;
                }
                Err(err) => {
                    tracing::debug!(
                        "elbus client {}: reconnect failed: {err}",
                        connector.config().name()
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
