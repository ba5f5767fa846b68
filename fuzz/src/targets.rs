//! The bodies of the fuzz targets, shared by the libFuzzer binaries (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`elbus/tests/fuzz_corpus.rs`), so `cargo test` runs every corpus file
//! through exactly the code the fuzzer runs.
//!
//! Each function takes arbitrary bytes, must never panic on them (except on a broken invariant,
//! which is the finding), and checks what can be checked: round trips and agreement with a
//! reference.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use elbus::broker::{Broker, ServerConfig};
use elbus::command::{encode_request, Command};
use elbus::frame::encode_delivery;
use elbus::matching::{mask_matches, topic_matches, NameIndex, TopicIndex};
use elbus::protocol::{FrameKind, Op, QoS, RequestHeader, REQUEST_HEADER_LEN};
use elbus::rpc::{RpcEvent, RpcEventKind};
use elbus::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The decoders of both directions: request headers, command bodies and delivered frames.
///
/// The first byte picks the op and the frame kind; the rest is the body. Whatever decodes must
/// encode back to the same bytes.
pub fn frame(data: &[u8]) {
    if data.len() >= REQUEST_HEADER_LEN {
        let bytes: [u8; REQUEST_HEADER_LEN] = data[..REQUEST_HEADER_LEN].try_into().unwrap();
        let header = RequestHeader::decode(&bytes);
        assert_eq!(header.encode(), bytes, "request header round trip");
        let _ = (header.op(), header.qos(), header.is_ping());
    }
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if let Ok(op) = Op::from_u8(selector & 0x3F) {
        match Command::decode(op, body) {
            // An ignored op-0 frame keeps nothing of its body to compare.
            Ok(Command::Ignored) => assert!(body.contains(&0)),
            Ok(command) => {
                assert_eq!(
                    reencode_command(op, &command),
                    body,
                    "{op:?} body round trip"
                )
            }
            Err(_) => {}
        }
    }
    let kind = match selector >> 6 {
        0 => FrameKind::Message,
        1 => FrameKind::Broadcast,
        2 => FrameKind::Publish,
        _ => FrameKind::Ack,
    };
    let realtime = selector & 0x20 != 0;
    if let Ok(frame) = Frame::from_body(kind, realtime, Bytes::copy_from_slice(body)) {
        let wire = encode_delivery(
            frame.kind(),
            frame.sender(),
            frame.topic(),
            &[frame.payload()],
            frame.is_realtime(),
        )
        .expect("a decoded frame encodes");
        assert_eq!(&wire[6..], body, "delivered body round trip");
        let again = Frame::from_wire(wire).expect("an encoded frame decodes");
        assert_eq!(again, frame, "delivered frame round trip");
    }
    // The whole input as a wire frame (6-byte header included).
    let _ = Frame::from_wire(Bytes::copy_from_slice(data)).map(|f| format!("{f:?}"));
}

/// The body bytes a decoded command came from, rebuilt the way clients encode them.
fn reencode_command(op: Op, command: &Command<'_>) -> Vec<u8> {
    let pieces: Vec<&[u8]> = match command {
        Command::Ignored => return Vec::new(),
        Command::Publish { topic, payload } => vec![topic.as_bytes(), &[0], payload],
        Command::Message { target, payload } => vec![target.as_bytes(), &[0], payload],
        Command::Broadcast { mask, payload } => vec![mask.as_bytes(), &[0], payload],
        Command::PublishFor {
            topic,
            receiver,
            payload,
        } => vec![topic.as_bytes(), &[0], receiver.as_bytes(), &[0], payload],
        Command::Subscribe(list)
        | Command::Unsubscribe(list)
        | Command::Exclude(list)
        | Command::Unexclude(list) => {
            let topics: Vec<&str> = list.iter().collect();
            let mut body = Vec::new();
            for (i, topic) in topics.iter().enumerate() {
                if i > 0 {
                    body.push(0);
                }
                body.extend_from_slice(topic.as_bytes());
            }
            return body;
        }
    };
    let mut buf = BytesMut::new();
    encode_request(&mut buf, 0, op, QoS::No, &pieces).expect("small body");
    buf[REQUEST_HEADER_LEN..].to_vec()
}

thread_local! {
    /// One runtime per fuzzing thread: building one per input would dominate the run time.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
}

/// A whole broker session over an in-memory pipe: the input is everything the client sends
/// (greeting echo, name, then frames), after which the client closes its side.
///
/// The broker must answer with its greeting, end the session (no hang: libFuzzer's timeout
/// catches one) and leave no client registered behind.
pub fn handshake(data: &[u8]) {
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let broker = Broker::new();
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            // Small limits keep each run cheap; the timeout only matters if something hangs.
            let config = ServerConfig::new()
                .timeout(Duration::from_secs(5))
                .max_frame_size(64 * 1024);
            let session = {
                let broker = broker.clone();
                tokio::spawn(async move { broker.serve_stream(server, config, "fuzz").await })
            };
            let (mut rd, mut wr) = tokio::io::split(&mut client);
            let send = async {
                // The broker may close early (a protocol error): later writes then fail.
                let _ = wr.write_all(data).await;
                let _ = wr.shutdown().await;
            };
            let mut received = Vec::new();
            let receive = rd.read_to_end(&mut received);
            let ((), read) = tokio::join!(send, receive);
            let _ = read;
            session.await.expect("the session task panicked");
            assert_eq!(received.get(..3), Some(&[0xEB, 0x01, 0x00][..]), "greeting");
            assert!(
                broker.client_list().is_empty(),
                "a client stayed registered after its connection ended"
            );
        })
    });
}

/// The routing indexes against the reference matchers.
///
/// Lines of the input: the first is a topic and a client-name mask separated by a tab; the others
/// are subscriptions (also inserted as client names). Both tries must return exactly what the
/// reference rules select from the plain list.
pub fn matchers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let probe = lines.next().unwrap_or_default();
    let (topic, mask) = probe.split_once('\t').unwrap_or((probe, probe));
    let patterns: Vec<&str> = lines.take(64).collect();

    let mut topics = TopicIndex::new();
    for (key, pattern) in patterns.iter().enumerate() {
        topics.insert(pattern, key);
    }
    let mut got = Vec::new();
    topics.matches(topic, &mut got);
    let want: Vec<usize> = (0..patterns.len())
        .filter(|&key| topic_matches(patterns[key], topic))
        .collect();
    assert_eq!(got, want, "topic {topic:?} against {patterns:?}");

    let mut names = NameIndex::new();
    let mut live: Vec<(&str, usize)> = Vec::new();
    for (key, name) in patterns.iter().enumerate() {
        // Names are unique in the registry; a repeated one replaces nothing here.
        if !live.iter().any(|(n, _)| n == name) {
            names.insert(name, key);
            live.push((name, key));
        }
    }
    let mut got = Vec::new();
    names.matches(mask, &mut got);
    got.sort_unstable();
    let want: Vec<usize> = live
        .iter()
        .filter(|(name, _)| mask_matches(mask, name))
        .map(|&(_, key)| key)
        .collect();
    assert_eq!(got, want, "mask {mask:?} against {live:?}");

    for (key, pattern) in patterns.iter().enumerate() {
        assert!(topics.remove(pattern, key), "remove {pattern:?}");
    }
    assert!(topics.is_empty());
    for (name, _) in &live {
        assert!(names.remove(name));
    }
    assert!(names.is_empty());
}

/// The RPC payload parser (`protocol.md` §9.1): the input is a message payload. Whatever parses
/// must expose exactly the bytes the layout puts where; broadcasts and publications never parse.
pub fn rpc(data: &[u8]) {
    let wire = encode_delivery(FrameKind::Message, "caller", None, &[data], false)
        .expect("a small frame encodes");
    let frame = Frame::from_wire(wire).expect("a message decodes");
    let parsed = RpcEvent::parse(frame);
    assert_eq!(
        parsed.is_ok(),
        rpc_well_formed(data),
        "{data:02X?}: {parsed:?}"
    );
    if let Ok(event) = parsed {
        let id = || u32::from_le_bytes(data[1..5].try_into().unwrap());
        match event.kind() {
            RpcEventKind::Notification => {
                assert_eq!(data[0], 0x00);
                assert_eq!(event.payload(), &data[1..]);
            }
            RpcEventKind::Request => {
                assert_eq!(data[0], 0x01);
                assert_eq!(event.id(), id());
                let method = event.method();
                assert!(!method.contains(&0));
                assert_eq!(&data[5..5 + method.len()], method);
                assert_eq!(data[5 + method.len()], 0);
                assert_eq!(event.payload(), &data[6 + method.len()..]);
                assert_eq!(
                    event.parse_method().is_ok(),
                    std::str::from_utf8(method).is_ok()
                );
            }
            RpcEventKind::Reply => {
                assert_eq!(data[0], 0x11);
                assert_eq!(event.id(), id());
                assert_eq!(event.payload(), &data[5..]);
                assert!(event.to_error().is_none());
            }
            RpcEventKind::ErrorReply => {
                assert_eq!(data[0], 0x12);
                assert_eq!(event.id(), id());
                assert_eq!(event.code(), i16::from_le_bytes([data[5], data[6]]));
                assert_eq!(event.payload(), &data[7..]);
                assert_eq!(event.to_error().map(|e| e.code()), Some(event.code()));
            }
        }
        assert_eq!(&*event.payload_bytes(), event.payload());
        let _ = format!("{event:?}");
    }
    for kind in [FrameKind::Broadcast, FrameKind::Publish] {
        let topic = (kind == FrameKind::Publish).then_some("t");
        let wire = encode_delivery(kind, "caller", topic, &[data], false).unwrap();
        assert!(RpcEvent::parse(Frame::from_wire(wire).unwrap()).is_err());
    }
}

/// The minimum lengths of §9.1, written from the spec rather than from the parser.
fn rpc_well_formed(data: &[u8]) -> bool {
    match data.first() {
        Some(0x00) => true,
        Some(0x01) => data.len() >= 6 && data[5..].contains(&0),
        Some(0x11) => data.len() >= 5,
        Some(0x12) => data.len() >= 7,
        _ => false,
    }
}
