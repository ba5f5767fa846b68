//! The broker's own client `.broker`: announcements, the `.broker` RPC API and the FIFO command
//! channel (feature `broker-api`).
//!
//! [`BrokerApi::start`] registers `.broker` on a [`Broker`]; from then on the broker announces
//! registrations on `.broker/info` and its shutdown on `.broker/warn`, and answers the methods of
//! [`methods`]. Keep the returned handle: dropping it unregisters `.broker`.

pub mod fifo;
pub mod methods;

use std::path::Path;

use crate::broker::{Broker, Client, BROKER_NAME};
use crate::Error;

/// The running `.broker` client of a broker.
#[derive(Debug, Clone)]
pub struct BrokerApi {
    broker: Broker,
    client: Client,
}

impl BrokerApi {
    /// Registers `.broker` on `broker` and starts serving its API.
    pub fn start(broker: &Broker) -> Result<BrokerApi, Error> {
        let client = broker.register_client(BROKER_NAME)?;
        Ok(BrokerApi {
            broker: broker.clone(),
            client,
        })
    }

    /// The `.broker` client itself.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Serves a FIFO command channel at `path` (`protocol.md` §8.10), executing its lines as
    /// `.broker`. The pipe is removed with the broker's listeners.
    pub fn spawn_fifo(&self, path: &Path) -> Result<(), Error> {
        let task = fifo::spawn(self.client.clone(), path)?;
        self.broker
            .add_listener_task(task, Some(path.to_path_buf()));
        Ok(())
    }
}
