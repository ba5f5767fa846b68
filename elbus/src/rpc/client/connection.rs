//! Watching the wrapped client's connection, so the dispatch loop fails the waiting calls as
//! soon as the connection is lost (their replies would go to the lost connection).

use tokio::sync::watch;

use crate::client::{AsyncClient, ConnectionState};

/// A client's connection state as the dispatch loop last saw it.
pub(super) struct ConnectionWatch {
    rx: watch::Receiver<ConnectionState>,
    last: ConnectionState,
}

impl ConnectionWatch {
    /// A watch of `client`'s connection; `None` for a client without supervised connections.
    pub(super) fn of<C: AsyncClient>(client: &C) -> Option<Self> {
        client.connection_changes().map(|mut rx| {
            let last = *rx.borrow_and_update();
            ConnectionWatch { rx, last }
        })
    }

    /// Waits for the next connection state change; `true` when a loss happened. Never resolves
    /// for a client without supervised connections (or once its state sender is gone).
    pub(super) async fn lost(connection: &mut Option<ConnectionWatch>) -> bool {
        let Some(seen) = connection else {
            return std::future::pending().await;
        };
        if seen.rx.changed().await.is_err() {
            *connection = None;
            return false;
        }
        let now = *seen.rx.borrow_and_update();
        // `Connected` is only entered again after a loss, so seeing it twice in a row means the
        // loss in between was missed (a fast reconnect); `Reconnecting` then `Connected` is the
        // recovery from a loss already handled.
        let lost = now != ConnectionState::Connected || seen.last == ConnectionState::Connected;
        seen.last = now;
        lost
    }
}
