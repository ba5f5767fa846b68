//! Queues and memory under hostile load, against the real `elbusd` binary: a maximal frame reaches
//! every healthy reader, queued frames are counted at their real cost, a broker-wide bound holds
//! however many clients stop reading, partial frames are bounded broker-wide, drop-oldest drops are
//! not counted as written, a consumer cut off for a full queue first reads what was accepted for
//! it, and `client.list` counts bytes as `busrtd` does.
//!
//! Every case runs a well-behaved [`Bystander`] through the attack. Memory is read from
//! `/proc/PID/status` (`VmHWM`, the broker's peak resident memory). The limits are scaled down
//! from the defaults so the attacks stay small; the bounds asserted are stated with each case.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use elbus::ipc::{Client, Config};
use elbus::{AsyncClient, QoS};
use elbus_suite::broker::{Broker, BrokerKind, Transport};
use elbus_suite::bystander::Bystander;
use elbus_suite::procstat;
use elbus_suite::raw::{request, Raw, MESSAGE_ACKED, SUBSCRIBE_ACKED, WAIT};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn elbusd(args: &[&str]) -> Broker {
    let mut all = vec!["-w", "4"];
    all.extend_from_slice(args);
    Broker::start_with_args(&BrokerKind::elbusd(env!("CARGO_BIN_EXE_elbusd")), &all)
}

/// The broker's peak resident memory in MiB.
fn peak_mib(broker: &Broker) -> u64 {
    procstat::memory(broker.pid()).hwm_kib / 1024
}

/// Calls a `.broker` method over a raw connection (RPC request `01 id method NUL`) and returns
/// the decoded result, skipping any other frame.
async fn broker_call<S: AsyncRead + AsyncWrite + Unpin>(
    raw: &mut Raw<S>,
    call_id: u32,
    method: &str,
) -> rmpv::Value {
    let mut body = b".broker\0\x01".to_vec();
    body.extend_from_slice(&call_id.to_le_bytes());
    body.extend_from_slice(method.as_bytes());
    body.push(0);
    raw.send(0, 0x12, &body).await;
    loop {
        let (header, frame) = raw.frame().await;
        if header[0] != 0x12 || !frame.starts_with(b".broker\0") {
            continue;
        }
        let reply = &frame[b".broker\0".len()..];
        if reply.len() > 5 && reply[0] == 0x11 && reply[1..5] == call_id.to_le_bytes() {
            return rmpv::decode::read_value(&mut &reply[5..]).expect("an msgpack result");
        }
    }
}

/// A map's field as an integer.
fn field(value: &rmpv::Value, key: &str) -> u64 {
    value
        .as_map()
        .and_then(|map| map.iter().find(|(k, _)| k.as_str() == Some(key)))
        .and_then(|(_, v)| v.as_u64())
        .unwrap_or_else(|| panic!("no integer {key:?} in {value}"))
}

/// The `client.list` entries by name.
async fn client_list<S: AsyncRead + AsyncWrite + Unpin>(
    raw: &mut Raw<S>,
    call_id: u32,
) -> HashMap<String, rmpv::Value> {
    let list = broker_call(raw, call_id, "client.list").await;
    let clients = list
        .as_map()
        .and_then(|map| map.iter().find(|(k, _)| k.as_str() == Some("clients")))
        .and_then(|(_, v)| v.as_array())
        .unwrap_or_else(|| panic!("no clients in {list}"));
    clients
        .iter()
        .map(|c| {
            let name = c
                .as_map()
                .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("name")))
                .and_then(|(_, v)| v.as_str())
                .expect("a name")
                .to_owned();
            (name, c.clone())
        })
        .collect()
}

/// Waits for a frame whose payload has `len` bytes, skipping others.
async fn recv_len(events: &mut elbus::EventChannel, len: usize, who: &str) -> elbus::Frame {
    tokio::time::timeout(WAIT, async {
        loop {
            let frame = events
                .recv()
                .await
                .unwrap_or_else(|| panic!("{who} was disconnected"));
            if frame.payload().len() == len {
                return frame;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{who} got no {len}-byte frame"))
}

async fn connect(broker: &Broker, name: &str) -> Client {
    let config = Config::new(&broker.path(Transport::Unix), name)
        .timeout(WAIT)
        .ping_interval(Some(Duration::from_millis(200)));
    Client::connect(&config).await.expect("connects")
}

/// Item: a frame the broker accepted (a body of exactly `--max-frame-size`, the default 64 MiB)
/// reaches every healthy reader as a broadcast to `*`, a publication on `.broker/warn` and a
/// direct message, and nobody is disconnected. Before the fix the delivered frame (header,
/// sender, body) did not fit an empty queue of `--queue-bytes` (also 64 MiB) and every reader,
/// the sender included, was disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maximal_frame_reaches_every_healthy_reader_at_the_defaults() {
    let broker = elbusd(&[]);
    let path = broker.path(Transport::Unix);
    let bystander = Bystander::start(&path, "bystander").await;
    let max = 64 << 20;
    let sender = connect(&broker, "big.sender").await;
    let mut sender_events = sender.take_event_channel().unwrap();
    let reader = connect(&broker, "big.reader").await;
    let mut reader_events = reader.take_event_channel().unwrap();
    reader
        .subscribe(".broker/warn", QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap();
    // Broadcast to `*`: the body is the mask, NUL and the payload.
    let payload = vec![0xB5; max - 2];
    sender
        .send_broadcast("*", &payload, QoS::Processed)
        .await
        .unwrap()
        .await
        .unwrap_or_else(|err| panic!("the broadcast is refused: {err}; log:\n{}", broker.log()));
    bystander.wait_rounds(1).await;
    recv_len(&mut reader_events, payload.len(), "the reader").await;
    recv_len(&mut sender_events, payload.len(), "the sender").await;
    // A publication on `.broker/warn`.
    let payload = vec![0xB6; max - ".broker/warn".len() - 1];
    sender
        .publish(".broker/warn", &payload, QoS::Processed)
        .await
        .unwrap()
        .await
        .expect("the publication is accepted");
    recv_len(&mut reader_events, payload.len(), "the reader").await;
    // A direct message.
    let payload = vec![0xB7; max - "big.reader".len() - 1];
    sender
        .send("big.reader", &payload, QoS::Processed)
        .await
        .unwrap()
        .await
        .expect("the message is delivered");
    recv_len(&mut reader_events, payload.len(), "the reader").await;
    bystander.wait_rounds(1).await;
    let mut control = Raw::register(broker.unix_path(), "control").await;
    let stats = broker_call(&mut control, 1, "stats").await;
    assert_eq!(field(&stats, "forced_disconnects"), 0, "{stats}");
    assert!(!broker.log().contains("queue is full"), "{}", broker.log());
    bystander.finish().await;
}

/// Item: a queued frame is counted at what it costs in memory, not at its wire length. One
/// client that never reads gets a flood of 13-byte frames under `--queue-bytes 16MiB` (and the
/// default frame limit of 1,048,576): the broker's peak may grow by at most 32 MiB. Before the
/// fix the queue held a million frames (~90 MiB of memory) against the 15 MiB counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_frames_are_counted_at_their_memory_cost() {
    let broker = elbusd(&[
        "-t",
        "30",
        "--queue-bytes",
        "16777216",
        "--overflow",
        "drop-newest",
    ]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&path.display().to_string(), "bystander").await;
    let _deaf = Raw::register(&path, "deaf").await;
    let mut flooder = Raw::register(&path, "f").await;
    let before = peak_mib(&broker);
    // One delivered frame: the 6-byte header, "f", NUL and 5 payload bytes: 13 bytes.
    let one = request(0, 0x12, b"deaf\x0012345");
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 4096).collect();
    let mut op_id = 0u32;
    loop {
        flooder.write(&burst).await;
        op_id += 1;
        flooder.send(op_id, MESSAGE_ACKED, b"deaf\x0012345").await;
        if flooder.ack().await[5] == 0x77 {
            break;
        }
        if op_id == 2 {
            bystander.wait_rounds(1).await;
        }
        assert!(op_id < 1000, "the queue never filled");
    }
    bystander.wait_rounds(1).await;
    let grown = peak_mib(&broker).saturating_sub(before);
    eprintln!("peak grew by {grown} MiB for a 16 MiB queue of 13-byte frames");
    assert!(grown <= 32, "peak grew by {grown} MiB for a 16 MiB queue");
    bystander.finish().await;
}

/// Item: a broker-wide bound on queued bytes (`--max-queued-bytes`). Sixteen callers send
/// `client.list` calls and never read the replies, each under `--queue-bytes 4MiB` (64 MiB in
/// all without a broker-wide bound); with `--max-queued-bytes 16MiB` the broker's peak may grow
/// by at most 40 MiB, and the callers that hit the bound are disconnected (their policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_that_never_read_stay_under_the_broker_wide_bound() {
    let broker = elbusd(&[
        "-t",
        "30",
        "--queue-bytes",
        "4194304",
        "--max-queued-bytes",
        "16777216",
    ]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&path.display().to_string(), "bystander").await;
    // Enough clients that one `client.list` reply is a few KB.
    let mut idle = Vec::new();
    for i in 0..40 {
        idle.push(Raw::register(&path, &format!("idle.with.a.rather.long.name.{i:03}")).await);
    }
    let before = peak_mib(&broker);
    let mut attackers = Vec::new();
    for i in 0..16 {
        let path = path.clone();
        attackers.push(tokio::spawn(async move {
            let mut caller = Raw::register(&path, &format!("caller.{i:02}")).await;
            let call = request(0, 0x12, b".broker\0\x01\x01\x00\x00\x00client.list\0");
            let burst: Vec<u8> = call
                .iter()
                .copied()
                .cycle()
                .take(call.len() * 256)
                .collect();
            // 768 calls: about 6 MiB of replies each, more than its queue holds. (The
            // bystander's `.broker` call waits behind them all, so they are kept few.)
            for _ in 0..3 {
                if caller.stream.write_all(&burst).await.is_err() {
                    break;
                }
            }
            caller
        }));
    }
    let mut callers = Vec::new();
    for attacker in attackers {
        callers.push(attacker.await.unwrap());
        bystander.wait_rounds(1).await;
    }
    // `.broker` serves its calls in order: once this answer is back, every call above was served.
    let mut control = Raw::register(&path, "control").await;
    let stats = broker_call(&mut control, 1, "stats").await;
    bystander.wait_rounds(1).await;
    let grown = peak_mib(&broker).saturating_sub(before);
    eprintln!("peak grew by {grown} MiB; {stats}");
    assert!(grown <= 40, "peak grew by {grown} MiB");
    // The `.broker` scheduler refuses calls past a caller's queue; what it ran fills the callers'
    // queues until they are cut off.
    assert!(
        field(&stats, "api_calls_refused") > 0 || field(&stats, "forced_disconnects") > 0,
        "{stats}"
    );
    bystander.finish().await;
}

/// Item: a flood into clients that never read stays under the broker-wide bound
/// (`--max-queued-bytes 16MiB`), though each of the 16 deaf clients may queue 4 MiB (64 MiB
/// together): once the bound is reached, the deaf clients (each with a backlog) are disconnected
/// under their overflow policy, and the peak grows by at most 40 MiB. Before the broker-wide
/// bound the queues took their 64 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_into_deaf_clients_stays_under_the_broker_wide_bound() {
    const DEAF: u64 = 16;
    let broker = elbusd(&["--queue-bytes", "4194304", "--max-queued-bytes", "16777216"]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&path.display().to_string(), "bystander").await;
    let mut deaf = Vec::new();
    for i in 0..DEAF {
        deaf.push(Raw::register(&path, &format!("deaf.{i:02}")).await);
    }
    let before = peak_mib(&broker);
    let mut flooder = Raw::register(&path, "flooder").await;
    // Direct messages, so that every deaf client's queue holds frames of its own (a broadcast's
    // one frame is shared by all the queues it is in): 512 KiB to each per burst.
    let mut burst = Vec::new();
    for i in 0..DEAF {
        let mut body = format!("deaf.{i:02}\0").into_bytes();
        body.extend_from_slice(&[0xD5; 32 * 1024]);
        for _ in 0..16 {
            burst.extend_from_slice(&request(0, 0x12, &body));
        }
    }
    let mut control = Raw::register(&path, "control").await;
    let mut call_id = 0;
    loop {
        // A burst, then a probe: a message to itself, ACKed once the burst before it is routed.
        flooder.write(&burst).await;
        flooder.send(1, MESSAGE_ACKED, b"flooder\0probe").await;
        // The ACK and the delivery, in either order.
        let kinds = [flooder.frame().await.0[0], flooder.frame().await.0[0]];
        assert!(
            kinds.contains(&0xFE) && kinds.contains(&0x12),
            "{kinds:02X?}"
        );
        call_id += 1;
        let stats = broker_call(&mut control, call_id, "stats").await;
        if field(&stats, "forced_disconnects") >= DEAF {
            break;
        }
        assert!(
            call_id < 1000,
            "the deaf clients were never cut off: {stats}"
        );
        if call_id == 2 {
            bystander.wait_rounds(1).await;
        }
    }
    bystander.wait_rounds(1).await;
    let grown = peak_mib(&broker).saturating_sub(before);
    eprintln!("peak grew by {grown} MiB after {call_id} bursts");
    assert!(grown <= 40, "peak grew by {grown} MiB");
    bystander.finish().await;
}

/// Item: frames being read are bounded broker-wide (`--max-reading-bytes`). Eight clients each
/// send 15 MiB of a 16 MiB frame and stall; with `--max-reading-bytes 32MiB` the broker's peak may
/// grow by at most 64 MiB (before the fix: 120 MiB), every attacker is cut off by the frame
/// timeout, and a complete maximal frame gets through afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_frames_stay_under_the_broker_wide_reading_bound() {
    let broker = elbusd(&[
        "-t",
        "2",
        "--max-frame-size",
        "16777216",
        "--max-reading-bytes",
        "33554432",
    ]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&path.display().to_string(), "bystander").await;
    let before = peak_mib(&broker);
    let mut attackers = Vec::new();
    for i in 0..8 {
        let path = path.clone();
        attackers.push(tokio::spawn(async move {
            let mut raw = Raw::register(&path, &format!("partial.{i}")).await;
            let mut frame = request(0, 0x12, b"");
            frame[5..9].copy_from_slice(&(16u32 << 20).to_le_bytes());
            frame.extend_from_slice(b"bystander\0");
            frame.resize(15 << 20, 0xAA);
            raw.write_lossy(&frame).await;
            // Stalled: the broker must cut the connection off.
            let mut buf = [0u8; 4096];
            loop {
                match tokio::time::timeout(WAIT, raw.stream.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => return,
                    Ok(Ok(_)) => {}
                    Err(_) => panic!("partial.{i} was never cut off"),
                }
            }
        }));
    }
    for attacker in attackers {
        bystander.wait_rounds(1).await;
        attacker.await.unwrap();
    }
    let grown = peak_mib(&broker).saturating_sub(before);
    eprintln!("peak grew by {grown} MiB");
    assert!(grown <= 64, "peak grew by {grown} MiB");
    // The budget is back: a complete maximal frame is delivered.
    let sender = connect(&broker, "whole.sender").await;
    let payload = vec![0xCC; (16 << 20) - "whole.sender".len() - 1];
    let mut events = sender.take_event_channel().unwrap();
    sender
        .send("whole.sender", &payload, QoS::Processed)
        .await
        .unwrap()
        .await
        .expect("a maximal frame is delivered");
    recv_len(&mut events, payload.len(), "the sender").await;
    bystander.finish().await;
}

/// Item: frames dropped under drop-oldest are not counted as written. A target that never
/// reads (queue of 16 frames) gets 1,000 messages: its `w_frames` plus its `dropped_frames`
/// equal the 1,000 frames routed to it, and so do the broker-wide counters' increments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_drops_are_not_counted_as_written() {
    let broker = elbusd(&[
        "-t",
        "30",
        "--overflow",
        "drop-oldest",
        "--queue-size",
        "16",
    ]);
    let path = broker.unix_path().to_owned();
    let bystander = Bystander::start(&path.display().to_string(), "bystander").await;
    let _deaf = Raw::register(&path, "deaf").await;
    let mut sender = Raw::register(&path, "sender").await;
    let mut body = b"deaf\0".to_vec();
    body.extend_from_slice(&[0xD0; 4096]);
    for op_id in 1..=1000 {
        sender.send(op_id, MESSAGE_ACKED, &body).await;
        assert_eq!(
            sender.ack().await[5],
            0x01,
            "drop-oldest accepts the new frame"
        );
        if op_id == 500 {
            bystander.wait_rounds(1).await;
        }
    }
    let mut control = Raw::register(&path, "control").await;
    let clients = client_list(&mut control, 1).await;
    let deaf = &clients["deaf"];
    let (written, dropped) = (field(deaf, "w_frames"), field(deaf, "dropped_frames"));
    assert!(dropped > 0, "nothing was dropped: {deaf}");
    assert_eq!(written + dropped, 1000, "{deaf}");
    assert_eq!(
        field(deaf, "w_bytes"),
        written * body.len() as u64,
        "{deaf}"
    );
    bystander.finish().await;
}

/// Reads delivered frames until EOF; returns the `u32` sequence numbers their payloads start with.
async fn sequence_until_eof<S: AsyncRead + AsyncWrite + Unpin>(raw: &mut Raw<S>) -> Vec<u32> {
    let mut seen = Vec::new();
    loop {
        let mut header = [0u8; 6];
        let read = tokio::time::timeout(WAIT, raw.stream.read_exact(&mut header))
            .await
            .expect("EOF in time");
        if read.is_err() {
            return seen;
        }
        match header[0] {
            0x00 => continue,
            0x12 => {}
            other => panic!("unexpected frame {other:#04x} after {} frames", seen.len()),
        }
        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; len];
        tokio::time::timeout(WAIT, raw.stream.read_exact(&mut body))
            .await
            .expect("a body in time")
            .unwrap_or_else(|err| panic!("the stream ends inside frame {}: {err}", seen.len()));
        let payload = &body[body.iter().position(|&b| b == 0).unwrap() + 1..];
        seen.push(u32::from_le_bytes(payload[..4].try_into().unwrap()));
    }
}

async fn cut_off_consumer_reads_what_was_accepted<S>(
    mut slow: Raw<S>,
    mut sender: Raw<S>,
    bystander: &Bystander,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // From here on `slow` reads nothing until it has been cut off.
    let mut accepted = 0u32;
    for seq in 1u32.. {
        let mut body = b"slow\0".to_vec();
        body.extend_from_slice(&seq.to_le_bytes());
        body.resize(1024, 0x5E);
        sender.send(seq, MESSAGE_ACKED, &body).await;
        match sender.ack().await[5] {
            0x01 => accepted = seq,
            0x77 | 0x71 => break,
            other => panic!("unexpected ACK {other:#04x}"),
        }
        if seq == 100 {
            bystander.wait_rounds(1).await;
        }
        assert!(seq < 1_000_000, "the slow consumer was never cut off");
    }
    let seen = sequence_until_eof(&mut slow).await;
    let expected: Vec<u32> = (1..=accepted).collect();
    assert_eq!(
        seen.len(),
        expected.len(),
        "{accepted} frames accepted, {} read before EOF",
        seen.len()
    );
    assert_eq!(seen, expected, "every accepted frame, in order");
}

/// Item: a consumer disconnected for a full queue reads every frame the broker had accepted for
/// it (what was already in its socket and what was queued), whole and in order, then EOF; over
/// UNIX and TCP. Before the fix it read none of the queued ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_cut_off_for_a_full_queue_first_reads_what_was_accepted() {
    let broker = elbusd(&["-t", "5", "--queue-size", "64"]);
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;
    let path = broker.unix_path();
    let slow = Raw::register(path, "slow").await;
    let sender = Raw::register(path, "sender").await;
    cut_off_consumer_reads_what_was_accepted(slow, sender, &bystander).await;
    let mut slow = Raw::connect_tcp(broker.tcp_addr()).await;
    assert_eq!(slow.handshake("slow").await, Some(0x01));
    let mut sender = Raw::connect_tcp(broker.tcp_addr()).await;
    assert_eq!(sender.handshake("sender").await, Some(0x01));
    cut_off_consumer_reads_what_was_accepted(slow, sender, &bystander).await;
    bystander.finish().await;
}

/// The same traffic against a broker: messages, a broadcast, publications, a subscription and a
/// `.broker` call; returns the `client.list` counters of the two clients involved.
async fn counters_after_traffic(broker: &Broker) -> Vec<(String, [u64; 4])> {
    let path = broker.unix_path();
    let mut a = Raw::register(path, "count.a").await;
    let mut b = Raw::register(path, "count.b").await;
    b.send(1, SUBSCRIBE_ACKED, b"count/#").await;
    assert_eq!(b.ack().await[5], 0x01);
    for op_id in 1..=10 {
        let mut body = b"count.b\0".to_vec();
        body.extend_from_slice(&[op_id as u8; 100]);
        a.send(op_id, MESSAGE_ACKED, &body).await;
        assert_eq!(a.ack().await[5], 0x01);
        b.frame().await;
    }
    a.send(20, 0x53, b"count.*\0broadcast payload").await;
    // The sender gets its ACK and its own broadcast (`busrtd` sends the broadcast first).
    let mut kinds = [a.frame().await.0, a.frame().await.0].map(|header| header[0]);
    kinds.sort_unstable();
    assert_eq!(kinds, [0x13, 0xFE]);
    b.frame().await;
    a.send(21, 0x41, b"count/x\0publication payload").await;
    assert_eq!(a.ack().await[5], 0x01);
    b.frame().await;
    broker_call(&mut a, 5, "test").await;
    // The counters as a third client sees them.
    let mut control = Raw::register(path, "count.control").await;
    let clients = client_list(&mut control, 9).await;
    ["count.a", "count.b"]
        .iter()
        .map(|name| {
            let c = &clients[*name];
            (
                (*name).to_owned(),
                ["r_frames", "r_bytes", "w_frames", "w_bytes"].map(|k| field(c, k)),
            )
        })
        .collect()
}

/// Item: `client.list` counts `w_bytes` (and the other counters) as `busrtd` 0.5.6 does for the
/// same traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_counters_match_busrtd() {
    let started = Instant::now();
    let busrtd = Broker::busrtd();
    let theirs = counters_after_traffic(&busrtd).await;
    drop(busrtd);
    let broker = elbusd(&[]);
    let bystander = Bystander::start(&broker.path(Transport::Unix), "bystander").await;
    let ours = counters_after_traffic(&broker).await;
    bystander.wait_rounds(1).await;
    eprintln!(
        "busrtd {theirs:?}\nelbusd {ours:?} ({:?})",
        started.elapsed()
    );
    assert_eq!(ours, theirs, "[r_frames, r_bytes, w_frames, w_bytes]");
    bystander.finish().await;
}
