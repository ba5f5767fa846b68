//! The embedded broker with in-process clients: one-to-one, broadcast and pub/sub, immediate
//! results, secondaries, registration announcements and statistics.

use elbus::broker::{Broker, BROKER_NAME, INFO_TOPIC};
use elbus::{AsyncClient, ErrorKind, EventChannel, Frame, FrameKind, QoS};
use elbus_suite::wait::within;

async fn next(events: &mut EventChannel) -> Frame {
    within("a frame", events.recv())
        .await
        .expect("event channel closed")
}

#[tokio::test]
async fn three_patterns_between_in_process_clients() {
    let broker = Broker::new();
    let a = broker.register_client("grp.a").unwrap();
    let b = broker.register_client("grp.b").unwrap();
    let mut events = b.take_event_channel().unwrap();
    assert!(
        b.take_event_channel().is_none(),
        "the channel is taken once"
    );

    a.send("grp.b", b"direct", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let frame = next(&mut events).await;
    assert_eq!(
        (frame.kind(), frame.sender(), frame.payload()),
        (FrameKind::Message, "grp.a", &b"direct"[..])
    );

    a.send_broadcast("grp.*", b"to all", QoS::RealtimeProcessed)
        .await
        .unwrap();
    let frame = next(&mut events).await;
    assert_eq!(frame.kind(), FrameKind::Broadcast);
    assert!(frame.is_realtime());

    b.subscribe("news/+", QoS::Processed).await.unwrap();
    a.publish("news/today", b"headline", QoS::No).await.unwrap();
    let frame = next(&mut events).await;
    assert_eq!(frame.topic(), Some("news/today"));
    assert_eq!(frame.payload(), b"headline");
}

#[tokio::test]
async fn a_missing_target_fails_at_once() {
    let broker = Broker::new();
    let a = broker.register_client("a").unwrap();
    let err = a.send("nobody", b"x", QoS::No).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotRegistered);
    // Broadcasts and publications succeed with no recipients.
    a.send_broadcast("none.*", b"x", QoS::Processed)
        .await
        .unwrap();
    a.publish("no/one", b"x", QoS::Processed).await.unwrap();
}

#[tokio::test]
async fn a_target_that_dropped_its_event_channel_fails_at_once() {
    let broker = Broker::new();
    let a = broker.register_client("a").unwrap();
    let b = broker.register_client("b").unwrap();
    b.subscribe("t/#", QoS::Processed).await.unwrap();
    let events = b.take_event_channel().unwrap();
    a.send("b", b"read", QoS::Processed).await.unwrap();
    drop(events);
    // Still registered, but nobody will ever read what reaches it: refused, not swallowed.
    let err = a.send("b", b"lost", QoS::Processed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotRegistered);
    assert!(broker.client_info("b").is_some());
    // A publication succeeds whoever reads it, as with no subscribers at all.
    a.publish("t/x", b"x", QoS::Processed).await.unwrap();
}

#[tokio::test]
async fn names_are_unique_and_dot_names_are_allowed_in_process() {
    let broker = Broker::new();
    let _svc = broker.register_client(".internal.svc").unwrap();
    let err = broker.register_client(".internal.svc").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert_eq!(
        broker.register_client("").unwrap_err().kind(),
        ErrorKind::Data
    );
    assert_eq!(
        broker.register_client("p%%1").unwrap_err().kind(),
        ErrorKind::NotRegistered
    );
    // A dropped client frees its name at once.
    drop(_svc);
    broker.register_client(".internal.svc").unwrap();
}

#[tokio::test]
async fn secondaries_share_the_primary_and_go_with_it() {
    let broker = Broker::new();
    let primary = broker.register_client("svc").unwrap();
    let secondary = primary.register_secondary().unwrap();
    assert_eq!(secondary.name(), "svc%%0");
    assert!(secondary.register_secondary().is_err());
    let mut events = secondary.take_event_channel().unwrap();
    let sender = broker.register_client("tx").unwrap();
    sender.send("svc%%0", b"hi", QoS::No).await.unwrap();
    assert_eq!(next(&mut events).await.primary_sender(), "tx");
    assert_eq!(
        broker
            .client_list()
            .iter()
            .find(|c| c.name == "svc")
            .unwrap()
            .instances,
        2
    );
    primary.unregister();
    assert!(!secondary.is_connected());
    assert!(within("the event channel to end", events.recv())
        .await
        .is_none());
    assert_eq!(
        sender
            .send("svc%%0", b"x", QoS::No)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotRegistered
    );
}

#[tokio::test]
async fn every_client_is_subscribed_to_broker_warn() {
    let broker = Broker::new();
    let _a = broker.register_client("a").unwrap();
    assert_eq!(broker.subscriptions_of("a").unwrap(), [".broker/warn"]);
}

#[tokio::test]
async fn registrations_are_announced_once_the_broker_client_exists() {
    let broker = Broker::new();
    let _early = broker.register_client("early").unwrap();
    let core = broker.register_client(BROKER_NAME).unwrap();
    let watcher = broker.register_client("watcher").unwrap();
    let mut events = watcher.take_event_channel().unwrap();
    watcher.subscribe(INFO_TOPIC, QoS::No).await.unwrap();
    let late = broker.register_client("late").unwrap();
    let frame = next(&mut events).await;
    assert_eq!(frame.sender(), ".broker");
    assert_eq!(frame.topic(), Some(INFO_TOPIC));
    // {"s":"reg","d":"late","t":<u64 ns>}, keys in this order.
    let payload = frame.payload();
    assert_eq!(&payload[..16], b"\x83\xa1s\xa3reg\xa1d\xa4late\xa1t");
    assert_eq!(payload[16], 0xCF);
    assert_eq!(payload.len(), 25);
    // Secondaries are not announced; unregister is, and so is dropping the last handle.
    let _secondary = late.register_secondary().unwrap();
    late.unregister();
    let frame = next(&mut events).await;
    assert_eq!(&frame.payload()[..16], b"\x83\xa1s\xa5unreg\xa1d\xa4late");
    drop(late);
    let gone = broker.register_client("gone").unwrap();
    assert_eq!(
        &next(&mut events).await.payload()[..16],
        b"\x83\xa1s\xa3reg\xa1d\xa4gone\xa1t"
    );
    drop(gone);
    let frame = next(&mut events).await;
    assert_eq!(&frame.payload()[..16], b"\x83\xa1s\xa5unreg\xa1d\xa4gone");
    drop(core);
}

#[tokio::test]
async fn statistics_count_frames_and_bytes() {
    let broker = Broker::new();
    let a = broker.register_client("a").unwrap();
    let b = broker.register_client("b").unwrap();
    let mut events = b.take_event_channel().unwrap();
    a.send("b", b"0123456789", QoS::No).await.unwrap();
    next(&mut events).await;
    let stats = broker.stats();
    assert_eq!(stats.counters.r_frames, 1);
    assert_eq!(stats.counters.w_frames, 1);
    assert!(stats.counters.w_bytes >= 10);
    let list = broker.client_list();
    let a_info = list.iter().find(|c| c.name == "a").unwrap();
    assert_eq!(a_info.counters.r_frames, 1);
    assert_eq!(a_info.kind.as_str(), "internal");
    assert_eq!(a_info.port, None);
}

#[tokio::test]
async fn in_process_clients_are_never_disconnected_for_being_slow() {
    use elbus::broker::{BrokerOptions, OverflowPolicy, QueueLimits};
    let broker = Broker::with_options(BrokerOptions {
        internal_queue: QueueLimits {
            max_frames: 2,
            max_bytes: 1 << 20,
            overflow: OverflowPolicy::Disconnect,
        },
        internal_channel_size: 1,
        ..Default::default()
    });
    let slow = broker.register_client("slow").unwrap();
    let sender = broker.register_client("sender").unwrap();
    // `slow` never reads: its channel and queue fill, then frames are dropped, not the client.
    let mut dropped = 0;
    for _ in 0..64 {
        match sender.send("slow", b"x", QoS::Processed).await {
            Ok(_) => {}
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::NotDelivered);
                dropped += 1;
            }
        }
    }
    assert!(dropped > 0, "the queue limit was never reached");
    assert!(slow.is_connected());
    assert!(broker.client_list().iter().any(|c| c.name == "slow"));
}
