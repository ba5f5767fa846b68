//! Broker restarts seen from `elbus::ipc::Client`: the loss is reported at once, pending ACKs fail
//! at once, and with a reconnect policy the client comes back by itself under the same name with
//! its subscriptions and exclusions restored, delivering into the same event channel.
//!
//! The broker is the real `elbusd`, killed with SIGKILL and started again on the same socket path
//! (an extra `-B`, since each start otherwise gets a fresh temporary directory).

use std::time::Duration;

use elbus::ipc::{Client, Config, ConnectionState, ReconnectPolicy};
use elbus::{AsyncClient, ErrorKind, EventChannel, Frame, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::tempdir::TempDir;
use elbus_suite::wait::WAIT;
use tokio::sync::watch;

fn elbusd_at(path: &str) -> Broker {
    Broker::start_with_args(
        &BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")),
        &["-B", path],
    )
}

fn config(path: &str, name: &str) -> Config {
    Config::new(path, name)
        .timeout(Duration::from_secs(10))
        .ping_interval(Some(Duration::from_secs(1)))
}

async fn wait_state(states: &mut watch::Receiver<ConnectionState>, want: ConnectionState) {
    tokio::time::timeout(WAIT, states.wait_for(|state| *state == want))
        .await
        .unwrap_or_else(|_| panic!("never became {want:?}"))
        .expect("the state sender is alive while the client is");
}

async fn next(events: &mut EventChannel) -> Frame {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no frame arrived")
        .expect("the event channel ended")
}

/// Publishes `topics` in order from `publisher`, each ACKed.
async fn publish_all(publisher: &Client, topics: &[&str]) {
    for topic in topics {
        publisher
            .publish(topic, topic.as_bytes(), QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_policy_survives_a_broker_restart() {
    let dir = TempDir::new("restart");
    let path = dir.join("stable.sock").to_string_lossy().into_owned();
    let mut first = elbusd_at(&path);
    let policy = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    let client = Client::connect(&config(&path, "survivor").reconnect(Some(policy)))
        .await
        .unwrap();
    let mut events = client.take_event_channel().unwrap();
    let mut states = client.watch_connection();
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    for (topics, op) in [
        (&["t/#", "u"][..], "subscribe"),
        (&["t/secret"][..], "exclude"),
        (&["u"][..], "unsubscribe"),
    ] {
        let confirm = match op {
            "subscribe" => client.subscribe_bulk(topics, QoS::Processed).await,
            "exclude" => client.exclude_bulk(topics, QoS::Processed).await,
            _ => client.unsubscribe_bulk(topics, QoS::Processed).await,
        };
        confirm.unwrap().await.unwrap();
    }

    // An ACK pending when the broker dies fails at once with Eof (not after the 10 s timeout).
    first.pause();
    let pending = client
        .send("survivor", b"never acked", QoS::Processed)
        .await
        .unwrap();
    first.kill();
    let err = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the pending ACK did not fail")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Eof);
    wait_state(&mut states, ConnectionState::Reconnecting).await;
    assert!(!client.is_connected());
    let err = client.publish("t/x", b"x", QoS::No).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Eof, "operations fail while away");

    // Same path, new broker: the client is back and its topics with it.
    let second = elbusd_at(&path);
    wait_state(&mut states, ConnectionState::Connected).await;
    assert!(client.is_connected());
    let publisher = Client::connect(&config(&path, "publisher")).await.unwrap();
    // `u` was unsubscribed and `t/secret` excluded before the restart: only `t/x` and the fence
    // arrive, in order.
    publish_all(&publisher, &["u", "t/secret", "t/x", "t/fence"]).await;
    assert_eq!(next(&mut events).await.topic(), Some("t/x"));
    assert_eq!(next(&mut events).await.topic(), Some("t/fence"));
    // The name is registered again: direct messages reach it.
    publisher
        .send("survivor", b"direct", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(next(&mut events).await.payload(), b"direct");

    // Topic ops after the reconnect are tracked too: a second restart restores them.
    client
        .unexclude("t/secret", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    publisher.disconnect().await;
    drop(second);
    wait_state(&mut states, ConnectionState::Reconnecting).await;
    let _third = elbusd_at(&path);
    wait_state(&mut states, ConnectionState::Connected).await;
    let publisher = Client::connect(&config(&path, "publisher")).await.unwrap();
    publish_all(&publisher, &["t/secret"]).await;
    assert_eq!(next(&mut events).await.topic(), Some("t/secret"));

    // A deliberate disconnect ends it all: no reconnect, the channel ends.
    client.disconnect().await;
    wait_state(&mut states, ConnectionState::Disconnected).await;
    let end = tokio::time::timeout(WAIT, events.recv()).await;
    assert!(matches!(end, Ok(None)), "the event channel ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_policy_the_loss_is_final_and_reported() {
    let dir = TempDir::new("loss");
    let path = dir.join("b.sock").to_string_lossy().into_owned();
    let mut broker = elbusd_at(&path);
    let client = Client::connect(&config(&path, "mortal")).await.unwrap();
    let mut events = client.take_event_channel().unwrap();
    let mut states = client.watch_connection();
    broker.kill();
    wait_state(&mut states, ConnectionState::Disconnected).await;
    assert!(!client.is_connected());
    let end = tokio::time::timeout(WAIT, events.recv()).await;
    assert!(matches!(end, Ok(None)), "the event channel ends");
    // A new broker on the path changes nothing for this client.
    let _again = elbusd_at(&path);
    let err = client.publish("t", b"x", QoS::No).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Eof);
    assert_eq!(client.connection_state(), ConnectionState::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_stops_reconnecting() {
    let dir = TempDir::new("drop");
    let path = dir.join("b.sock").to_string_lossy().into_owned();
    let mut broker = elbusd_at(&path);
    let client =
        Client::connect(&config(&path, "dropped").reconnect(Some(ReconnectPolicy::default())))
            .await
            .unwrap();
    let mut events = client.take_event_channel().unwrap();
    let mut states = client.watch_connection();
    broker.kill();
    wait_state(&mut states, ConnectionState::Reconnecting).await;
    drop(client);
    wait_state(&mut states, ConnectionState::Disconnected).await;
    let end = tokio::time::timeout(WAIT, events.recv()).await;
    assert!(matches!(end, Ok(None)), "the event channel ends");
}
