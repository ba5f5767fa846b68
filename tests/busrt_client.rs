//! The crates.io `busrt` 0.5.6 client against `elbusd`, over UNIX and TCP: registration with
//! each refusal code, one-to-one messages with their ACK codes and the realtime flag, broadcast
//! masks, subscribe + publish with wildcards, exclusions and secondaries.

use busrt::client::AsyncClient;
use busrt::ipc::{Client, Config};
use busrt::{ErrorKind, EventChannel, Frame, FrameKind, OpConfirm, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::wait::{within, CLIENT_TIMEOUT};

fn elbusd() -> Broker {
    Broker::start(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")))
}

async fn connect(path: &str, name: &str) -> Client {
    Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn refused(path: &str, name: &str) -> ErrorKind {
    match Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT)).await {
        Ok(_) => panic!("{name} was accepted"),
        Err(err) => err.kind(),
    }
}

/// Awaits an ACK and returns its result.
async fn ack(confirm: Result<OpConfirm, busrt::Error>) -> Result<(), ErrorKind> {
    let rx = confirm
        .expect("the frame is sent")
        .expect("QoS 1 has an ACK");
    within("an ACK", rx)
        .await
        .expect("the ACK sender is alive")
        .map_err(|err| err.kind())
}

async fn next(events: &EventChannel) -> Frame {
    within("a frame", events.recv())
        .await
        .expect("the connection is alive")
}

#[tokio::test]
async fn busrt_client_against_elbusd() {
    let broker = elbusd();
    for path in broker.paths() {
        registration(path).await;
        messages(path).await;
        broadcasts_and_topics(path).await;
    }
}

async fn registration(path: &str) {
    let primary = connect(path, "reg.p").await;
    assert_eq!(refused(path, ".dot").await, ErrorKind::Data);
    assert_eq!(refused(path, "reg.p").await, ErrorKind::Busy);
    assert_eq!(refused(path, "nobody%%1").await, ErrorKind::NotRegistered);
    let mut secondary = primary.register_secondary().await.unwrap();
    assert_eq!(secondary.get_name(), "reg.p%%0");
    let secondary_events = secondary.take_event_channel().unwrap();
    drop(primary);
    // The secondary is disconnected with its primary: its event channel ends.
    let closed = within("the secondary's disconnection", secondary_events.recv()).await;
    assert!(closed.is_err(), "unexpected frame {closed:?}");
    // And the name is free again at once.
    let _again = connect(path, "reg.p").await;
}

async fn messages(path: &str) {
    let mut a = connect(path, "msg.a").await;
    let mut b = connect(path, "msg.b").await;
    let b_events = b.take_event_channel().unwrap();
    ack(a
        .send("msg.b", b"hi".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    let frame = next(&b_events).await;
    assert_eq!(
        (frame.kind(), frame.sender(), frame.payload()),
        (FrameKind::Message, "msg.a", &b"hi"[..])
    );
    assert!(!frame.is_realtime());
    ack(a
        .send("msg.b", b"rt".as_slice().into(), QoS::RealtimeProcessed)
        .await)
    .await
    .unwrap();
    assert!(next(&b_events).await.is_realtime());
    assert_eq!(
        ack(a
            .send("msg.none", b"x".as_slice().into(), QoS::Processed)
            .await)
        .await,
        Err(ErrorKind::NotRegistered)
    );
    let _ = b.ping().await;
}

async fn broadcasts_and_topics(path: &str) {
    let mut tx = connect(path, "tx").await;
    let mut a = connect(path, "grp.a").await;
    let mut b = connect(path, "grp.b").await;
    let a_events = a.take_event_channel().unwrap();
    let b_events = b.take_event_channel().unwrap();
    ack(tx
        .send_broadcast("?.b", b"one".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    ack(tx
        .send_broadcast("grp.*", b"all".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    assert_eq!(next(&b_events).await.payload(), b"one");
    assert_eq!(next(&b_events).await.payload(), b"all");
    let frame = next(&a_events).await;
    assert_eq!(
        (frame.kind(), frame.payload()),
        (FrameKind::Broadcast, &b"all"[..])
    );

    ack(a.subscribe_bulk(&["t/+/x", "t/#"], QoS::Processed).await)
        .await
        .unwrap();
    ack(b.subscribe("t/+", QoS::Processed).await).await.unwrap();
    ack(b.exclude("t/secret", QoS::Processed).await)
        .await
        .unwrap();
    ack(tx
        .publish("t/secret", b"s".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    ack(tx
        .publish("t/y/x", b"deep".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    // `a` matches both publications once each; `b` excluded the first and `t/+` misses the
    // second, so its next frame is the fence below.
    let first = next(&a_events).await;
    assert_eq!(
        (first.topic(), first.payload()),
        (Some("t/secret"), &b"s"[..])
    );
    let second = next(&a_events).await;
    assert_eq!(
        (second.topic(), second.payload()),
        (Some("t/y/x"), &b"deep"[..])
    );
    ack(tx
        .send("grp.b", b"fence".as_slice().into(), QoS::Processed)
        .await)
    .await
    .unwrap();
    assert_eq!(next(&b_events).await.payload(), b"fence");
}
