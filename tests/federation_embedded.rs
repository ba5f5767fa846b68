//! An embedded `Broker` joined from code (`Federation::join`) to a federation with an `elbusd`
//! node on a real nats-server: its in-process clients reach `name@node` and are reached as
//! `name@node`, and `leave()` tells the other node at once, closes the NATS connection (the
//! server's monitoring port counts them) and leaves the broker serving locally, with `0x77`
//! for remote sends.
#![cfg(feature = "federation")]

use std::io::{Read, Write};

use elbus::broker::Broker;
use elbus::federation::{Federation, FederationConfig, REMOTE_NODE_TOPIC};
use elbus::{AsyncClient, ErrorKind, QoS};
use elbus_suite::federation::{
    connect, next_announcement, next_message, node, poll_until, sent, watcher,
};
use elbus_suite::nats::{free_port, NatsServer};

/// The number of client connections nats-server reports on its monitoring port.
fn connections(monitor: u16) -> u64 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", monitor)).expect("monitor port");
    stream
        .write_all(b"GET /connz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let body = reply.split("\r\n\r\n").nth(1).expect("an HTTP body");
    let connz: serde_json::Value = serde_json::from_str(body).expect("connz JSON");
    connz["num_connections"].as_u64().expect("num_connections")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_broker_joins_from_code_and_leaves() {
    let monitor = free_port();
    let nats = NatsServer::start_with(&["-m", &monitor.to_string()]);
    let b = node(&nats.url(), "b", &[]);
    let (_watch, mut announcements) = watcher(b.unix_path(), "watch", &[REMOTE_NODE_TOPIC]).await;
    let (sink, mut sink_events) = connect(b.unix_path(), "sink").await;

    let broker = Broker::new();
    let app = broker.register_client("app").unwrap();
    let mut app_events = app.take_event_channel().unwrap();
    let local = broker.register_client("local").unwrap();
    let mut local_events = local.take_event_channel().unwrap();
    let config = FederationConfig::new(vec![nats.url()], "emb");
    let federation = Federation::join(&broker, config, None).await.unwrap();
    assert_eq!(federation.node(), "emb");
    assert_eq!(next_announcement(&mut announcements, "emb").await, "up");
    assert_eq!(connections(monitor), 2, "b's and emb's");

    poll_until("emb to see b up", || async {
        app.send("sink@b", b"from code", QoS::Processed)
            .await
            .ok()?
            .await
            .ok()
    })
    .await;
    assert_eq!(
        next_message(&mut sink_events).await,
        ("app@emb".to_owned(), b"from code".to_vec())
    );
    sent(&sink, "app@emb", b"back").await.unwrap();
    assert_eq!(
        next_message(&mut app_events).await,
        ("sink@b".to_owned(), b"back".to_vec())
    );
    assert!(federation.status().exported >= 1);

    federation.leave().await;
    assert_eq!(next_announcement(&mut announcements, "emb").await, "down");
    // An in-process sender gets the refusal at once, not through the confirmation.
    let err = match app.send("sink@b", b"lost", QoS::Processed).await {
        Err(err) => err,
        Ok(confirm) => confirm.await.unwrap_err(),
    };
    assert_eq!(err.kind(), ErrorKind::NotDelivered, "{err}");
    app.send("local", b"still local", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut local_events).await,
        ("app".to_owned(), b"still local".to_vec())
    );
    poll_until("emb's NATS connection to close", || async {
        (connections(monitor) == 1).then_some(())
    })
    .await;
}
