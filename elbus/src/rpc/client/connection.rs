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

    /// Whether the state changed since it was last seen, without waiting (an atomic load, so
    /// the dispatch loop can check it per frame); `true` when a loss happened.
    pub(super) fn lost_now(connection: &mut Option<ConnectionWatch>) -> bool {
        let Some(seen) = connection else {
            return false;
        };
        match seen.rx.has_changed() {
            Ok(true) => seen.update(),
            Ok(false) => false,
            Err(_) => {
                *connection = None;
                false
            }
        }
    }

    /// Takes the current state; whether it means a loss happened since the last one seen.
    fn update(&mut self) -> bool {
        let now = *self.rx.borrow_and_update();
        // `Connected` is only entered again after a loss, so seeing it twice in a row means the
        // loss in between was missed (a fast reconnect); `Reconnecting` then `Connected` is the
        // recovery from a loss already handled.
        let lost = now != ConnectionState::Connected || self.last == ConnectionState::Connected;
        self.last = now;
        lost
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
        seen.update()
    }
}
