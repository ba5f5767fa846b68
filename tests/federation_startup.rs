//! Federation start-up without NATS: `elbusd --federation` pointing at a port where no
//! nats-server listens yet starts at once and serves local clients, remote sends fail fast
//! (`0x77`, RPC -32119), and the node joins when the server comes up; a node whose name turns
//! out to be taken at that late first connection logs it and does not federate; a node that
//! joins late learns the names registered before it (a name snapshot).
#![cfg(feature = "federation")]

use std::time::Duration;

use elbus::federation::REMOTE_INFO_TOPIC;
use elbus::rpc::{DummyHandlers, RpcClient};
use elbus::{AsyncClient, ErrorKind, QoS};
use elbus_suite::federation::{
    connect, next_announcement, next_message, next_publication, node, poll_until, sent, status,
    try_connect, wait_node_up, watcher,
};
use elbus_suite::nats::{free_port, NatsServer};
use tokio::net::{TcpListener, TcpStream};

/// How long a call that must fail fast may take before the test calls it hung.
const FAST: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbusd_serves_before_nats_is_up_and_joins_when_it_is() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    // Ready (its listeners serving) although nothing answers on the port.
    let a = node(&url, "a", &[]);
    let (local, mut local_events) = connect(a.unix_path(), "svc.local").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    local
        .subscribe("fed/local", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    app.publish("fed/local", b"p", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(next_publication(&mut local_events).await.0, "fed/local");
    sent(&app, "svc.local", b"m").await.unwrap();
    assert_eq!(next_message(&mut local_events).await.1, b"m");

    // Remote sends fail at once: 0x77, an RPC call -32119.
    let err = sent(&app, "svc.sink@b", b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotDelivered, "{err}");
    let rpc = RpcClient::new(
        try_connect(a.unix_path(), "caller").await.unwrap(),
        DummyHandlers,
    )
    .unwrap();
    let call = rpc.call("svc.sink@b", "m", b"", QoS::Processed);
    let outcome = tokio::time::timeout(FAST, call)
        .await
        .expect("a fast failure");
    assert_eq!(outcome.unwrap_err().code(), -32119);
    assert!(!status(a.unix_path()).await.connected);

    // The server comes up on that port: a joins, and the remote path works.
    let nats = NatsServer::start_on(port);
    let b = node(&nats.url(), "b", &[]);
    let (_sink, mut sink_events) = connect(b.unix_path(), "svc.sink").await;
    wait_node_up(a.unix_path(), "b").await;
    sent(&app, "svc.sink@b", b"joined").await.unwrap();
    assert_eq!(
        next_message(&mut sink_events).await,
        ("app@a".to_owned(), b"joined".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_found_taken_at_the_late_first_connection_does_not_federate() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let b = node(&nats.url(), "b", &[]);
    let (_svc, mut svc_events) = connect(a.unix_path(), "svc.one").await;
    wait_node_up(b.unix_path(), "a").await;

    // A second `a` reaches the server only through a relay that is not listening yet: it
    // starts (NATS unreachable), then finds the name taken when the relay opens.
    let relay_port = free_port();
    let dup = node(&format!("nats://127.0.0.1:{relay_port}"), "a", &[]);
    let relay = tokio::spawn(relay(relay_port, nats.url()));
    dup.wait_for_log("another node is already named a", 1);
    assert!(!status(dup.unix_path()).await.connected);
    let (dup_app, _) = connect(dup.unix_path(), "app").await;
    let err = sent(&dup_app, "svc.x@b", b"").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotDelivered, "{err}");

    // The first `a` is untouched: b still reaches it, and only it.
    let (app_b, _) = connect(b.unix_path(), "app").await;
    sent(&app_b, "svc.one@a", b"to the first a").await.unwrap();
    assert_eq!(
        next_message(&mut svc_events).await,
        ("app@b".to_owned(), b"to the first a".to_vec())
    );
    poll_until("b still sees a up", || async {
        elbus_suite::federation::nodes(b.unix_path())
            .await
            .iter()
            .any(|n| n.node == "a" && n.up)
            .then_some(())
    })
    .await;
    relay.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_node_gets_the_names_registered_before_it() {
    let nats = NatsServer::start();
    let a = node(&nats.url(), "a", &[]);
    let (_early, _) = connect(a.unix_path(), "svc.early").await;
    // b reaches NATS only once its watcher listens: then a comes up on b, and b asks for its
    // names (their `reg` announcements went out before b was there).
    let relay_port = free_port();
    let b = node(&format!("nats://127.0.0.1:{relay_port}"), "b", &[]);
    let (_watch, mut announcements) = watcher(b.unix_path(), "watch", &[REMOTE_INFO_TOPIC]).await;
    let relay = tokio::spawn(relay(relay_port, nats.url()));
    assert_eq!(
        next_announcement(&mut announcements, "svc.early@a").await,
        "reg"
    );
    relay.abort();
}

/// Accepts on `port` and relays each connection to the server at `url` (`nats://HOST:PORT`).
async fn relay(port: u16, url: String) {
    let target = url.trim_start_matches("nats://").to_owned();
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the relay port");
    while let Ok((mut inbound, _)) = listener.accept().await {
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
