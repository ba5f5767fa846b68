//! Federation over NATS: brokers on several hosts joined into one logical bus through
//! nats-server (feature `federation`).
//!
//! A joined broker is a *node* with a name unique in its cluster. Nothing in the wire protocol
//! or in any client changes: a client reaches `svc.calc` on node `b` by naming it
//! `svc.calc@b`, and the frame arrives there from `caller@a`, so replies route back the same
//! way (RPC bytes pass through untouched). `mask@b` broadcasts on node `b`, `mask@*` on every
//! node. Publications whose topic matches [`FederationConfig::export`] leave; publications from
//! other nodes matching [`FederationConfig::import`] arrive while a local client subscribes to
//! an overlapping pattern. `.broker/...` never crosses.
//!
//! | module | concept |
//! |---|---|
//! | [`subject`] | topic -> NATS subject conversion (nats-server's MQTT rules), node names, subjects |
//! | `config` | [`FederationConfig`] and its bounds |
//! | `gateway` | the router's side: checks, the bounded outbound queue, ACK codes |
//! | `export_cache` | each recent topic's export decision and NATS subject |
//! | `link` | the tasks on the NATS connection: send, receive, heartbeat, imports, resync |
//! | `inbound` | frames from other nodes routed here; `.broker/remote/...` announcements |
//! | `nodes` | the other nodes' up/down state from heartbeats |
//! | `remote_names` | the names registered on the other nodes (`client.list` on request) |
//! | `remote_rules` | the `[[remote]]` access rules |
//! | `status` | the counters, [`FederationStatus`] |
//! | `wire` | the headers a frame carries across |
//!
//! # Delivery and failures
//!
//! At most once, in order per publisher, as core NATS: an ACK means "queued". No local path
//! waits on NATS. A send to a node that is unknown or silent for
//! [`FederationConfig::NODE_TIMEOUT`] gets `0x71`; while the NATS connection is down, or the
//! gateway queue ([`FederationConfig::queue_frames`], [`FederationConfig::queue_bytes`]) is
//! full, `0x77`; a frame above the server's `max_payload`, `0x72`. An RPC call to a name not
//! registered on the remote node gets a synthesized -32113 error reply. Exported publications
//! while disconnected are dropped and counted. The client reconnects (and fails over between
//! the URLs) on its own, renews its subscriptions, and the node re-announces itself.
//!
//! ```no_run
//! # async fn demo() -> Result<(), elbus::Error> {
//! use elbus::broker::Broker;
//! use elbus::federation::{Federation, FederationConfig};
//!
//! let broker = Broker::new();
//! let mut config = FederationConfig::new(vec!["nats://127.0.0.1:4222".into()], "a");
//! config.export.push("sensors/#".into());
//! let federation = Federation::join(&broker, config, None).await?;
//! // ... serve; at shutdown:
//! federation.leave().await;
//! # Ok(()) }
//! ```

mod config;
mod export_cache;
mod gateway;
mod inbound;
mod link;
mod nodes;
mod remote_names;
mod remote_rules;
mod status;
pub mod subject;
mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use config::FederationConfig;
pub use inbound::{REMOTE_INFO_TOPIC, REMOTE_NODE_TOPIC};
pub use status::FederationStatus;

use crate::broker::{AccessControl, Broker};
use crate::Error;
use gateway::Gateway;
use remote_rules::RemoteRules;

/// How long [`Federation::leave`] waits for the last frames and the `down` heartbeat.
const LEAVE_FLUSH: Duration = Duration::from_millis(500);

/// A broker joined to a federation. Keep it while the broker serves; [`Federation::leave`]
/// tells the other nodes at once (dropping it stops the tasks and closes the NATS connection
/// without telling them: they see the node down after [`FederationConfig::NODE_TIMEOUT`]).
/// Either way the broker keeps serving locally, and remote sends get `0x77`.
pub struct Federation {
    gateway: Arc<Gateway>,
    client: async_nats::Client,
    tasks: link::Tasks,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("node", &self.gateway.node)
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// Joins `broker` to the federation `config` describes: connects to NATS, refuses a node
    /// name another node holds, and starts routing. With `access` (the broker's access-control
    /// rules), frames from other nodes are checked against its `[[remote]]` rules (fail
    /// closed); without, they are not checked, as local clients are not without rules.
    ///
    /// Returns within two seconds even when no NATS server answers:
    /// the broker then serves locally, remote sends get `0x77`, and the node joins when a
    /// server comes up. The duplicate-name check runs at the first connection; a name found
    /// taken then (not at start-up) is logged and the node never federates.
    ///
    /// TLS (rustls) uses the process's default crypto provider; when none is installed, this
    /// installs rustls' `ring` provider as the default.
    ///
    /// Fails when the configuration is invalid, the node name is found taken at start-up, or
    /// a gateway is already joined to `broker`.
    pub async fn join(
        broker: &Broker,
        config: FederationConfig,
        access: Option<&AccessControl>,
    ) -> Result<Federation, Error> {
        config.validate()?;
        let (gateway, queue) = Gateway::new(&config);
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let client = link::connect(&config, &gateway, events_tx).await?;
        let joined = link::first_connect(&client, &gateway, &mut events).await?;
        let rules = access.map(|access| Arc::new(RemoteRules::of(access)));
        broker.set_remote_route(gateway.clone())?;
        let tasks = link::start(broker, &client, &gateway, queue, events, rules).await?;
        tracing::info!(
            "federation: node {} {} cluster {} ({} exports, {} imports)",
            config.node,
            if joined {
                "joined"
            } else {
                "joins when NATS answers,"
            },
            config.cluster,
            config.export.len(),
            config.import.len()
        );
        Ok(Federation {
            gateway,
            client,
            tasks,
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.gateway.node
    }

    /// The counters and state now.
    pub fn status(&self) -> FederationStatus {
        self.gateway.status_now()
    }

    /// Leaves the federation: tells the other nodes this one is down, sends what is queued
    /// (within half a second), stops the tasks and closes the NATS connection. The broker keeps
    /// serving locally; a remote send then gets `0x77`.
    pub async fn leave(self) {
        let gateway = self.gateway.clone();
        if gateway.connected.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = tokio::time::timeout(LEAVE_FLUSH, async {
                link::publish_heartbeat(&self.client, &gateway, wire::HEARTBEAT_DOWN).await;
                let _ = self.client.flush().await;
            })
            .await;
        }
        gateway
            .connected
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        self.gateway
            .connected
            .store(false, std::sync::atomic::Ordering::Relaxed);
        for task in &self.tasks.handles {
            task.abort();
        }
        // The gateway keeps a handle of the client for the routing path, so dropping ours does
        // not end the connection: draining does (it is a message to the client's own task).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            runtime.spawn(async move {
                let _ = client.drain().await;
            });
        }
    }
}
