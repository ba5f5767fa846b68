//! The gateway's tasks on the NATS connection: connecting (with the duplicate-node check),
//! sending the outbound queue, receiving each subscription, the heartbeat, the interest-based
//! import subscriptions, and the resync after a reconnect.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, Subscriber};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::config::FederationConfig;
use super::gateway::{Gateway, Outbound};
use super::inbound::{Inbound, Kind, REMOTE_INFO_TOPIC, REMOTE_NODE_TOPIC};
use super::remote_rules::RemoteRules;
use crate::broker::remote::RemoteRoute;
use crate::broker::Broker;
use crate::Error;

/// The control request for a node's names.
const CTL_NAMES: &[u8] = b"names";
/// How long a connection attempt (and the duplicate-node ping) may take at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long local subscription changes settle before the imports are recomputed.
const INTEREST_SETTLE: Duration = Duration::from_millis(20);
/// Most frames handed to the NATS client and not yet written by it (its channel). Their bytes
/// stay within the gateway's byte bound until written (the gateway's `Held` payloads), so
/// the frame count can be as large as a read batch of small frames needs to pass at once.
pub(crate) const CLIENT_CAPACITY: usize = 2048;
/// Most received messages routed before one flush of the local clients' writes.
const RECEIVE_BATCH: usize = 256;
/// Most queued frames taken at once by the sender.
const SEND_BATCH: usize = 256;
/// The longest pause between reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Creates the NATS client for `config`, reporting connection changes to `gateway` and
/// `events`. It returns at once, reachable servers or not: the client keeps trying in the
/// background (`retry_on_initial_connect`), so the broker never waits on NATS to serve.
pub(crate) async fn connect(
    config: &FederationConfig,
    gateway: &Arc<Gateway>,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Client, Error> {
    choose_crypto_provider();
    let mut options = match &config.creds {
        Some(path) => ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|err| {
                Error::data(format!("federation: credentials {}: {err}", path.display()))
            })?,
        None => ConnectOptions::new(),
    };
    if let Some(ca) = &config.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &config.tls_cert {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    let gw = gateway.clone();
    options = options
        .no_echo()
        .client_capacity(CLIENT_CAPACITY)
        .name(format!("elbus-{}", config.node))
        .connection_timeout(CONNECT_TIMEOUT)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            (Duration::from_millis(50) * u32::try_from(attempts).unwrap_or(u32::MAX))
                .min(MAX_RECONNECT_DELAY)
        })
        .event_callback(move |event| {
            match event {
                // Usable only once the node name is known to be free (`verified`).
                Event::Connected => gw.link_up(),
                Event::Disconnected | Event::Closed => gw.connected.store(false, Ordering::Relaxed),
                _ => {}
            }
            let _ = events.send(event);
            async {}
        });
    let servers: Vec<&str> = config.servers.iter().map(|s| s.trim()).collect();
    options
        .connect(servers.as_slice())
        .await
        .map_err(|err| Error::io(format!("federation: cannot connect to NATS: {err}")))
}

/// Makes rustls' `ring` provider the process default unless one is set. rustls chooses on its
/// own only when exactly one provider is linked; a program that also links `aws-lc-rs` (through
/// another dependency) would otherwise panic at the first TLS handshake with a NATS server.
fn choose_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one meanwhile; either provider is fine then.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Waits (at most [`CONNECT_TIMEOUT`]) for the first connection attempt. Connected: the
/// duplicate-name check runs now and a taken name fails the join. Not reachable: `Ok(false)`,
/// the node joins when a server answers ([`resync`] runs the check then).
pub(crate) async fn first_connect(
    client: &Client,
    gateway: &Gateway,
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<bool, Error> {
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Connected)) => {
                refuse_duplicate(client, gateway).await?;
                gateway.verified(client);
                return Ok(true);
            }
            Ok(Some(Event::ClientError(err))) => {
                warn!("federation: NATS not reachable yet ({err}); serving locally, joining when it answers");
                return Ok(false);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                warn!(
                    "federation: NATS not reachable yet; serving locally, joining when it answers"
                );
                return Ok(false);
            }
        }
    }
}

/// Pings this node's control subject: an answer means another node holds the name.
async fn refuse_duplicate(client: &Client, gateway: &Gateway) -> Result<(), Error> {
    let subject = gateway.subjects.node(&gateway.node, "ctl");
    match tokio::time::timeout(CONNECT_TIMEOUT, client.request(subject, "ping".into())).await {
        Ok(Ok(_)) => Err(Error::busy(format!(
            "federation: another node is already named {} in this cluster",
            gateway.node
        ))),
        // No responders (or silence): the name is free.
        Ok(Err(_)) | Err(_) => Ok(()),
    }
}

/// The running tasks of a joined broker.
pub(crate) struct Tasks {
    pub(crate) handles: Vec<JoinHandle<()>>,
}

/// Subscribes the fixed subjects and starts every task.
pub(crate) async fn start(
    broker: &Broker,
    client: &Client,
    gateway: &Arc<Gateway>,
    queue: mpsc::Receiver<Outbound>,
    events: mpsc::UnboundedReceiver<Event>,
    rules: Option<Arc<RemoteRules>>,
) -> Result<Tasks, Error> {
    let s = &gateway.subjects;
    let fixed = [
        (s.messages(&gateway.node), Kind::Message),
        (s.broadcasts(&gateway.node), Kind::Broadcast),
        (s.broadcast_all(), Kind::Broadcast),
        (s.node("*", "hb"), Kind::Heartbeat),
        (s.node("*", "info"), Kind::Info),
    ];
    let mut handles = Vec::new();
    for (subject, kind) in fixed {
        let sub = subscribe(client, subject).await?;
        let inbound = Inbound::new(broker.clone(), gateway.clone(), rules.clone());
        handles.push(tokio::spawn(receive(sub, kind, inbound)));
    }
    let ctl = subscribe(client, s.node(&gateway.node, "ctl")).await?;
    handles.push(tokio::spawn(answer_control(
        broker.clone(),
        client.clone(),
        ctl,
    )));
    handles.push(tokio::spawn(snapshots(
        broker.clone(),
        client.clone(),
        gateway.clone(),
    )));
    handles.push(tokio::spawn(send_queue(
        client.clone(),
        gateway.clone(),
        queue,
    )));
    handles.push(tokio::spawn(heartbeat(
        broker.clone(),
        client.clone(),
        gateway.clone(),
    )));
    handles.push(tokio::spawn(imports(
        broker.clone(),
        client.clone(),
        gateway.clone(),
        rules,
    )));
    handles.push(tokio::spawn(resync(
        broker.clone(),
        client.clone(),
        gateway.clone(),
        events,
    )));
    gateway.interest.notify_one();
    if gateway.connected.load(Ordering::Relaxed) {
        publish_heartbeat(client, gateway, b"").await;
    }
    Ok(Tasks { handles })
}

async fn subscribe(client: &Client, subject: String) -> Result<Subscriber, Error> {
    client
        .subscribe(subject.clone())
        .await
        .map_err(|err| Error::io(format!("federation: cannot subscribe to {subject}: {err}")))
}

/// Routes what a subscription receives. Every message that has already arrived is routed
/// before the writes to the local clients are flushed, so a burst costs one write per client
/// rather than one per frame.
async fn receive(mut sub: Subscriber, kind: Kind, mut inbound: Inbound) {
    while let Some(msg) = sub.next().await {
        inbound.handle(kind, &msg);
        for _ in 1..RECEIVE_BATCH {
            match sub.next().now_or_never() {
                Some(Some(msg)) => inbound.handle(kind, &msg),
                Some(None) => break,
                None => break,
            }
        }
        inbound.flush();
    }
}

/// Answers requests on this node's control subject: `ping` (the duplicate-name check of other
/// nodes) with `pong`, `names` with the local names (a MessagePack array of strings).
async fn answer_control(broker: Broker, client: Client, mut sub: Subscriber) {
    while let Some(msg) = sub.next().await {
        let Some(reply) = msg.reply else {
            continue;
        };
        let answer = if msg.payload.as_ref() == CTL_NAMES {
            rmp_serde::to_vec(&broker.local_names())
                .unwrap_or_default()
                .into()
        } else {
            bytes::Bytes::from_static(b"pong")
        };
        let _ = client.publish(reply, answer).await;
    }
}

/// Asks each node that comes up for its names and announces them (`reg` of `name@node` on
/// `.broker/remote/info`), so local clients learn the names registered before the two nodes
/// saw each other.
async fn snapshots(broker: Broker, client: Client, gateway: Arc<Gateway>) {
    loop {
        gateway.joined_wake.notified().await;
        for node in gateway.take_joined() {
            let subject = gateway.subjects.node(&node, "ctl");
            let request = client.request(subject, bytes::Bytes::from_static(CTL_NAMES));
            let Ok(Ok(answer)) = tokio::time::timeout(CONNECT_TIMEOUT, request).await else {
                warn!("federation: node {node} did not send its names");
                continue;
            };
            let Ok(names) = rmp_serde::from_slice::<Vec<String>>(&answer.payload) else {
                warn!("federation: node {node} sent a malformed name list");
                continue;
            };
            for name in names {
                gateway.remote_names.registered(&node, &name);
                let remote = format!("{name}{}{node}", crate::broker::remote::NODE_SEP);
                broker.announce_on(REMOTE_INFO_TOPIC, "reg", Some(&remote));
            }
        }
    }
}

/// Sends the outbound queue to NATS in order, taking what is waiting in batches (the client
/// batches the writes itself); what NATS refuses is counted as dropped. While it holds
/// frames, the routing path queues behind them rather than sending directly.
async fn send_queue(client: Client, gateway: Arc<Gateway>, mut queue: mpsc::Receiver<Outbound>) {
    let mut batch = Vec::with_capacity(SEND_BATCH);
    while queue.recv_many(&mut batch, SEND_BATCH).await > 0 {
        for out in batch.drain(..) {
            let counters = &gateway.counters;
            if !gateway.connected.load(Ordering::Relaxed) {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                gateway.sent();
                continue;
            }
            match out.publish_owned(&client).await {
                Ok(()) => counters.exported.fetch_add(1, Ordering::Relaxed),
                Err(_) => counters.dropped.fetch_add(1, Ordering::Relaxed),
            };
            // Only now may the routing path hand frames to the client directly again.
            gateway.sent();
        }
    }
}

pub(crate) async fn publish_heartbeat(client: &Client, gateway: &Gateway, payload: &'static [u8]) {
    let subject = gateway.subjects.node(&gateway.node, "hb");
    let _ = client
        .publish(subject, bytes::Bytes::from_static(payload))
        .await;
}

/// Announces this node every [`FederationConfig::HEARTBEAT`] and marks silent nodes down.
async fn heartbeat(broker: Broker, client: Client, gateway: Arc<Gateway>) {
    let mut tick = tokio::time::interval(FederationConfig::HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if gateway.connected.load(Ordering::Relaxed) {
            gateway.refresh_max_payload(&client);
            publish_heartbeat(&client, &gateway, b"").await;
        }
        for node in gateway.nodes.sweep(FederationConfig::NODE_TIMEOUT) {
            gateway.remote_names.node_down(&node);
            info!("federation: node {node} down (no heartbeat)");
            broker.announce_on(REMOTE_NODE_TOPIC, "down", Some(&node));
        }
    }
}

/// After a (re)connect: the subscriptions are renewed by the client itself. The first
/// connection of a node that started while NATS was unreachable runs the duplicate-name check
/// now: a taken name is logged and this node stops federating (the client is drained and
/// closed; the broker keeps serving locally). Then this node announces itself and its names at
/// once, so the others see it up without waiting for the next beat, and asks the nodes still up
/// for their names.
async fn resync(
    broker: Broker,
    client: Client,
    gateway: Arc<Gateway>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let errors = crate::logging::LogLimiter::with_default_rate("NATS connection errors");
    while let Some(event) = events.recv().await {
        match event {
            Event::Connected => {
                if !gateway.is_verified() {
                    if let Err(err) = refuse_duplicate(&client, &gateway).await {
                        tracing::error!("{err}: this node does not federate");
                        gateway.refuse();
                        let _ = client.drain().await;
                        return;
                    }
                    gateway.verified(&client);
                }
                info!("federation: NATS connection up");
                gateway.refresh_max_payload(&client);
                publish_heartbeat(&client, &gateway, b"").await;
                for name in broker.local_names() {
                    gateway.registration(&name, true);
                }
                // Names the others registered while this node was away: a snapshot of each
                // node still up (the ones that come up again get one anyway).
                for node in gateway.nodes.up() {
                    gateway.node_joined(&node);
                }
            }
            Event::Disconnected => {
                warn!("federation: NATS connection lost; remote sends fail with 0x77")
            }
            Event::ClientError(err) if errors.allow() => {
                warn!("federation: NATS: {err}")
            }
            _ => {}
        }
    }
}

/// Whether two topic patterns can match a common topic.
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    fn walk<'a>(
        mut a: impl Iterator<Item = &'a str> + Clone,
        mut b: impl Iterator<Item = &'a str> + Clone,
    ) -> bool {
        match (a.next(), b.next()) {
            (None, None) => true,
            (Some("#"), Some(_)) | (Some(_), Some("#")) => true,
            (Some(x), Some(y)) if x == "+" || y == "+" || x == y => walk(a, b),
            _ => false,
        }
    }
    walk(a.split('/'), b.split('/'))
}

/// Holds a NATS subscription for each import pattern exactly while a local subscription
/// overlaps it.
async fn imports(
    broker: Broker,
    client: Client,
    gateway: Arc<Gateway>,
    rules: Option<Arc<RemoteRules>>,
) {
    if gateway.imports.is_empty() {
        return;
    }
    let mut held: Vec<Option<JoinHandle<()>>> = (0..gateway.imports.len()).map(|_| None).collect();
    loop {
        gateway.interest.notified().await;
        tokio::time::sleep(INTEREST_SETTLE).await;
        let local: HashSet<String> = broker
            .local_subscriptions()
            .into_iter()
            .filter(|p| !p.starts_with(".broker/"))
            .collect();
        for (index, (pattern, subject)) in gateway.imports.iter().enumerate() {
            let wanted = local.iter().any(|l| overlap(l, pattern));
            match (&held[index], wanted) {
                (None, true) => {
                    let full = gateway.subjects.topic(subject);
                    match client.subscribe(full.clone()).await {
                        Ok(sub) => {
                            let inbound =
                                Inbound::new(broker.clone(), gateway.clone(), rules.clone());
                            held[index] =
                                Some(tokio::spawn(receive(sub, Kind::Import(index), inbound)));
                            gateway.set_active(index, true);
                            info!("federation: importing {pattern} ({full})");
                        }
                        Err(err) => warn!("federation: cannot subscribe to {full}: {err}"),
                    }
                }
                (Some(_), false) => {
                    if let Some(task) = held[index].take() {
                        // Dropping the subscriber unsubscribes it.
                        task.abort();
                    }
                    gateway.set_active(index, false);
                    info!("federation: no local interest in {pattern}, not importing it");
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn pattern_overlap() {
        assert!(overlap("a/b", "a/+"));
        assert!(overlap("a/#", "+/b/c"));
        assert!(overlap("#", "x"));
        assert!(!overlap("a/#", "a"));
        assert!(!overlap("a/b", "a/c"));
        assert!(!overlap("a/+", "a/b/c"));
        assert!(overlap("a/+/#", "a/b/c"));
    }
}
