//! Client behaviour against a scripted fake broker on a loopback TCP socket: exact handshake and
//! frame bytes, op id order, and everything a misbehaving broker can do.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Client, Config};
use crate::frame::encode_delivery;
use crate::protocol::{ack_frame, RequestHeader, NOP_FRAME, PING_FRAME, REQUEST_HEADER_LEN};
use crate::{AsyncClient, ErrorKind, FrameKind, QoS};

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

/// Accepts one connection and plays the broker's side of the handshake up to the name, which it
/// returns; the caller answers the registration.
async fn accept_until_name(listener: &TcpListener) -> (TcpStream, String) {
    let (mut sock, _) = listener.accept().await.unwrap();
    sock.write_all(&[0xEB, 0x01, 0x00]).await.unwrap();
    let mut echo = [0u8; 3];
    sock.read_exact(&mut echo).await.unwrap();
    assert_eq!(echo, [0xEB, 0x01, 0x00], "the client echoes the greeting");
    sock.write_all(&[0x01]).await.unwrap();
    let mut len = [0u8; 2];
    sock.read_exact(&mut len).await.unwrap();
    let mut name = vec![0u8; u16::from_le_bytes(len) as usize];
    sock.read_exact(&mut name).await.unwrap();
    (sock, String::from_utf8(name).unwrap())
}

/// Accepts one connection and registers it.
async fn accept(listener: &TcpListener) -> (TcpStream, String) {
    let (mut sock, name) = accept_until_name(listener).await;
    sock.write_all(&[0x01]).await.unwrap();
    (sock, name)
}

/// A client named `name` connected to a fake broker, and the broker's end of the socket.
async fn connected(name: &str, config: impl FnOnce(Config) -> Config) -> (Client, TcpStream) {
    let (listener, addr) = listener().await;
    let config = config(Config::new(&addr, name));
    let (client, (sock, registered)) = tokio::join!(Client::connect(&config), accept(&listener));
    assert_eq!(registered, name);
    (client.unwrap(), sock)
}

/// Reads one client→broker frame: its header and body.
async fn read_request(sock: &mut TcpStream) -> (RequestHeader, Vec<u8>) {
    let mut header = [0u8; REQUEST_HEADER_LEN];
    sock.read_exact(&mut header).await.unwrap();
    let header = RequestHeader::decode(&header);
    let mut body = vec![
        0u8;
        if header.is_ping() {
            0
        } else {
            header.len as usize
        }
    ];
    sock.read_exact(&mut body).await.unwrap();
    (header, body)
}

#[tokio::test]
async fn frames_and_acks_match_the_spec_bytes() {
    let (client, mut broker) = connected("a", |c| c).await;
    assert!(client.is_connected());
    assert_eq!(client.name(), "a");
    assert_eq!(client.timeout(), Some(Duration::from_secs(1)));

    // §7: `a` sends `hi` to `b`, op id 1, QoS Processed.
    let confirm = client.send("b", b"hi", QoS::Processed).await.unwrap();
    assert!(confirm.is_pending());
    let mut wire = [0u8; 13];
    broker.read_exact(&mut wire).await.unwrap();
    assert_eq!(wire, [1, 0, 0, 0, 0x52, 4, 0, 0, 0, 0x62, 0, 0x68, 0x69]);
    broker.write_all(&ack_frame(1, 0x01)).await.unwrap();
    confirm.await.unwrap();

    // QoS No: resolved at once, and it still takes the next op id.
    let confirm = client.publish("t/x", b"p", QoS::No).await.unwrap();
    assert!(!confirm.is_pending());
    confirm.await.unwrap();
    let mut wire = [0u8; 14];
    broker.read_exact(&mut wire).await.unwrap();
    assert_eq!(
        wire,
        [2, 0, 0, 0, 0x01, 5, 0, 0, 0, 0x74, 0x2F, 0x78, 0, 0x70]
    );

    // An error code in the ACK is the confirmation's error.
    let confirm = client
        .send("nobody", b"", QoS::RealtimeProcessed)
        .await
        .unwrap();
    let (header, body) = read_request(&mut broker).await;
    assert_eq!((header.op_id, header.flags), (3, 0xD2));
    assert_eq!(body, b"nobody\0");
    broker.write_all(&ack_frame(3, 0x71)).await.unwrap();
    assert_eq!(confirm.await.unwrap_err().kind(), ErrorKind::NotRegistered);

    // The remaining ops and their bodies; only the QoS 1 one waits for an ACK.
    let confirms = [
        client.zc_send("b", b"\x01\x02", b"xy", QoS::No).await,
        client.send_broadcast("p.*", b"m", QoS::No).await,
        client.publish_for("t", "b", b"p", QoS::No).await,
        client.subscribe_bulk(&["a/#", "b"], QoS::Processed).await,
        client.unsubscribe("a/#", QoS::No).await,
        client.exclude_bulk(&["x", "y"], QoS::No).await,
        client.unexclude("x", QoS::No).await,
    ];
    let pending: Vec<bool> = confirms
        .iter()
        .map(|confirm| confirm.as_ref().unwrap().is_pending())
        .collect();
    assert_eq!(pending, [false, false, false, true, false, false, false]);
    let expected: [(u8, &[u8]); 7] = [
        (0x12, b"b\0\x01\x02xy"),
        (0x13, b"p.*\0m"),
        (0x06, b"t\0b\0p"),
        (0x42, b"a/#\0b"),
        (0x03, b"a/#"),
        (0x04, b"x\0y"),
        (0x05, b"x"),
    ];
    for (n, (flags, body)) in expected.into_iter().enumerate() {
        let (header, got) = read_request(&mut broker).await;
        assert_eq!(header.op_id, 4 + n as u32);
        assert_eq!(header.flags, flags);
        assert_eq!(got, body);
    }
    // A topic with NUL would split on the broker: refused locally.
    assert_eq!(
        client.subscribe("a\0b", QoS::No).await.unwrap_err().kind(),
        ErrorKind::Data
    );
}

#[tokio::test]
async fn op_ids_reach_the_wire_in_order_under_concurrency() {
    let (client, mut broker) = connected("c", |c| c.queue_size(4)).await;
    let senders: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send("x", b"payload", QoS::No)
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            })
        })
        .collect();
    for expected in 1..=200u32 {
        let (header, _) = read_request(&mut broker).await;
        assert_eq!(header.op_id, expected);
    }
    for sender in senders {
        sender.await.unwrap();
    }
}

#[tokio::test]
async fn registration_results() {
    for (code, kind) in [
        (0x72, ErrorKind::Data),
        (0x76, ErrorKind::Busy),
        (0x71, ErrorKind::NotRegistered),
        (0x79, ErrorKind::Access),
    ] {
        let (listener, addr) = listener().await;
        let broker = async {
            let (mut sock, _) = accept_until_name(&listener).await;
            sock.write_all(&[code]).await.unwrap();
            sock
        };
        let config = Config::new(&addr, "n");
        let (client, _sock) = tokio::join!(Client::connect(&config), broker);
        assert_eq!(client.unwrap_err().kind(), kind);
    }

    // No answer at all (what busrtd does for a non-UTF-8 name): a clear EOF error.
    let (listener, addr) = listener().await;
    let broker = async { drop(accept_until_name(&listener).await) };
    let config = Config::new(&addr, "n");
    let (client, ()) = tokio::join!(Client::connect(&config), broker);
    let err = client.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Eof);
    assert!(err.to_string().contains("registration"), "{err}");
}

#[tokio::test]
async fn bad_greetings_are_refused_locally() {
    for greeting in [[0xEA, 0x01, 0x00], [0xEB, 0x02, 0x00]] {
        let (listener, addr) = listener().await;
        let broker = async {
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.write_all(&greeting).await.unwrap();
            sock
        };
        let config = Config::new(&addr, "n");
        let (client, _sock) = tokio::join!(Client::connect(&config), broker);
        assert_eq!(client.unwrap_err().kind(), ErrorKind::NotSupported);
    }
}

#[tokio::test]
async fn a_silent_broker_times_the_handshake_out() {
    let (listener, addr) = listener().await;
    let config = Config::new(&addr, "n").timeout(Duration::from_millis(50));
    // The listener accepts into its backlog but never greets.
    let err = Client::connect(&config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    drop(listener);
}

#[tokio::test]
async fn names_over_65535_bytes_are_refused_before_connecting() {
    // Nothing listens on port 1; the name check comes first.
    let name = "x".repeat(65536);
    let err = Client::connect(&Config::new("127.0.0.1:1", &name))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Data);
}

#[tokio::test]
async fn inbound_frames_nops_and_orphaned_acks() {
    let (client, mut broker) = connected("r", |c| c).await;
    let mut events = client.take_event_channel().unwrap();
    assert!(client.take_event_channel().is_none());
    let mut wire = Vec::new();
    wire.extend_from_slice(&NOP_FRAME);
    wire.extend_from_slice(&ack_frame(77, 0x01));
    wire.extend_from_slice(
        &encode_delivery(FrameKind::Message, "s%%1", None, &[b"hi"], true).unwrap(),
    );
    wire.extend_from_slice(&NOP_FRAME);
    wire.extend_from_slice(
        &encode_delivery(FrameKind::Broadcast, "s", None, &[b""], false).unwrap(),
    );
    wire.extend_from_slice(
        &encode_delivery(FrameKind::Publish, ".broker", Some("t/x"), &[b"p"], false).unwrap(),
    );
    broker.write_all(&wire).await.unwrap();

    let frame = events.recv().await.unwrap();
    assert_eq!(frame.kind(), FrameKind::Message);
    assert_eq!(frame.sender(), "s%%1");
    assert_eq!(frame.primary_sender(), "s");
    assert_eq!(frame.payload(), b"hi");
    assert!(frame.is_realtime());
    let frame = events.recv().await.unwrap();
    assert_eq!(frame.kind(), FrameKind::Broadcast);
    assert_eq!(frame.payload(), b"");
    assert!(!frame.is_realtime());
    let frame = events.recv().await.unwrap();
    assert_eq!(frame.kind(), FrameKind::Publish);
    assert_eq!(frame.topic(), Some("t/x"));
    assert_eq!(frame.payload(), b"p");
    assert!(client.is_connected());
}

/// Sends a QoS 1 frame the fake broker never ACKs, feeds the client `garbage` (then EOF if
/// `then_eof`), and checks the client comes down whole: disconnected, the ACK failed with Eof, the
/// event channel ended.
async fn assert_disconnects_on(garbage: &[u8], then_eof: bool) {
    let (client, mut broker) = connected("g", |c| c.timeout(Duration::from_secs(30))).await;
    let mut events = client.take_event_channel().unwrap();
    let confirm = client.send("x", b"", QoS::Processed).await.unwrap();
    read_request(&mut broker).await;
    broker.write_all(garbage).await.unwrap();
    if then_eof {
        broker.shutdown().await.unwrap();
    }
    assert_eq!(confirm.await.unwrap_err().kind(), ErrorKind::Eof);
    assert!(!client.is_connected());
    assert!(events.recv().await.is_none());
    assert_eq!(
        client.send("x", b"", QoS::No).await.unwrap_err().kind(),
        ErrorKind::Eof
    );
    assert_eq!(client.ping().await.unwrap_err().kind(), ErrorKind::Eof);
}

#[tokio::test]
async fn an_unknown_frame_kind_disconnects() {
    assert_disconnects_on(&[0x55, 0, 0, 0, 0, 0], false).await;
}

#[tokio::test]
async fn a_body_without_nul_disconnects() {
    assert_disconnects_on(&[0x12, 3, 0, 0, 0, 0, b'a', b'b', b'c'], false).await;
    // A publication needs two NULs.
    assert_disconnects_on(&[0x01, 3, 0, 0, 0, 0, b'a', 0, b'c'], false).await;
}

#[tokio::test]
async fn broker_eof_disconnects() {
    // EOF in the middle of a header, and in the middle of a body.
    assert_disconnects_on(&[], true).await;
    assert_disconnects_on(&[0x12, 9], true).await;
    assert_disconnects_on(&[0x12, 9, 0, 0, 0, 0, b'a'], true).await;
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let (client, mut broker) = connected("t", |c| c.timeout(Duration::from_millis(50))).await;
    let mut events = client.take_event_channel().unwrap();
    // A 4 GiB - 1 length that is never followed by the body: no huge allocation, a timeout.
    broker
        .write_all(&[0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0, b'a'])
        .await
        .unwrap();
    assert!(events.recv().await.is_none());
    assert!(!client.is_connected());
    drop(broker);
}

#[tokio::test]
async fn pings_are_nine_zero_bytes() {
    let (client, mut broker) = connected("p", |c| c).await;
    client.ping().await.unwrap();
    let mut wire = [0xAAu8; 9];
    broker.read_exact(&mut wire).await.unwrap();
    assert_eq!(wire, PING_FRAME);

    let (_client, mut broker) =
        connected("q", |c| c.ping_interval(Some(Duration::from_millis(5)))).await;
    for _ in 0..2 {
        let mut wire = [0xAAu8; 9];
        broker.read_exact(&mut wire).await.unwrap();
        assert_eq!(wire, PING_FRAME);
    }
}

#[tokio::test]
async fn disconnect_writes_what_is_queued_then_closes() {
    let (client, mut broker) = connected("d", |c| c).await;
    let mut events = client.take_event_channel().unwrap();
    for _ in 0..3 {
        client
            .publish("t", b"p", QoS::No)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let pending = client.send("x", b"", QoS::Processed).await.unwrap();
    client.disconnect().await;
    assert!(!client.is_connected());
    for expected in 1..=4 {
        assert_eq!(read_request(&mut broker).await.0.op_id, expected);
    }
    let mut rest = Vec::new();
    broker.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the queued frames: {rest:?}");
    assert_eq!(pending.await.unwrap_err().kind(), ErrorKind::Eof);
    assert!(events.recv().await.is_none());
    assert_eq!(
        client.publish("t", b"", QoS::No).await.unwrap_err().kind(),
        ErrorKind::Eof
    );
    // Twice is harmless.
    client.disconnect().await;
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_socket() {
    let (client, mut broker) =
        connected("e", |c| c.ping_interval(Some(Duration::from_secs(60)))).await;
    let clone = client.clone();
    clone
        .publish("t", b"p", QoS::No)
        .await
        .unwrap()
        .await
        .unwrap();
    drop(client);
    drop(clone);
    assert_eq!(read_request(&mut broker).await.0.op_id, 1);
    let mut rest = Vec::new();
    broker.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_write_that_times_out_disconnects() {
    let (client, broker) =
        connected("w", |c| c.timeout(Duration::from_millis(50)).queue_size(1)).await;
    let pending = client.send("x", b"", QoS::Processed).await.unwrap();
    // The broker never reads: the socket buffers fill, a write times out, the client closes.
    let payload = vec![0u8; 1 << 20];
    while client.send("x", &payload, QoS::No).await.is_ok() {}
    assert!(!client.is_connected());
    assert_eq!(pending.await.unwrap_err().kind(), ErrorKind::Eof);
    drop(broker);
}

#[tokio::test]
async fn secondaries_are_named_from_zero_and_cannot_nest() {
    let (listener, addr) = listener().await;
    let config = Config::new(&addr, "prim");
    let (primary, _sock) = tokio::join!(Client::connect(&config), accept(&listener));
    let primary = primary.unwrap();
    for n in 0..2 {
        let (secondary, (_sock, name)) =
            tokio::join!(primary.register_secondary(), accept(&listener));
        assert_eq!(name, format!("prim%%{n}"));
        let secondary = secondary.unwrap();
        assert_eq!(secondary.name(), name);
        assert_eq!(
            secondary.register_secondary().await.unwrap_err().kind(),
            ErrorKind::NotSupported
        );
    }
}

#[tokio::test]
async fn large_sends_wait_for_the_socket_instead_of_piling_up() {
    let (client, mut broker) = connected("big", |c| {
        c.timeout(Duration::from_secs(30)).queue_size(256)
    })
    .await;
    // A frame larger than the whole byte budget is admitted alone.
    let huge = vec![1u8; super::state::QUEUED_BYTES + 1];
    let confirm = client.send("x", &huge, QoS::No).await.unwrap();
    confirm.await.unwrap();
    let (_, body) = read_request(&mut broker).await;
    assert_eq!(body.len(), 2 + huge.len());
    // The broker reads nothing: sends stop completing once the budget and the kernel's
    // buffers are full, long before the 256 frames the queue has room for.
    let payload = vec![2u8; 1 << 20];
    let mut queued = 0;
    let blocked = loop {
        let send = Box::pin(client.send("x", &payload, QoS::No));
        match tokio::time::timeout(Duration::from_millis(300), send).await {
            Ok(confirm) => confirm.unwrap().await.unwrap(),
            Err(_) => break Box::pin(client.send("x", &payload, QoS::No)),
        }
        queued += 1;
        assert!(
            queued < 64,
            "{queued} MiB queued: the byte budget does not hold"
        );
    };
    // Reading makes room: the waiting send goes through, and every frame arrives whole.
    let expected = 2 + payload.len();
    let reader = tokio::spawn(async move {
        for _ in 0..=queued {
            let (_, body) = read_request(&mut broker).await;
            assert_eq!(body.len(), expected);
        }
        broker
    });
    blocked.await.unwrap().await.unwrap();
    let _broker = reader.await.unwrap();
}
