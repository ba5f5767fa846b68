//! The broker's own client `.broker`: announcements, the `.broker` RPC API and the FIFO command
//! channel (feature `broker-api`).
//!
//! [`BrokerApi::start`] registers `.broker` on a [`Broker`]; from then on the broker announces
//! registrations on `.broker/info` and its shutdown on `.broker/warn`, and answers the methods of
//! [`methods`]. Keep the returned handle: dropping it unregisters `.broker`.
//!
//! The cheap methods are answered where the request arrives. `client.list` and `topic.list`,
//! whose cost grows with the number of clients (of topics, up to
//! [`MAX_TRACKED_TOPICS`](crate::broker::MAX_TRACKED_TOPICS)), are queued per caller and run one call at a time, in turn between
//! callers: at most [`MAX_QUEUED_CALLS_PER_CALLER`] per connection and [`MAX_QUEUED_CALLS`] (and
//! [`MAX_QUEUED_PARAMS_BYTES`]) in all, beyond which a call is answered -32118 (or dropped, with
//! call id 0); the queued calls of a caller that has disconnected are dropped unrun. `stats`
//! counts both (`api_calls_refused`, `api_calls_abandoned`).

pub mod fifo;
mod method_error;
pub mod methods;
mod scheduler;
mod topic_list;

use std::path::Path;

pub use scheduler::{MAX_QUEUED_CALLS, MAX_QUEUED_CALLS_PER_CALLER, MAX_QUEUED_PARAMS_BYTES};

use scheduler::Scheduler;

use crate::broker::{Broker, Client, PathLock};
use crate::protocol::BROKER_NAME;
use crate::rpc::{RpcClient, RpcError, RpcEvent, RpcHandlers, RpcResult};
use crate::Error;

/// The running `.broker` client of a broker.
#[derive(Clone)]
pub struct BrokerApi {
    broker: Broker,
    rpc: RpcClient<Client>,
}

impl std::fmt::Debug for BrokerApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerApi").finish_non_exhaustive()
    }
}

/// The methods whose cost grows with the broker (the number of clients): they go through the
/// fair, bounded [`Scheduler`] instead of being answered where the request arrives.
const SCHEDULED_METHODS: &[&[u8]] = &[b"client.list", b"topic.list"];

/// Answers calls to `.broker` with [`methods::call_from`]: the cheap methods at once, the
/// expensive ones through the fair, bounded [`Scheduler`]. Notifications and frames are
/// ignored.
struct CoreHandlers {
    broker: Broker,
    scheduler: Scheduler,
}

impl RpcHandlers for CoreHandlers {
    async fn handle_call(&self, event: RpcEvent) -> RpcResult {
        let result = if SCHEDULED_METHODS.contains(&event.method()) {
            self.scheduler
                .call(event.sender(), event.method(), event.payload_bytes())
                .await
        } else {
            methods::call_with_stats(
                &self.broker,
                Some(event.sender()),
                event.method(),
                event.payload(),
                Some(&self.broker.inner().api),
            )
        };
        self.broker
            .inner()
            .api
            .count_call(event.method(), result.is_err());
        result
            .map(Some)
            .map_err(|err| RpcError::new(err.code, err.message.map(String::into_bytes)))
    }
}

impl BrokerApi {
    /// Registers `.broker` on `broker` and starts serving its API.
    pub fn start(broker: &Broker) -> Result<BrokerApi, Error> {
        let client = broker.register_client(BROKER_NAME)?;
        let rpc = RpcClient::new(
            client,
            CoreHandlers {
                broker: broker.clone(),
                scheduler: Scheduler::start(broker.clone()),
            },
        )?;
        Ok(BrokerApi {
            broker: broker.clone(),
            rpc,
        })
    }

    /// The `.broker` client itself.
    pub fn client(&self) -> &Client {
        self.rpc.client()
    }

    /// The RPC client of `.broker`, to call other clients as the broker.
    pub fn rpc(&self) -> &RpcClient<Client> {
        &self.rpc
    }

    /// Serves a FIFO command channel at `path` (`protocol.md` §8.10), executing its lines as
    /// `.broker`, with the default [`fifo::FifoPermissions`] (mode 0660, the process's group).
    /// As with sockets, the broker owns the path through `PATH.lock` while it serves it (a path
    /// another broker serves is refused with `Busy`), and the pipe is removed with the broker's
    /// listeners.
    pub fn spawn_fifo(&self, path: &Path) -> Result<(), Error> {
        self.spawn_fifo_with(path, fifo::FifoPermissions::default())
    }

    /// Like [`BrokerApi::spawn_fifo`], with the pipe's mode and group given. Anyone who may
    /// write the pipe acts as `.broker`, unchecked by the access-control rules.
    pub fn spawn_fifo_with(
        &self,
        path: &Path,
        permissions: fifo::FifoPermissions,
    ) -> Result<(), Error> {
        let mut lock = PathLock::acquire(path)?;
        let task = match fifo::spawn(self.client().clone(), path, permissions) {
            Ok(task) => task,
            Err(err) => {
                lock.release();
                return Err(err);
            }
        };
        lock.claim();
        self.broker.add_listener_task(task, Some(lock));
        Ok(())
    }
}
