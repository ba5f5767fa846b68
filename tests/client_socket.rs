//! `elbus::ipc::Client` against the real `elbusd` and busrtd 0.5.6, over UNIX and TCP: registration,
//! secondaries, one-to-one messages and their ACKs, broadcast masks, topics with wildcards,
//! exclusions, publish_for and disconnect detection.
//!
//! Nothing here sleeps to synchronise. To show that a frame did *not* arrive, the sender follows
//! it with a direct "fence" message to each receiver: the broker routes one client's frames in
//! order, so a receiver that reaches the fence has seen everything routed to it before.

use std::future::Future;

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, Error, ErrorKind, EventChannel, Frame, FrameKind, OpConfirm, QoS};
use elbus_suite::broker::{Broker, BrokerKind};
use elbus_suite::wait::{within, CLIENT_TIMEOUT};

const FENCE: &[u8] = b"--fence--";

async fn connect(path: &str, name: &str) -> Client {
    Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT))
        .await
        .unwrap_or_else(|err| panic!("connect {name} at {path}: {err}"))
}

async fn connect_err(path: &str, name: &str) -> ErrorKind {
    Client::connect(&Config::new(path, name).timeout(CLIENT_TIMEOUT))
        .await
        .expect_err(name)
        .kind()
}

/// A client with its event channel.
async fn peer(path: &str, name: &str) -> (Client, EventChannel) {
    let client = connect(path, name).await;
    let events = client.take_event_channel().unwrap();
    (client, events)
}

/// Awaits an operation and its ACK, both of which must succeed.
async fn acked(op: impl Future<Output = Result<OpConfirm, Error>>) {
    op.await.unwrap().await.unwrap();
}

async fn next_frame(events: &mut EventChannel) -> Frame {
    within("a frame", events.recv())
        .await
        .expect("the event channel ended")
}

/// Sends a fence from `from` to each of `to`, ACKed.
async fn fence(from: &Client, to: &[&Client]) {
    for target in to {
        acked(from.send(target.name(), FENCE, QoS::Processed)).await;
    }
}

/// Everything a client received up to the next fence, announcements of `.broker` left out.
async fn until_fence(events: &mut EventChannel) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let frame = next_frame(events).await;
        if frame.kind() == FrameKind::Message && frame.payload() == FENCE {
            return frames;
        }
        if frame.sender() != ".broker" {
            frames.push(frame);
        }
    }
}

fn payloads(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|frame| String::from_utf8_lossy(frame.payload()).into_owned())
        .collect()
}

async fn registration_and_secondaries(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for (path, other) in [
        (broker.paths()[0], broker.paths()[1]),
        (broker.paths()[1], broker.paths()[0]),
    ] {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let name = format!("{tag}.reg");
        let primary = connect(path, &name).await;
        assert!(primary.is_connected());
        assert_eq!(primary.name(), name);

        assert_eq!(connect_err(path, ".dot").await, ErrorKind::Data);
        assert_eq!(connect_err(path, "").await, ErrorKind::Data);
        // Names are unique across transports.
        assert_eq!(connect_err(path, &name).await, ErrorKind::Busy);
        assert_eq!(connect_err(other, &name).await, ErrorKind::Busy);
        assert_eq!(
            connect_err(path, &format!("{tag}.nobody%%x")).await,
            ErrorKind::NotRegistered
        );

        let (secondary0, mut events0) = {
            let client = primary.register_secondary().await.unwrap();
            let events = client.take_event_channel().unwrap();
            (client, events)
        };
        let secondary1 = primary.register_secondary().await.unwrap();
        assert_eq!(secondary0.name(), format!("{name}%%0"));
        assert_eq!(secondary1.name(), format!("{name}%%1"));
        assert_eq!(
            connect_err(path, &format!("{name}%%1")).await,
            ErrorKind::Busy
        );
        assert_eq!(
            secondary0.register_secondary().await.unwrap_err().kind(),
            ErrorKind::NotSupported
        );
        // A secondary is addressed by its full name; its frames carry it as the sender.
        acked(secondary1.send(secondary0.name(), b"sib", QoS::Processed)).await;
        let frame = next_frame(&mut events0).await;
        assert_eq!(frame.sender(), secondary1.name());
        assert_eq!(frame.primary_sender(), name);
        assert_eq!(frame.payload(), b"sib");

        // The broker drops the secondaries with their primary (§8.1).
        primary.disconnect().await;
        assert!(events0.recv().await.is_none());
        assert!(!secondary0.is_connected());
        // And the name is free again at once.
        connect(other, &name).await.disconnect().await;
    }
}

async fn one_to_one_messages_and_acks(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (a, mut a_events) = peer(path, &format!("{tag}.a")).await;
        let (b, mut b_events) = peer(path, &format!("{tag}.b")).await;

        acked(a.send(b.name(), b"hi", QoS::Processed)).await;
        let frame = next_frame(&mut b_events).await;
        assert_eq!(frame.kind(), FrameKind::Message);
        assert_eq!(frame.sender(), a.name());
        assert_eq!(frame.topic(), None);
        assert_eq!(frame.payload(), b"hi");
        assert!(!frame.is_realtime());

        // A missing target is 0x71 in the ACK, not 0x77.
        let err = a
            .send(&format!("{tag}.missing"), b"x", QoS::Processed)
            .await
            .unwrap()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotRegistered);
        // With QoS No nothing comes back, and the connection stays up.
        acked(a.send(&format!("{tag}.missing"), b"x", QoS::No)).await;

        // The realtime bit reaches the receiver in byte 5 of the header, with or without an ACK.
        for (qos, realtime) in [
            (QoS::No, false),
            (QoS::Processed, false),
            (QoS::Realtime, true),
            (QoS::RealtimeProcessed, true),
        ] {
            acked(a.send(b.name(), b"rt", qos)).await;
            let frame = next_frame(&mut b_events).await;
            assert_eq!(frame.payload(), b"rt");
            assert_eq!(frame.is_realtime(), realtime, "{qos:?}");
        }

        // The zero-copy form is one message: header then payload.
        acked(a.zc_send(b.name(), b"\x01\x02", b"zc", QoS::Processed)).await;
        assert_eq!(next_frame(&mut b_events).await.payload(), b"\x01\x02zc");

        // A message to itself is routed before the broker queues the ACK (§4.2), so once the ACK
        // has resolved the frame is already in the channel.
        acked(a.send(a.name(), b"me", QoS::Processed)).await;
        let frame = a_events.try_recv().expect("own message before its ACK");
        assert_eq!((frame.sender(), frame.payload()), (a.name(), &b"me"[..]));

        // Many frames in flight at once: every ACK resolves, every frame arrives, in order.
        let mut confirms = Vec::new();
        for n in 0..500u32 {
            confirms.push(
                a.send(b.name(), &n.to_le_bytes(), QoS::Processed)
                    .await
                    .unwrap(),
            );
        }
        for confirm in confirms {
            confirm.await.unwrap();
        }
        for n in 0..500u32 {
            assert_eq!(next_frame(&mut b_events).await.payload(), n.to_le_bytes());
        }
        a.ping().await.unwrap();
        assert!(a.is_connected() && b.is_connected());
    }
}

async fn broadcast_masks(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (a, mut a_events) = peer(path, &format!("{tag}.a")).await;
        let (b, mut b_events) = peer(path, &format!("{tag}.b")).await;
        let b0 = b.register_secondary().await.unwrap();
        let mut b0_events = b0.take_event_channel().unwrap();

        // (mask, which of a, b, b%%0 receive it); `a` is also the sender.
        let cases = [
            (format!("{tag}.*"), [true, true, true]),
            (format!("{tag}.?"), [true, true, true]),
            ("?.b".to_owned(), [false, true, false]),
            (format!("{tag}.b"), [false, true, false]),
            (format!("{tag}.*.x"), [true, true, true]),
            (tag.to_owned(), [false, false, false]),
            (format!("{tag}.b.*"), [false, false, false]),
            ("*".to_owned(), [true, true, true]),
        ];
        for (mask, expected) in cases {
            // Broadcasts are ACKed OK even when nobody matches.
            acked(a.send_broadcast(&mask, mask.as_bytes(), QoS::Processed)).await;
            fence(&a, &[&a, &b, &b0]).await;
            let got = [
                until_fence(&mut a_events).await,
                until_fence(&mut b_events).await,
                until_fence(&mut b0_events).await,
            ];
            for (frames, expected) in got.iter().zip(expected) {
                let want: Vec<String> = if expected { vec![mask.clone()] } else { vec![] };
                assert_eq!(payloads(frames), want, "mask {mask}");
                for frame in frames {
                    assert_eq!(frame.kind(), FrameKind::Broadcast);
                    assert_eq!(frame.sender(), a.name());
                }
            }
        }
    }
}

async fn topics_with_wildcards(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (publisher, _events) = peer(path, &format!("{tag}.pub")).await;
        // (patterns, topics received), from the table of §8.2.
        let cases: [(&[&str], &[&str]); 8] = [
            (&["x/#"], &["x/b", "x/b/c", "x/b/c/d", "x/"]),
            (&["x/+"], &["x/b", "x/"]),
            (&["x/+/c"], &["x/b/c"]),
            (&["+"], &["x", ""]),
            (
                &["#"],
                &["x", "x/b", "x/b/c", "x/b/c/d", "", "/", "x/", "y/b/c"],
            ),
            (&["+/#"], &["x/b", "x/b/c", "x/b/c/d", "/", "x/", "y/b/c"]),
            (&["x"], &["x"]),
            // One copy per client, however many of its subscriptions match.
            (
                &["x/#", "x/+", "#"],
                &["x", "x/b", "x/b/c", "x/b/c/d", "", "/", "x/", "y/b/c"],
            ),
        ];
        let mut subscribers = Vec::new();
        for (n, (patterns, _)) in cases.iter().enumerate() {
            let (client, events) = peer(path, &format!("{tag}.sub{n}")).await;
            acked(client.subscribe_bulk(patterns, QoS::Processed)).await;
            subscribers.push((client, events));
        }
        let topics = ["x", "x/b", "x/b/c", "x/b/c/d", "", "/", "x/", "y/b/c"];
        for topic in topics {
            acked(publisher.publish(topic, topic.as_bytes(), QoS::Processed)).await;
        }
        let clients: Vec<&Client> = subscribers.iter().map(|(client, _)| client).collect();
        fence(&publisher, &clients).await;
        for ((patterns, expected), (_, events)) in cases.iter().zip(&mut subscribers) {
            let frames = until_fence(events).await;
            let topics: Vec<&str> = frames.iter().map(|f| f.topic().unwrap()).collect();
            assert_eq!(&topics, expected, "patterns {patterns:?}");
            for frame in &frames {
                assert_eq!(frame.kind(), FrameKind::Publish);
                assert_eq!(frame.sender(), publisher.name());
                assert_eq!(frame.payload(), frame.topic().unwrap().as_bytes());
                assert!(!frame.is_realtime());
            }
        }

        // Realtime publications carry the flag; unsubscribe stops delivery.
        let (sub, events) = &mut subscribers[6];
        acked(publisher.publish("x", b"x", QoS::RealtimeProcessed)).await;
        assert!(next_frame(events).await.is_realtime());
        acked(sub.unsubscribe("x", QoS::Processed)).await;
        acked(publisher.publish("x", b"x", QoS::Processed)).await;
        fence(&publisher, &[sub]).await;
        assert!(until_fence(events).await.is_empty());
    }
}

async fn exclude_and_unexclude(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (publisher, _events) = peer(path, &format!("{tag}.pub")).await;
        let (sub, mut events) = peer(path, &format!("{tag}.sub")).await;
        acked(sub.exclude_bulk(&["e/private/#", "e/+/hidden"], QoS::Processed)).await;
        acked(sub.subscribe("e/#", QoS::Processed)).await;
        let topics = ["e/public", "e/private/x", "e/a/hidden", "e/a/shown"];
        let publish_all = || async {
            for topic in topics {
                acked(publisher.publish(topic, b"", QoS::Processed)).await;
            }
            fence(&publisher, &[&sub]).await;
        };
        let received = |frames: Vec<Frame>| -> Vec<String> {
            frames
                .iter()
                .map(|f| f.topic().unwrap().to_owned())
                .collect()
        };

        publish_all().await;
        assert_eq!(
            received(until_fence(&mut events).await),
            ["e/public", "e/a/shown"]
        );
        acked(sub.unexclude("e/private/#", QoS::Processed)).await;
        publish_all().await;
        assert_eq!(
            received(until_fence(&mut events).await),
            ["e/public", "e/private/x", "e/a/shown"]
        );
        acked(sub.unexclude_bulk(&["e/+/hidden"], QoS::Processed)).await;
        publish_all().await;
        assert_eq!(received(until_fence(&mut events).await), topics);
    }
}

async fn publish_for_a_primary_name(kind: BrokerKind) {
    let broker = Broker::start(&kind);
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (publisher, _events) = peer(path, &format!("{tag}.pub")).await;
        let (r, mut r_events) = peer(path, &format!("{tag}.r")).await;
        let r0 = r.register_secondary().await.unwrap();
        let mut r0_events = r0.take_event_channel().unwrap();
        let (other, mut other_events) = peer(path, &format!("{tag}.o")).await;
        for client in [&r, &r0, &other] {
            acked(client.subscribe("pf/#", QoS::Processed)).await;
        }

        acked(publisher.publish_for("pf/1", r.name(), b"for r", QoS::Processed)).await;
        // Naming a secondary delivers nothing: the receiver is compared with primary names.
        acked(publisher.publish_for("pf/2", r0.name(), b"for r0", QoS::Processed)).await;
        fence(&publisher, &[&r, &r0, &other]).await;
        for events in [&mut r_events, &mut r0_events] {
            let frames = until_fence(events).await;
            assert_eq!(payloads(&frames), ["for r"]);
            assert_eq!(frames[0].kind(), FrameKind::Publish);
            assert_eq!(frames[0].topic(), Some("pf/1"));
            assert_eq!(frames[0].sender(), publisher.name());
        }
        assert!(until_fence(&mut other_events).await.is_empty());
    }
}

async fn killing_the_broker_disconnects_the_clients(kind: BrokerKind) {
    let mut broker = Broker::start(&kind);
    let mut clients = Vec::new();
    for path in broker.paths() {
        let tag = if path.starts_with('/') { "u" } else { "t" };
        let (client, events) = peer(path, &format!("{tag}.victim")).await;
        // Round trip first, so both clients are surely registered and working.
        acked(client.send(client.name(), b"", QoS::Processed)).await;
        clients.push((client, events));
    }
    // A frozen broker answers nothing: the ACKs below stay pending until it dies.
    broker.pause();
    let mut confirms = Vec::new();
    for (client, _) in &clients {
        let confirm = client
            .send(client.name(), b"", QoS::Processed)
            .await
            .unwrap();
        assert!(confirm.is_pending());
        confirms.push(confirm);
    }
    broker.kill();
    for ((client, mut events), confirm) in clients.into_iter().zip(confirms) {
        assert_eq!(confirm.await.unwrap_err().kind(), ErrorKind::Eof);
        assert!(!client.is_connected());
        // The frame of the first round trip, then the end.
        assert_eq!(next_frame(&mut events).await.sender(), client.name());
        assert!(events.recv().await.is_none());
        assert_eq!(
            client
                .send(client.name(), b"", QoS::No)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Eof
        );
    }
}

/// Runs each scenario against both brokers: ours (`elbusd`) and the reference (`busrtd` 0.5.6).
macro_rules! against_both_brokers {
    ($($scenario:ident),* $(,)?) => {
        mod elbusd {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd"))).await;
                }
            )*
        }
        mod busrtd {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::BrokerKind::busrtd()).await;
                }
            )*
        }
    };
}

against_both_brokers!(
    registration_and_secondaries,
    one_to_one_messages_and_acks,
    broadcast_masks,
    topics_with_wildcards,
    exclude_and_unexclude,
    publish_for_a_primary_name,
    killing_the_broker_disconnects_the_clients,
);
