//! Property tests of the frame decoders: on any bytes `RequestHeader::decode`, `Command::decode`
//! and `Frame::from_body` / `Frame::from_wire` return a value or an error, never panic; and what
//! clients and the broker encode decodes back to the same thing.
//!
//! Topic and mask matching has its own property tests against the reference matchers
//! (`src/matching/`), so it is not repeated here.

use bytes::{Bytes, BytesMut};
use elbus::command::{encode_request, join_topics, Command};
use elbus::frame::encode_delivery;
use elbus::protocol::{FrameKind, Op, QoS, RequestHeader, REQUEST_HEADER_LEN};
use elbus::Frame;
use proptest::prelude::*;

const OPS: [Op; 9] = [
    Op::Nop,
    Op::Publish,
    Op::Subscribe,
    Op::Unsubscribe,
    Op::Exclude,
    Op::Unexclude,
    Op::PublishFor,
    Op::Message,
    Op::Broadcast,
];

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(&OPS[..])
}

fn qos() -> impl Strategy<Value = QoS> {
    (0u8..4).prop_map(QoS::from_bits)
}

/// A name, topic or mask as clients send them: any UTF-8 without NUL.
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,24}"
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..256)
}

fn delivered_kind() -> impl Strategy<Value = FrameKind> {
    prop::sample::select(&[FrameKind::Message, FrameKind::Broadcast, FrameKind::Publish][..])
}

/// Arbitrary bytes biased towards the separators and invalid UTF-8 the decoders care about.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            1 => Just(0u8),
            1 => prop::sample::select(&[0xC0u8, 0xED, 0xF8, 0xFF, b'/', b'#', b'+'][..]),
        ],
        0..128,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_header_decode_encode_round_trips(bytes in any::<[u8; REQUEST_HEADER_LEN]>()) {
        let header = RequestHeader::decode(&bytes);
        prop_assert_eq!(header.encode(), bytes);
        // Every flags byte either is a ping, or decodes to an op or a clean error.
        let op = header.op();
        if !header.is_ping() && op.is_err() {
            prop_assert!(!OPS.iter().any(|&o| o as u8 == header.flags & 0x3F));
        }
    }

    #[test]
    fn request_header_encode_decode_round_trips(
        op_id in any::<u32>(), op in op(), qos in qos(), len in any::<u32>()
    ) {
        let header = RequestHeader::new(op_id, op, qos, len);
        let decoded = RequestHeader::decode(&header.encode());
        prop_assert_eq!(decoded, header);
        prop_assert_eq!(decoded.qos(), qos);
        if !decoded.is_ping() {
            prop_assert_eq!(decoded.op().unwrap(), op);
        }
    }

    #[test]
    fn command_decode_never_panics(op in op(), body in hostile_bytes()) {
        let _ = Command::decode(op, &body);
    }

    #[test]
    fn messages_round_trip(
        op_id in any::<u32>(), qos in qos(), target in text(), data in payload(),
        broadcast in any::<bool>(),
    ) {
        let op = if broadcast { Op::Broadcast } else { Op::Message };
        let mut buf = BytesMut::new();
        encode_request(&mut buf, op_id, op, qos, &[target.as_bytes(), &[0], &data]).unwrap();
        let header = RequestHeader::decode(buf[..REQUEST_HEADER_LEN].try_into().unwrap());
        prop_assert_eq!(header.op_id, op_id);
        prop_assert_eq!(header.len as usize, buf.len() - REQUEST_HEADER_LEN);
        let command = Command::decode(header.op().unwrap(), &buf[REQUEST_HEADER_LEN..]).unwrap();
        let want = if broadcast {
            Command::Broadcast { mask: &target, payload: &data }
        } else {
            Command::Message { target: &target, payload: &data }
        };
        prop_assert_eq!(command, want);
    }

    #[test]
    fn publications_round_trip(topic in text(), receiver in text(), data in payload()) {
        let mut buf = BytesMut::new();
        encode_request(&mut buf, 1, Op::Publish, QoS::No, &[topic.as_bytes(), &[0], &data])
            .unwrap();
        prop_assert_eq!(
            Command::decode(Op::Publish, &buf[REQUEST_HEADER_LEN..]).unwrap(),
            Command::Publish { topic: &topic, payload: &data }
        );
        let body = [topic.as_bytes(), &[0], receiver.as_bytes(), &[0], &data].concat();
        prop_assert_eq!(
            Command::decode(Op::PublishFor, &body).unwrap(),
            Command::PublishFor { topic: &topic, receiver: &receiver, payload: &data }
        );
    }

    #[test]
    fn topic_lists_round_trip(topics in prop::collection::vec(text(), 1..8)) {
        let body = join_topics(&topics).unwrap();
        for op in [Op::Subscribe, Op::Unsubscribe, Op::Exclude, Op::Unexclude] {
            let list = match Command::decode(op, &body).unwrap() {
                Command::Subscribe(list)
                | Command::Unsubscribe(list)
                | Command::Exclude(list)
                | Command::Unexclude(list) => list,
                other => panic!("{op:?} decoded as {other:?}"),
            };
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), topics.clone());
        }
    }

    #[test]
    fn frame_decoders_never_panic(kind in any::<u8>(), realtime in any::<bool>(), body in hostile_bytes()) {
        if let Ok(kind) = FrameKind::from_u8(kind) {
            if let Ok(frame) = Frame::from_body(kind, realtime, Bytes::from(body.clone())) {
                // Accessors of a decoded frame are total.
                let _ = (frame.sender(), frame.primary_sender(), frame.topic(), frame.payload());
            }
        }
        let _ = Frame::from_wire(Bytes::from(body));
    }

    #[test]
    fn delivered_frames_round_trip(
        kind in delivered_kind(), sender in text(), topic in text(), data in payload(),
        realtime in any::<bool>(),
    ) {
        let topic = (kind == FrameKind::Publish).then_some(topic.as_str());
        let wire = encode_delivery(kind, &sender, topic, &[&data], realtime).unwrap();
        let frame = Frame::from_wire(wire.clone()).unwrap();
        prop_assert_eq!(frame.kind(), kind);
        prop_assert_eq!(frame.sender(), sender.as_str());
        prop_assert_eq!(frame.topic(), topic);
        prop_assert_eq!(frame.payload(), &data[..]);
        prop_assert_eq!(frame.is_realtime(), realtime);
        prop_assert_eq!(Frame::from_body(kind, realtime, wire.slice(6..)).unwrap(), frame);
    }
}
