//! The broker's own client `.broker`: announcements, the `.broker` RPC API and the FIFO command
//! channel (feature `broker-api`).

use std::path::Path;

use crate::broker::{Broker, BROKER_NAME};
use crate::Error;

/// Registers the broker's own client `.broker`, which makes announcements possible, and keeps
/// it alive as long as the runtime runs.
pub fn init(broker: &Broker) -> Result<(), Error> {
    let client = broker.register_client(BROKER_NAME)?;
    tokio::spawn(async move {
        let _client = client;
        std::future::pending::<()>().await;
    });
    Ok(())
}

/// Serves a FIFO command channel at `path` (`protocol.md` §8.10).
pub async fn spawn_fifo(_broker: &Broker, path: &Path) -> Result<(), Error> {
    Err(Error::not_supported(format!(
        "fifo:{}: the FIFO command channel is not implemented yet",
        path.display()
    )))
}
