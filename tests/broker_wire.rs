//! The embedded broker over real UNIX and TCP sockets, driven byte by byte: the handshake,
//! every registration result, the worked examples of `protocol.md` §7, routing, ACK order,
//! protocol violations, slow consumers, secondaries and disconnect cleanup.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use elbus::broker::{Broker, OverflowPolicy, QueueLimits, ServerConfig};
use elbus_suite::raw::Raw;

fn socket_path() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "elbus-wire-{}-{}.sock",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

async fn broker_on(config: ServerConfig) -> (Broker, PathBuf) {
    let broker = Broker::new();
    let path = socket_path();
    broker.spawn_unix_server(&path, config).await.unwrap();
    (broker, path)
}

#[tokio::test]
async fn handshake_and_registration_results() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let _a = Raw::register(&path, "test").await;
    // §2: empty or `.`-prefixed names → 72; duplicate → 76; secondary without primary → 71.
    for (name, code) in [(".x", 0x72), ("", 0x72), ("test", 0x76), ("p%%1", 0x71)] {
        let mut raw = Raw::connect(&path).await;
        assert_eq!(raw.handshake(name).await, Some(code), "name {name:?}");
        raw.expect_eof().await;
    }
    // A name that is not UTF-8 gets no answer at all.
    let mut raw = Raw::connect(&path).await;
    assert_eq!(raw.handshake_bytes(b"\xff\xfe").await, None);
    // A wrong greeting echo gets 75 and the connection closes.
    let mut raw = Raw::connect(&path).await;
    assert_eq!(raw.read_exact::<3>().await, [0xEB, 0x01, 0x00]);
    raw.write(&[0xEB, 0x02, 0x00]).await;
    assert_eq!(raw.read_exact::<1>().await, [0x75]);
    raw.expect_eof().await;
}

#[tokio::test]
async fn spec_message_example_and_ack_codes() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut a = Raw::register(&path, "a").await;
    let mut b = Raw::register(&path, "b").await;
    // §7: a->B 01 00 00 00 | 52 | 04 00 00 00 | 62 00 68 69
    a.write(&[1, 0, 0, 0, 0x52, 4, 0, 0, 0, 0x62, 0, 0x68, 0x69])
        .await;
    let (header, body) = b.frame().await;
    assert_eq!(header, [0x12, 4, 0, 0, 0, 0]);
    assert_eq!(body, [0x61, 0, 0x68, 0x69]);
    assert_eq!(a.ack().await, [0xFE, 1, 0, 0, 0, 0x01]);
    // RealtimeProcessed: flags D2, byte 5 of the delivered frame is 01.
    a.send(2, 0xD2, b"b\0hi").await;
    assert_eq!(b.frame().await.0, [0x12, 4, 0, 0, 0, 1]);
    assert_eq!(a.ack().await, [0xFE, 2, 0, 0, 0, 0x01]);
    // A missing target with QoS 1: ACK 71.
    a.send(3, 0x52, b"nobody\0x").await;
    assert_eq!(a.ack().await, [0xFE, 3, 0, 0, 0, 0x71]);
}

#[tokio::test]
async fn spec_publish_and_bulk_subscribe_examples() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut a = Raw::register(&path, "a").await;
    let mut s = Raw::register(&path, "s").await;
    // §7: subscribe in bulk to a/# and b, QoS 1, answered by FE 03 00 00 00 01.
    s.write(&[3, 0, 0, 0, 0x42, 5, 0, 0, 0, 0x61, 0x2F, 0x23, 0, 0x62])
        .await;
    assert_eq!(s.ack().await, [0xFE, 3, 0, 0, 0, 0x01]);
    s.send(4, 0x42, b"t/x").await;
    assert_eq!(s.ack().await, [0xFE, 4, 0, 0, 0, 0x01]);
    // §7: a->B 02 00 00 00 | 01 | 05 00 00 00 | 74 2F 78 00 70
    a.write(&[2, 0, 0, 0, 0x01, 5, 0, 0, 0, 0x74, 0x2F, 0x78, 0, 0x70])
        .await;
    let (header, body) = s.frame().await;
    assert_eq!(header, [0x01, 7, 0, 0, 0, 0]);
    assert_eq!(body, [0x61, 0, 0x74, 0x2F, 0x78, 0, 0x70]);
    // a/# matches a/x/y but not a; one copy even though `#`-style patterns overlap.
    s.send(5, 0x42, b"a/+/y").await;
    s.ack().await;
    a.send(6, 0x41, b"a\0no").await;
    a.send(7, 0x41, b"a/x/y\0yes").await;
    assert_eq!(a.ack().await[1], 6);
    assert_eq!(a.ack().await[1], 7);
    let (_, body) = s.frame().await;
    assert_eq!(body, b"a\0a/x/y\0yes");
}

#[tokio::test]
async fn sender_receives_its_own_frame_before_the_ack() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut a = Raw::register(&path, "grp.a").await;
    a.send(9, 0x52, b"grp.a\0self").await;
    assert_eq!(a.frame().await.1, b"grp.a\0self");
    assert_eq!(a.ack().await, [0xFE, 9, 0, 0, 0, 0x01]);
    a.send(10, 0x53, b"grp.*\0all").await;
    let (header, body) = a.frame().await;
    assert_eq!(header[0], 0x13);
    assert_eq!(body, b"grp.a\0all");
    assert_eq!(a.ack().await, [0xFE, 10, 0, 0, 0, 0x01]);
}

/// A `.broker` call answered at once: its ACK comes first, then the reply (the session lets the
/// reply join the ACK's write; the order on the wire must not change).
#[tokio::test]
async fn broker_api_reply_follows_its_ack() {
    let (broker, path) = broker_on(ServerConfig::new()).await;
    let _api = elbus::broker_api::BrokerApi::start(&broker).unwrap();
    let mut a = Raw::register(&path, "grp.caller").await;
    for call_id in 1u32..=3 {
        let mut body = b".broker\0".to_vec();
        body.push(0x01);
        body.extend_from_slice(&call_id.to_le_bytes());
        body.extend_from_slice(b"benchmark.test\0params");
        a.send(call_id + 100, 0x52, &body).await;
        let op = (call_id + 100).to_le_bytes();
        assert_eq!(a.ack().await, [0xFE, op[0], op[1], op[2], op[3], 0x01]);
        let (header, reply) = a.frame().await;
        assert_eq!(header[0] & 0x3F, 0x12, "a one-to-one message");
        let mut expected = b".broker\0".to_vec();
        expected.push(0x11);
        expected.extend_from_slice(&call_id.to_le_bytes());
        expected.extend_from_slice(b"params");
        assert_eq!(reply, expected);
    }
}

#[tokio::test]
async fn pings_and_ignored_op_zero_frames() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut a = Raw::register(&path, "a").await;
    // A ping's length is garbage to ignore: no body is read (§3.1).
    a.write(&[0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]).await;
    // Op 0 with QoS bits and a NUL in the body: ignored, no ACK, no disconnect.
    a.send(1, 0x40, b"a\0b").await;
    a.send(2, 0x52, b"a\0after").await;
    assert_eq!(a.frame().await.1, b"a\0after");
    assert_eq!(a.ack().await, [0xFE, 2, 0, 0, 0, 0x01]);
}

#[tokio::test]
async fn protocol_violations_disconnect_only_the_offender() {
    let (broker, path) = broker_on(ServerConfig::new().max_frame_size(1024)).await;
    let mut good = Raw::register(&path, "good").await;
    let cases: [(&str, Vec<u8>); 5] = [
        ("unknown op", vec![1, 0, 0, 0, 0x47, 0, 0, 0, 0]),
        (
            "message without NUL",
            [&[1, 0, 0, 0, 0x52, 3, 0, 0, 0][..], b"abc"].concat(),
        ),
        (
            "invalid UTF-8 target",
            [&[1, 0, 0, 0, 0x52, 3, 0, 0, 0][..], b"\xff\0x"].concat(),
        ),
        (
            "over the frame limit",
            vec![1, 0, 0, 0, 0x12, 0, 0, 0, 0x10],
        ),
        (
            "op 0 with QoS and no NUL",
            [&[1, 0, 0, 0, 0x40, 2, 0, 0, 0][..], b"ab"].concat(),
        ),
    ];
    for (what, bytes) in cases {
        let mut bad = Raw::register(&path, "bad").await;
        bad.write(&bytes).await;
        bad.expect_eof().await;
        // The name is free again at once, and the good client is untouched.
        good.send(1, 0x52, b"good\0still").await;
        assert_eq!(good.frame().await.1, b"good\0still", "after {what}");
        good.ack().await;
    }
    assert!(broker.stats().counters.forced_disconnects >= 5);
}

#[tokio::test]
async fn broadcast_masks_and_secondaries() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut sender = Raw::register(&path, "tx").await;
    let mut a = Raw::register(&path, "p2.a").await;
    let mut b = Raw::register(&path, "p2.b").await;
    let mut bx = Raw::register(&path, "p2.b%%x").await;
    sender.send(1, 0x53, b"?.b\0one").await;
    assert_eq!(sender.ack().await[5], 0x01);
    sender.send(2, 0x53, b"p2.*\0all").await;
    assert_eq!(sender.ack().await[5], 0x01);
    assert_eq!(b.frame().await.1, b"tx\0one");
    assert_eq!(b.frame().await.1, b"tx\0all");
    assert_eq!(a.frame().await.1, b"tx\0all");
    assert_eq!(bx.frame().await.1, b"tx\0all");
    // A message to a secondary by its full name.
    sender.send(3, 0x52, b"p2.b%%x\0direct").await;
    assert_eq!(bx.frame().await.1, b"tx\0direct");
    assert_eq!(sender.ack().await[5], 0x01);
    // Secondaries are dropped with their primary.
    drop(b);
    bx.expect_eof().await;
    sender.send(4, 0x52, b"p2.b%%x\0gone").await;
    assert_eq!(sender.ack().await[5], 0x71);
}

#[tokio::test]
async fn exclusions_and_publish_for() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let mut publisher = Raw::register(&path, "pub").await;
    let mut r = Raw::register(&path, "r").await;
    let mut rs = Raw::register(&path, "r%%1").await;
    let mut other = Raw::register(&path, "other").await;
    for client in [&mut r, &mut rs, &mut other] {
        client.send(1, 0x42, b"t/#").await;
        client.ack().await;
    }
    other.send(2, 0x44, b"t/secret").await;
    assert_eq!(other.ack().await[5], 0x01);
    // publish_for reaches the primary `r` and its secondary, nobody else.
    publisher.send(1, 0x46, b"t/x\0r\0for-r").await;
    assert_eq!(publisher.ack().await[5], 0x01);
    assert_eq!(r.frame().await.1, b"pub\0t/x\0for-r");
    assert_eq!(rs.frame().await.1, b"pub\0t/x\0for-r");
    // The excluded topic skips `other`; the next publication reaches it.
    publisher.send(2, 0x01, b"t/secret\0s").await;
    publisher.send(3, 0x01, b"t/open\0o").await;
    assert_eq!(other.frame().await.1, b"pub\0t/open\0o");
    other.send(3, 0x45, b"t/secret").await;
    other.ack().await;
    publisher.send(4, 0x01, b"t/secret\0now").await;
    assert_eq!(other.frame().await.1, b"pub\0t/secret\0now");
}

#[tokio::test]
async fn reconnecting_under_the_same_name_right_after_closing_is_accepted() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    for round in 0..200 {
        let mut raw = Raw::connect(&path).await;
        assert_eq!(raw.handshake("bench-1").await, Some(0x01), "round {round}");
        drop(raw);
    }
}

#[tokio::test]
async fn slow_consumer_is_disconnected_and_the_sender_carries_on() {
    let limits = QueueLimits {
        max_frames: 64,
        max_bytes: 1 << 20,
        overflow: OverflowPolicy::Disconnect,
    };
    let (broker, path) = broker_on(ServerConfig::new().queue(limits)).await;
    let mut sender = Raw::register(&path, "fast").await;
    let mut slow = Raw::register(&path, "slow").await;
    let payload = [b"slow\0".as_slice(), &[0xEE; 4096]].concat();
    let mut op_id = 0;
    let code = loop {
        op_id += 1;
        sender.send(op_id, 0x52, &payload).await;
        let ack = sender.ack().await;
        if ack[5] != 0x01 {
            break ack[5];
        }
        assert!(op_id < 100_000, "the slow client was never dropped");
    };
    assert_eq!(code, 0x77);
    slow.drain_until_eof().await;
    sender.send(op_id + 1, 0x52, b"slow\0x").await;
    assert_eq!(sender.ack().await[5], 0x71);
    assert!(broker.stats().counters.dropped_frames >= 1);
}

#[tokio::test]
async fn idle_clients_are_disconnected_and_pings_keep_them() {
    let config = ServerConfig::new().timeout(Duration::from_millis(200));
    let (_broker, path) = broker_on(config).await;
    let mut idle = Raw::register(&path, "idle").await;
    // Keepalive NOPs arrive every timeout/2 while the client says nothing; then EOF.
    assert_eq!(idle.read_exact::<6>().await, [0; 6]);
    idle.expect_eof().await;
}

#[tokio::test]
async fn force_register_evicts_the_previous_instance() {
    let broker = Broker::with_options(elbus::broker::BrokerOptions {
        force_register: true,
        ..Default::default()
    });
    let path = socket_path();
    broker
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .unwrap();
    let mut old = Raw::register(&path, "svc").await;
    let _new = Raw::register(&path, "svc").await;
    old.expect_eof().await;
    assert_eq!(broker.client_list().len(), 1);
}

#[tokio::test]
async fn tcp_listener_serves_the_same_protocol() {
    let broker = Broker::new();
    let addr = broker
        .spawn_tcp_server("127.0.0.1:0", ServerConfig::new())
        .await
        .unwrap();
    let mut a = Raw::connect_tcp(&addr.to_string()).await;
    assert_eq!(a.handshake("tcp.a").await, Some(0x01));
    a.send(1, 0x52, b"tcp.a\0over tcp").await;
    assert_eq!(a.frame().await.1, b"tcp.a\0over tcp");
    assert_eq!(a.ack().await[5], 0x01);
    let list = broker.client_list();
    assert_eq!(list[0].kind.as_str(), "tcp");
    assert!(list[0].source.as_deref().unwrap().starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn binding_a_live_socket_path_fails_and_a_stale_one_is_replaced() {
    let (_broker, path) = broker_on(ServerConfig::new()).await;
    let err = Broker::new()
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listening"), "{err}");
    let stale = socket_path();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    Broker::new()
        .spawn_unix_server(&stale, ServerConfig::new())
        .await
        .unwrap();
}
