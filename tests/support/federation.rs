//! Federation test nodes: `elbusd --federation` started against a test nats-server, clients on
//! them, and the `.broker` federation methods read back with bounded polling.

use std::path::Path;
use std::time::Duration;

use elbus::federation::FederationStatus;
use elbus::ipc::{Client, Config};
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, EventChannel, FrameKind, QoS};
use serde::Deserialize;

use crate::broker::{Broker, BrokerKind};
use crate::wait::{within, CLIENT_TIMEOUT};

/// How often the polling helpers ask again.
const POLL: Duration = Duration::from_millis(20);

/// The topic pattern the test nodes export and import.
pub const FED_TOPICS: &str = "fed/#";

/// Starts `elbusd` as node `name` of the federation on `urls`, exporting and importing
/// [`FED_TOPICS`], with `extra` arguments.
pub fn node(urls: &str, name: &str, extra: &[&str]) -> Broker {
    let mut args = vec![
        "--federation",
        urls,
        "--node",
        name,
        "--federation-export",
        FED_TOPICS,
        "--federation-import",
        FED_TOPICS,
    ];
    args.extend_from_slice(extra);
    Broker::start_with_args(&BrokerKind::elbusd(crate::workspace_bin("elbusd")), &args)
}

/// Connects `name` to the broker at `path`, or fails.
pub async fn try_connect(path: &Path, name: &str) -> Result<Client, elbus::Error> {
    let path = path.to_str().expect("a UTF-8 socket path");
    // Pings keep a client that only listens within the broker's idle limit.
    let config = Config::new(path, name)
        .timeout(CLIENT_TIMEOUT)
        .ping_interval(Some(Duration::from_secs(1)));
    Client::connect(&config).await
}

/// Connects `name` and takes its event channel.
///
/// # Panics
/// If it cannot connect.
pub async fn connect(path: &Path, name: &str) -> (Client, EventChannel) {
    let client = try_connect(path, name)
        .await
        .unwrap_or_else(|e| panic!("{name} cannot connect: {e}"));
    let events = client.take_event_channel().expect("the event channel");
    (client, events)
}

/// The next publication on `events` (other frames skipped): topic, sender, payload.
pub async fn next_publication(events: &mut EventChannel) -> (String, String, Vec<u8>) {
    loop {
        let frame = within("a publication", events.recv())
            .await
            .expect("the connection closed");
        if frame.kind() == FrameKind::Publish {
            let topic = frame.topic().unwrap_or_default().to_owned();
            return (topic, frame.sender().to_owned(), frame.payload().to_vec());
        }
    }
}

/// Calls the `.broker` method `method` of the broker at `path`, without params.
pub async fn broker_call(path: &Path, method: &str) -> Vec<u8> {
    broker_call_with(path, method, b"").await
}

/// Calls the `.broker` method `method` of the broker at `path` with `params` (MessagePack).
pub async fn broker_call_with(path: &Path, method: &str, params: &[u8]) -> Vec<u8> {
    static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let client = try_connect(path, &format!("fed.probe.{n}"))
        .await
        .expect("a probe client");
    let rpc = RpcClient::new(client, DummyHandlers).unwrap();
    let reply = within(method, rpc.call(".broker", method, params, QoS::Processed))
        .await
        .unwrap_or_else(|e| panic!("{method}: {e:?}"));
    reply.payload().to_vec()
}

/// `federation.status` of the broker at `path`.
pub async fn status(path: &Path) -> FederationStatus {
    rmp_serde::from_slice(&broker_call(path, "federation.status").await).expect("a status map")
}

/// One `node.list` entry.
#[derive(Debug, Deserialize)]
pub struct NodeEntry {
    /// The node's name.
    pub node: String,
    /// Whether it is up.
    pub up: bool,
}

#[derive(Debug, Deserialize)]
struct NodeList {
    nodes: Vec<NodeEntry>,
}

/// `node.list` of the broker at `path`.
pub async fn nodes(path: &Path) -> Vec<NodeEntry> {
    let list: NodeList =
        rmp_serde::from_slice(&broker_call(path, "node.list").await).expect("a node list");
    list.nodes
}

/// Waits until the broker at `path` sees `node` up.
pub async fn wait_node_up(path: &Path, node: &str) {
    within(&format!("node {node} up"), async {
        while !nodes(path).await.iter().any(|n| n.node == node && n.up) {
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
}

/// Waits until the broker at `path` holds `count` import subscriptions.
pub async fn wait_imports(path: &Path, count: usize) {
    within(&format!("{count} imports"), async {
        while status(path).await.imports.len() < count {
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
}

/// Sends `payload` to `target` with QoS Processed and awaits the ACK.
pub async fn sent(client: &Client, target: &str, payload: &[u8]) -> Result<(), elbus::Error> {
    client.send(target, payload, QoS::Processed).await?.await
}

/// A client named `name` on the broker at `path`, subscribed to `topics` (the
/// `.broker/remote/...` announcements, say), and its events.
pub async fn watcher(path: &Path, name: &str, topics: &[&str]) -> (Client, EventChannel) {
    let (client, events) = connect(path, name).await;
    client
        .subscribe_bulk(topics, QoS::Processed)
        .await
        .expect("subscribe")
        .await
        .expect("subscribed");
    (client, events)
}

/// After an outage: sends `payload` from `client` to `target` until the broker accepts it,
/// then reads the messages on `events` up to it (each from `sender`) and returns the payloads
/// before it, which the outage may have let through or not.
pub async fn send_until_through(
    client: &Client,
    target: &str,
    payload: &[u8],
    events: &mut EventChannel,
    sender: &str,
) -> Vec<Vec<u8>> {
    poll_until("a remote send accepted again", || async {
        sent(client, target, payload).await.ok()
    })
    .await;
    let mut before = Vec::new();
    loop {
        let (from, got) = next_message(events).await;
        assert_eq!(from, sender);
        if got == payload {
            return before;
        }
        before.push(got);
    }
}

/// The next one-to-one message on `events` (other frames skipped): sender, payload.
pub async fn next_message(events: &mut EventChannel) -> (String, Vec<u8>) {
    loop {
        let frame = within("a message", events.recv())
            .await
            .expect("the connection closed");
        if frame.kind() == FrameKind::Message {
            return (frame.sender().to_owned(), frame.payload().to_vec());
        }
    }
}

/// The next announcement on `events` about `subject` (`d`): its event (`s`).
pub async fn next_announcement(events: &mut EventChannel, subject: &str) -> String {
    #[derive(Deserialize)]
    struct Announcement {
        s: String,
        d: Option<String>,
    }
    loop {
        let (_, _, payload) = next_publication(events).await;
        if let Ok(a) = rmp_serde::from_slice::<Announcement>(&payload) {
            if a.d.as_deref() == Some(subject) {
                return a.s;
            }
        }
    }
}

/// Polls `attempt` until it returns `Some`, within the wait bound.
pub async fn poll_until<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(found) = attempt().await {
                return found;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}
