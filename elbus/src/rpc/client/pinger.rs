//! The pinger: keeps a client with a timeout (socket clients) inside the broker's idle limit.

use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use super::shared::Shared;
use crate::client::{AsyncClient, ConnectionState};

/// Pings the broker at once and then every `every`, until a ping fails on a connection that is
/// gone for good (while a socket client reconnects, failed pings are skipped).
pub(super) async fn ping<C: AsyncClient>(shared: Arc<Shared<C>>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(err) = shared.client.ping().await {
            let reconnecting = shared
                .client
                .connection_changes()
                .is_some_and(|rx| *rx.borrow() != ConnectionState::Disconnected);
            if !reconnecting {
                debug!("{}: ping failed, pinger stops: {err}", shared.client.name());
                return;
            }
        }
    }
}
