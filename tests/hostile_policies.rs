//! Overflow policies of the embedded broker, proven frame by frame: drop-newest delivers exactly
//! the frames it ACKed OK, drop-oldest delivers an increasing run ending with the newest, the
//! default disconnects; every drop and forced disconnect shows in the client's and the broker's
//! counters. In-process senders never block on a target that never consumes its events. The
//! frame-size limit holds in the library and in `elbusd`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use elbus::broker::{Broker, BrokerOptions, OverflowPolicy, QueueLimits, ServerConfig};
use elbus::{AsyncClient, ErrorKind, QoS};
use elbus_suite::broker::BrokerKind;
use elbus_suite::raw::{Raw, MESSAGE_ACKED, WAIT};
use elbus_suite::tempdir::TempDir;
use tokio::net::UnixStream;

/// Frames of the floods: large enough that the socket buffers fill after a few dozen.
const PAYLOAD: usize = 16 * 1024;
const FLOOD: u32 = 400;

/// A broker on a fresh UNIX socket whose clients have `limits`. The timeout is long and the idle
/// limit off, so a target that stops reading is handled by the overflow policy alone (not by a
/// write timeout).
async fn broker_with(limits: QueueLimits) -> (Broker, PathBuf, TempDir) {
    let dir = TempDir::new("policies");
    let path = dir.join("b.sock");
    let broker = Broker::new();
    let config = ServerConfig::new()
        .timeout(Duration::from_secs(120))
        .idle_timeout(None)
        .queue(limits);
    broker.spawn_unix_server(&path, config).await.unwrap();
    (broker, path, dir)
}

fn limits(overflow: OverflowPolicy) -> QueueLimits {
    QueueLimits {
        max_frames: 8,
        max_bytes: 1 << 20,
        overflow,
    }
}

/// A message body for `target` carrying sequence number `seq` and padding.
fn numbered(target: &str, seq: u32) -> Vec<u8> {
    let mut body = format!("{target}\0").into_bytes();
    body.extend_from_slice(&seq.to_le_bytes());
    body.resize(body.len() + PAYLOAD, 0xAB);
    body
}

/// The sequence number in a delivered body `sender NUL seq padding`.
fn seq_of(body: &[u8]) -> u32 {
    let start = body.iter().position(|&b| b == 0).expect("NUL") + 1;
    u32::from_le_bytes(body[start..start + 4].try_into().unwrap())
}

/// Floods `target` with `FLOOD` numbered messages, ACKed one by one; returns each one's code.
async fn flood(sender: &mut Raw<UnixStream>, target: &str) -> Vec<u8> {
    let mut codes = Vec::new();
    for seq in 1..=FLOOD {
        sender
            .send(seq, MESSAGE_ACKED, &numbered(target, seq))
            .await;
        let ack = sender.ack().await;
        assert_eq!(ack[1..5], seq.to_le_bytes(), "ACKs come in order");
        codes.push(ack[5]);
    }
    codes
}

/// Reads delivered messages until the one numbered `last`; returns their numbers in order.
async fn read_until(receiver: &mut Raw<UnixStream>, last: u32) -> Vec<u32> {
    let mut seqs = Vec::new();
    loop {
        let (header, body) = receiver.frame().await;
        assert_eq!(header[0], 0x12, "a message");
        let seq = seq_of(&body);
        seqs.push(seq);
        if seq == last {
            return seqs;
        }
    }
}

fn dropped_of(broker: &Broker, name: &str) -> u64 {
    broker
        .client_list()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is not registered"))
        .counters
        .dropped_frames
}

#[tokio::test]
async fn drop_newest_delivers_exactly_the_frames_acked_ok() {
    let (broker, path, _dir) = broker_with(limits(OverflowPolicy::DropNewest)).await;
    let mut receiver = Raw::register(&path, "receiver").await;
    let mut sender = Raw::register(&path, "sender").await;
    // The receiver reads nothing during the flood.
    let codes = flood(&mut sender, "receiver").await;
    let accepted: Vec<u32> = (1..=FLOOD)
        .filter(|&s| codes[s as usize - 1] == 0x01)
        .collect();
    let refused = codes.iter().filter(|&&c| c == 0x77).count() as u64;
    assert_eq!(
        accepted.len() as u64 + refused,
        u64::from(FLOOD),
        "{codes:?}"
    );
    assert!(refused > 0, "the queue never overflowed");
    // Now it reads: a final marker is retried until it fits (each refusal is a drop too).
    let reading = tokio::spawn(async move {
        let seqs = read_until(&mut receiver, u32::MAX).await;
        (receiver, seqs)
    });
    let mut marker_refusals = 0u64;
    loop {
        sender
            .send(0, MESSAGE_ACKED, &numbered("receiver", u32::MAX))
            .await;
        match sender.ack().await[5] {
            0x01 => break,
            0x77 => marker_refusals += 1,
            other => panic!("marker answered {other:#04x}"),
        }
        assert!(marker_refusals < 1_000_000, "the queue never drained");
    }
    let (_receiver, mut seqs) = tokio::time::timeout(WAIT, reading)
        .await
        .expect("the receiver never got the marker")
        .unwrap();
    assert_eq!(seqs.pop(), Some(u32::MAX));
    // Exactly the frames ACKed 01, in order: nothing refused was delivered, nothing accepted lost.
    assert_eq!(seqs, accepted);
    assert_eq!(dropped_of(&broker, "receiver"), refused + marker_refusals);
    assert_eq!(
        broker.stats().counters.dropped_frames,
        refused + marker_refusals
    );
    assert_eq!(broker.stats().counters.forced_disconnects, 0);
}

#[tokio::test]
async fn drop_oldest_keeps_the_newest_frames() {
    let (broker, path, _dir) = broker_with(limits(OverflowPolicy::DropOldest)).await;
    let mut receiver = Raw::register(&path, "receiver").await;
    let mut sender = Raw::register(&path, "sender").await;
    let codes = flood(&mut sender, "receiver").await;
    // Drop-oldest never refuses the new frame.
    assert!(codes.iter().all(|&c| c == 0x01), "{codes:?}");
    let seqs = read_until(&mut receiver, FLOOD).await;
    // An increasing run that ends with the newest frame; the gaps are the dropped oldest ones.
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seqs.last(), Some(&FLOOD));
    let missing = u64::from(FLOOD) - seqs.len() as u64;
    assert!(missing > 0, "the queue never overflowed");
    assert_eq!(dropped_of(&broker, "receiver"), missing);
    // The last `max_frames` frames survive the overflow whole.
    assert!(seqs.ends_with(&(FLOOD - 7..=FLOOD).collect::<Vec<_>>()));
    // Still connected: a direct message after the flood arrives.
    sender
        .send(1, MESSAGE_ACKED, &numbered("receiver", FLOOD + 1))
        .await;
    assert_eq!(sender.ack().await[5], 0x01);
    assert_eq!(read_until(&mut receiver, FLOOD + 1).await, [FLOOD + 1]);
}

#[tokio::test]
async fn disconnect_policy_counts_the_forced_disconnect() {
    let (broker, path, _dir) = broker_with(limits(OverflowPolicy::Disconnect)).await;
    let mut receiver = Raw::register(&path, "receiver").await;
    let mut sender = Raw::register(&path, "sender").await;
    let mut seq = 0;
    let code = loop {
        seq += 1;
        sender
            .send(seq, MESSAGE_ACKED, &numbered("receiver", seq))
            .await;
        let code = sender.ack().await[5];
        if code != 0x01 {
            break code;
        }
        assert!(seq < 100_000, "never disconnected");
    };
    assert_eq!(code, 0x77, "the sender of the overflowing frame gets 77");
    receiver.drain_until_eof().await;
    let counters = broker.stats().counters;
    assert_eq!(counters.forced_disconnects, 1);
    assert_eq!(counters.dropped_frames, 1);
    sender.send(seq + 1, MESSAGE_ACKED, b"receiver\0x").await;
    assert_eq!(sender.ack().await[5], 0x71, "gone from the registry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_senders_never_block_on_a_target_that_never_consumes() {
    assert_ne!(
        BrokerOptions::default().internal_queue.overflow,
        OverflowPolicy::Disconnect,
        "in-process targets use a drop policy by default"
    );
    let broker = Broker::with_options(BrokerOptions {
        internal_queue: QueueLimits {
            max_frames: 64,
            max_bytes: 1 << 20,
            overflow: OverflowPolicy::DropNewest,
        },
        internal_channel_size: 16,
        ..BrokerOptions::default()
    });
    let dir = TempDir::new("internal");
    let path = dir.join("b.sock");
    broker
        .spawn_unix_server(&path, ServerConfig::new())
        .await
        .unwrap();
    let sink = broker.register_client("sink").unwrap();
    sink.subscribe("flood/#", QoS::Processed).await.unwrap();
    // Taken and held for the whole test, never read.
    let _unread = sink.take_event_channel().unwrap();

    let in_process = {
        let source = broker.register_client("source").unwrap();
        tokio::spawn(async move {
            let mut not_delivered = 0u32;
            for i in 0..20_000u32 {
                match source.send("sink", &i.to_le_bytes(), QoS::Processed).await {
                    Ok(confirm) => confirm.await.unwrap(),
                    Err(err) if err.kind() == ErrorKind::NotDelivered => not_delivered += 1,
                    Err(err) => panic!("in-process send: {err}"),
                }
                source
                    .publish("flood/x", &i.to_le_bytes(), QoS::No)
                    .await
                    .unwrap();
            }
            not_delivered
        })
    };
    let over_socket = {
        let path = path.clone();
        tokio::spawn(async move {
            let mut raw = Raw::register(&path, "socket-source").await;
            let mut codes = BTreeSet::new();
            for op_id in 1..=5_000u32 {
                raw.send(op_id, MESSAGE_ACKED, b"sink\0x").await;
                codes.insert(raw.ack().await[5]);
            }
            codes
        })
    };
    let not_delivered = tokio::time::timeout(WAIT, in_process)
        .await
        .expect("an in-process sender blocked")
        .unwrap();
    let codes = tokio::time::timeout(WAIT, over_socket)
        .await
        .expect("a socket sender blocked")
        .unwrap();
    assert!(not_delivered > 0);
    assert!(codes.is_subset(&BTreeSet::from([0x01, 0x77])), "{codes:?}");
    assert!(dropped_of(&broker, "sink") > 0);
    // The sink is still registered, and everyone else's traffic flows.
    assert!(sink.is_connected());
    let a = broker.register_client("control.a").unwrap();
    let b = broker.register_client("control.b").unwrap();
    let mut events = b.take_event_channel().unwrap();
    a.send("control.b", b"still routing", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    let frame = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.payload(), b"still routing");
}

#[tokio::test]
async fn the_frame_size_limit_is_configurable_in_elbusd() {
    let broker = elbus_suite::broker::Broker::start_with_args(
        &BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")),
        &["--max-frame-size", "4096"],
    );
    let path = broker.unix_path().to_owned();
    // A body of exactly the limit is routed.
    let mut ok = Raw::register(&path, "fits").await;
    let mut body = b"fits\0".to_vec();
    body.resize(4096, 0x11);
    ok.send(1, MESSAGE_ACKED, &body).await;
    assert_eq!(ok.frame().await.1, body);
    assert_eq!(ok.ack().await[5], 0x01);
    // One byte more: disconnected at the header, with the reason logged.
    let mut over = Raw::register(&path, "over").await;
    body.push(0x11);
    over.write_lossy(&elbus_suite::raw::request(1, MESSAGE_ACKED, &body))
        .await;
    over.expect_eof().await;
    let started = std::time::Instant::now();
    while !broker
        .log()
        .contains("Payload size 4097 exceeds the limit of 4096 bytes")
    {
        assert!(started.elapsed() < WAIT, "no log line:\n{}", broker.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(broker.log().contains("max frame size: 4096"));
}
